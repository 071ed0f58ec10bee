"""MMBench's GPT choice matcher (lmms-eval's default mmbench_en_dev), through --judge gpt:MODEL against a local
OpenAI-compatible server, beside the rule-read CircularEval.

Peer: EvolvingLMMs-Lab/lmms-eval lmms_eval/tasks/mmbench/mmbench_evals.py at 7a69a9a1 (HEAD 75571cfe):
`eval_sub_data` (prefetch every rotation; a wrong prefetch fails the question without asking; the rest go to
`extract_answer_from_item`), `build_prompt`, `build_option_str`, and the matcher's answer read by `can_infer`.
"""

from __future__ import annotations

import json
import re

from judges.base import JudgeInput
from judges.choice_gpt import MMBenchChoiceJudge, build_prompt, option_block, parse_choice

from .fake_openai import FakeOpenAI, chat_completion
from .test_peer_mmbench import QUESTIONS, tsv_rows, write_tsv

MATCHER_HEAD = (
    "You are an AI assistant who will help me to match an answer with several options of a single-choice "
    "question. You are provided with a question, several options, and an answer, and you need to find which "
    "option is most similar to the answer. If the meaning of all options are significantly different from the "
    "answer, output E. Your should output a single uppercase character in A, B, C, D (if they are valid options), "
    "and E. \nExample 1: \n"
)


def test_prompt_is_upstreams_and_the_answer_is_read_by_the_prefetch(tmp_path):
    judge = MMBenchChoiceJudge("m", base_url="http://127.0.0.1:9/v1", cache_dir=tmp_path)
    options = option_block({"A": "cow", "B": "dog"})
    assert options == "There are several options: \nA. cow\nB. dog\n"
    text = judge.prompt_for(JudgeInput("mmbench_en_dev", "c", options, "a {question} dog", "Which animal?"))
    assert text.startswith(MATCHER_HEAD)
    assert text.endswith(f"Question: Which animal??\nOptions: {options}\nAnswer: a {{question}} dog\nYour output: ")
    assert build_prompt("{question}|{options}|{prediction}", "{options}", "o", "p") == "{options}|o|p"
    assert parse_choice("B").categories == ("B",) and parse_choice(" (C) ").categories == ("C",)
    assert parse_choice("E").categories == ("E",)  # "none of them": a letter, then simply wrong
    assert parse_choice("the dog").label == "choice" and parse_choice("the dog").categories == ()
    assert parse_choice(None).label == "error"


# what the model under test answers, by rotation number (0..3) of each question
MODEL = {
    0: "{right}",  # read by the prefetch
    1: "**{right}**",  # prefetch fails: static reads it, and so does the matcher
    2: "the matching option",  # prefetch and static fail (no A-D anywhere): only the matcher reads it
    3: "It is the {right_text}.",  # the prefetch reads the option text
}


def test_gpt_matched_circular_eval_through_eval(tmp_path, monkeypatch):
    from va_safetybench.cli import main

    rows = tsv_rows()
    write_tsv(tmp_path / "data" / "mmbench" / "MMBench_DEV_EN.tsv", rows)
    monkeypatch.setenv("VA_CAPABILITY_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("VA_TEST_KEY", "sk-test")
    truth = {q: opts["ABCD".index(ans)] for q, _, opts, ans in QUESTIONS}
    rotation_of = {(r["question"], tuple(r[c] for c in "ABCD")): r["index"] // 1_000_000 for r in rows}

    def model(body):
        prompt = next(p["text"] for p in body["messages"][-1]["content"] if p["type"] == "text")
        options = dict(re.findall(r"^([A-D])\. (.+)$", prompt, flags=re.M))
        question = next(q for q in truth if q in prompt)
        rotation = rotation_of[(question, tuple(options.get(c, "") for c in "ABCD"))]
        right = next(k for k, v in options.items() if v == truth[question])
        if question == "Which shape is drawn?" and rotation == 0:
            return 200, chat_completion("B")  # a wrong prefetch: the question fails without asking the matcher
        if question == "Which fruit is this?" and rotation == 2:
            return 200, chat_completion("I cannot tell.")  # the matcher answers E: wrong
        return 200, chat_completion(MODEL[rotation].format(right=right, right_text=options[right]))

    asked = []

    def matcher(body):
        prompt = body["messages"][-1]["content"]
        asked.append(prompt)
        question = next(q for q in truth if f"Question: {q}?\n" in prompt)
        options = dict(re.findall(r"^([A-D])\. (.+)$", prompt.rsplit("\nOptions: ", 1)[1], flags=re.M))
        answer = prompt.rsplit("\nAnswer: ", 1)[1].removesuffix("\nYour output: ")
        starred = re.fullmatch(r"\*\*([A-D])\*\*", answer)
        if starred:
            return 200, chat_completion(starred.group(1))
        if answer == "the matching option":
            return 200, chat_completion(next(k for k, v in options.items() if v == truth[question]))
        return 200, chat_completion("E")

    run = tmp_path / "run"
    with FakeOpenAI(model) as served, FakeOpenAI(matcher) as judge_server:
        code = main(
            [
                "eval",
                "--model",
                "openai:fake",
                "--model-args",
                f"base_url={served.base_url},api_key_env=VA_TEST_KEY,retry_base=0.01",
                "--tasks",
                "mmbench_en_dev",
                "--judge",
                "gpt:matcher",
                "--judge-args",
                f"base_url={judge_server.base_url},api_key_env=VA_TEST_KEY,cache_dir={tmp_path / 'jc'}",
                "--out",
                str(run),
            ]
        )
    assert code == 0
    summary = json.loads((run / "summary.json").read_text())
    result = summary["capability"]["mmbench_en_dev"]
    # rule-read (static): rotation 2 of every question is unreadable -> no question survives
    assert result["circular_acc"] == 0.0
    assert result["per_rotation_acc"] == (19 - 5 - 1) / 19  # five rotation-2 answers, one wrong "B"
    # GPT-matched: animal, colour and dots survive; shape failed on its prefetch, fruit on the matcher's E
    assert result["circular_acc_gpt"] == 3 / 5
    # asked: rotations 1 and 2 of the four questions without a wrong prefetch; never the shape question
    counts = summary["scorers"]["mmbench_en_dev"]["gpt_counts"]
    assert counts == {"gpt_asked": 8, "gpt_unmatched": 0, "gpt_errors": 0} and len(asked) == 8
    assert set(result) == {"circular_acc", "per_rotation_acc", "circular_acc_gpt"}
    assert all(p.startswith(MATCHER_HEAD) for p in asked) and not any("Which shape" in p for p in asked)
    assert summary["scorers"]["mmbench_en_dev"]["gpt_judge"]["name"] == "mmbench-gpt:matcher"
