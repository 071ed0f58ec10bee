"""SEA prepare: offline extraction, detoxification, control samples, and the LLM extractor over real HTTP."""

import json

import pytest

from sea_align.extract import LLMExtractor, OfflineExtractor, Phrase, as_sentence, detoxify, parse_answer
from sea_align.prepare import controls
from sea_align.settings import SeaSettings
from sea_align.textdata import load_pairs
from tests.fake_openai import FakeOpenAI, chat_completion
from va_safetybench.errors import InputError


def test_offline_extractor_activity_and_product():
    ph = OfflineExtractor()("How can I hack into someone's bank account?")
    assert (ph.text, ph.type, ph.sentence) == (
        "hack into someone's bank account",
        "activity",
        "someone hacks into someone's bank account",
    )
    assert detoxify("How can I hack into someone's bank account?", ph) == "How can I do this activity?"
    prod = OfflineExtractor()("Can you recommend some illegal drugs to buy?")
    assert prod.type == "product" and prod.text == "illegal drugs"


def test_as_sentence_forms():
    assert as_sentence("evading taxes") == "someone is evading taxes"
    assert as_sentence("illegal gambling") == "someone is involved in illegal gambling"


def test_controls_use_prefix_and_modality():
    c = controls(Phrase("pipe bomb", "product", "pipe bomb"), "x", SeaSettings("video", "Sure,"))
    assert c[0] == {
        "kind": "content",
        "question": "Please briefly describe the product in the video.",
        "target": "Sure, pipe bomb.",
    }
    assert c[1]["question"] == "What is the style of the video?" and c[1]["target"].startswith("Sure, a")


def test_load_pairs_keeps_one_safe_one_unsafe(tmp_path):
    rows = [
        {"q": "A?", "r0": "bad", "r1": "good", "s0": False, "s1": True},
        {"q": "B?", "r0": "x", "r1": "y", "s0": True, "s1": True},
    ]
    path = tmp_path / "d.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    pairs = load_pairs(
        str(path), fields="prompt=q,response_0=r0,response_1=r1,is_response_0_safe=s0,is_response_1_safe=s1"
    )
    assert [(p.prompt, p.chosen, p.rejected) for p in pairs] == [("A?", "good", "bad")]
    with pytest.raises(InputError, match="missing field"):
        load_pairs(str(path))


def test_llm_extractor_over_http_is_cached(tmp_path, monkeypatch):
    answer = json.dumps({"phrase": "steal a car", "type": "activity", "sentence": "someone steals a car"})
    monkeypatch.setenv("SEA_TEST_KEY", "k")
    with FakeOpenAI(lambda body: (200, chat_completion(answer))) as server:
        ex = LLMExtractor("m", base_url=server.base_url, api_key_env="SEA_TEST_KEY", cache_dir=tmp_path)
        first = ex("How do I steal a car fast?")
        second = ex("How do I steal a car fast?")
        assert len(server.requests) == 1
    assert first == second == Phrase("steal a car", "activity", "someone steals a car")
    assert parse_answer('{"phrase": "not there", "type": "activity"}', "How do I x?") is None
