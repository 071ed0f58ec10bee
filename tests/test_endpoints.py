"""One key rule for every OpenAI client the project makes (va_safetybench/endpoints.py): an endpoint on this
machine needs no API key, any other needs one, and its absence is refused before the first request, naming the
variable. Each client is exercised through real HTTP to a local server (tests/fake_openai.py) without a key."""

from __future__ import annotations

import pytest

from judges.gpt import GPTJudge
from judges.registry import make_judge
from sea_align.extract import LLMExtractor
from va_safetybench.endpoints import api_key, is_local
from va_safetybench.errors import EndpointMisconfigured, InputError
from va_safetybench.media import scene_prompt
from va_safetybench.models.base import GenerationRequest, GenerationSettings
from va_safetybench.models.openai_backend import OpenAIBackend

from .fake_openai import FakeOpenAI, chat_completion

UNSET = "VA_TEST_UNSET_KEY"


@pytest.fixture(autouse=True)
def no_keys(monkeypatch):
    for name in (UNSET, "OPENAI_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize(
    "url,local",
    [
        ("http://127.0.0.1:8000/v1", True),
        ("http://127.8.9.10/v1", True),
        ("http://localhost:8000/v1", True),
        ("http://LOCALHOST./v1", True),
        ("http://vllm.localhost/v1", True),
        ("http://[::1]:8000/v1", True),
        ("http://0.0.0.0:8000/v1", True),
        ("https://api.openai.com/v1", False),
        ("http://10.0.0.5:8000/v1", False),  # another machine on the network: its key is its business
        ("http://localhost.example.com/v1", False),
        (None, False),  # OpenAI's own endpoint
    ],
)
def test_which_endpoints_count_as_local(url, local):
    assert is_local(url) is local


def test_the_rule_reads_the_named_variable_and_names_it_when_missing(monkeypatch):
    assert api_key("http://127.0.0.1:1/v1", UNSET, "x") == "no-key"
    with pytest.raises(EndpointMisconfigured, match=f"https://gw.example/v1 needs an API key: .*{UNSET}"):
        api_key("https://gw.example/v1", UNSET, "x")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://localhost:9/v1")  # the endpoint the client really reaches
    assert api_key(None, UNSET, "x") == "no-key"
    monkeypatch.setenv(UNSET, "sk-real")
    assert api_key("https://gw.example/v1", UNSET, "x") == "sk-real"
    assert issubclass(EndpointMisconfigured, InputError)  # exit 2 like any bad input (cli.EXIT_STATUS)


def test_every_client_refuses_a_remote_endpoint_without_a_key(tmp_path):
    remote = "https://gateway.example.com/v1"
    makers = [
        lambda: OpenAIBackend("m", base_url=remote, api_key_env=UNSET),
        lambda: GPTJudge("m", base_url=remote, api_key_env=UNSET, use_cache=False),
        lambda: make_judge("gpt:m", base_url=remote, api_key_env=UNSET, use_cache=False),
        lambda: LLMExtractor("m", base_url=remote, api_key_env=UNSET, cache_dir=tmp_path),
        lambda: scene_prompt.scene_prompts(["a phrase"], "m", tmp_path),  # OpenAI's endpoint, OPENAI_API_KEY unset
    ]
    for make in makers:
        with pytest.raises(EndpointMisconfigured, match="needs an API key"):
            make()


def test_every_client_talks_to_a_local_server_without_a_key(tmp_path, monkeypatch):
    with FakeOpenAI(lambda body: (200, chat_completion('{"type": "activity", "phrase": "x"}'))) as server:
        url = server.base_url.replace("127.0.0.1", "localhost")
        backend = OpenAIBackend("m", base_url=url, api_key_env=UNSET, max_retries=0)
        assert backend.generate([GenerationRequest("hi")], GenerationSettings(max_new_tokens=4))[0].startswith("{")
        judge = GPTJudge("m", base_url=server.base_url, api_key_env=UNSET, use_cache=False)
        from judges.base import JudgeInput

        assert judge.judge([JudgeInput("mmsb_typo", "01-Illegal_Activitiy", "p", "r")])[0].label == "error"
        LLMExtractor("m", base_url=server.base_url, api_key_env=UNSET, cache_dir=tmp_path)("do x now")
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        assert scene_prompt.scene_prompts(["p"], "m", tmp_path)["p"].startswith("{")
    assert len(server.requests) == 4
    sent = [{k.lower(): v for k, v in h.items()}.get("authorization") for h in server.headers]
    assert set(sent) == {"Bearer no-key"}  # the placeholder, never another variable's key
