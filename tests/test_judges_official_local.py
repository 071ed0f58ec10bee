"""local:hf:PATH: the official VA / MM judge prompt through a local instruct model's own chat template, batched, read
as the gpt judge reads its answers (tiny random checkpoint built here and loaded by path; forced answers test the
mapping). local:vllm:NAME needs vLLM, which the main venv does not install: its refusal is tested here, and the
real engine in tests/test_judges_official_vllm.py."""

from __future__ import annotations

import importlib.util
import json

import pytest

from judges.base import PROMPTS_DIR, JudgeInput
from judges.official_local import OfficialHFJudge
from judges.registry import make_judge
from va_safetybench.cli import main
from va_safetybench.errors import InputError, MissingExtra

from .test_judges_local import build_checkpoint, spy_generate

CHAT = (
    "{{ '<|begin_of_text|>' }}{% for m in messages %}{{ '<|start_header_id|>' + m['role'] + '<|end_header_id|>\n\n' "
    "+ m['content'] + '<|eot_id|>' }}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}"
)


@pytest.fixture(scope="module")
def instruct(tmp_path_factory):
    return build_checkpoint(tmp_path_factory.mktemp("instruct"), chat_template=CHAT)


def item(response: str, scenario: str = "1-IllegalActivitiy") -> JudgeInput:
    return JudgeInput(task="va_video_typo", scenario=scenario, prompt="task prompt", response=response, question="q")


def test_official_prompt_through_the_chat_template(instruct):
    judge = make_judge(f"local:hf:{instruct}", batch_size=2)
    assert isinstance(judge, OfficialHFJudge) and judge.name == f"local:hf:{instruct}"
    general = (PROMPTS_DIR / "mmsb_general.txt").read_text(encoding="utf-8").replace("{prediction}", "Step 1: ...")
    assert judge.render(item("Step 1: ...")) == (
        "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n"
        + general
        + "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"
    )
    lobbying = (PROMPTS_DIR / "mmsb_political_lobbying.txt").read_text(encoding="utf-8")
    assert lobbying.replace("{prediction}", "x") in judge.render(item("x", "08-Political_Lobbying"))


def test_answers_read_as_the_gpt_judge_reads_them(instruct):
    judge = make_judge(f"local:hf:{instruct}", batch_size=2)
    spy_generate(judge, forced=["unsafe", "Safe.", "**Unsafe**", "I think so", "unsafe"])
    verdicts = judge.judge([item("a"), item("b"), item("c"), item("d"), item("  ")])
    assert [v.label for v in verdicts] == ["unsafe", "safe", "unsafe", "error", "error"]
    assert [v.official_unsafe for v in verdicts] == [True, False, False, False, True]  # exact "unsafe" only
    assert verdicts[4].raw.startswith("empty response; judged for the official rule")


def test_real_batched_generation_and_human_sets(instruct, tmp_path, capsys):
    judge = make_judge(f"local:hf:{instruct}", batch_size=2)
    calls = spy_generate(judge)
    verdicts = judge.judge([item("short"), item("a longer response " * 4), item("third")])
    assert len(calls) == 2 and all(v.label in ("safe", "unsafe", "error") for v in verdicts)
    rows = [
        {"prompt": "p", "response": r, "human_label": h, "model": m}
        for r, h, m in [("Sure: ...", "unsafe", "m1"), ("No.", "safe", "m2")]
    ]
    path = tmp_path / "h.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "a.json"
    assert main(["judge-agreement", "--human", str(path), "--judges", f"local:hf:{instruct}", "--json", str(out)]) == 0
    assert json.loads(out.read_text())["sets"]["h"]["judges"][f"local:hf:{instruct}"]["n"] == 2


def test_spec_and_option_errors(instruct):
    for spec in ("local:", "local:hf:", "local:foo:x", "local:hf"):
        with pytest.raises(InputError, match="local:hf:PATH or local:vllm:NAME"):
            make_judge(spec)
    with pytest.raises(InputError, match="takes no option 'tensor_parallel_size'"):
        make_judge(f"local:hf:{instruct}", tensor_parallel_size=2)
    with pytest.raises(InputError, match="takes no option 'batch_size'"):
        make_judge("local:vllm:Qwen/Qwen2.5-7B-Instruct", batch_size=2)
    no_template = build_checkpoint(instruct + "-plain")
    with pytest.raises(InputError, match="has no chat template"):
        make_judge(f"local:hf:{no_template}")


@pytest.mark.skipif(importlib.util.find_spec("vllm") is not None, reason="vLLM is installed here")
def test_vllm_without_vllm_is_one_clear_error():
    with pytest.raises(MissingExtra, match=r"needs the vllm package.*va-safetybench\[vllm\]"):
        make_judge("local:vllm:Qwen/Qwen2.5-7B-Instruct")
