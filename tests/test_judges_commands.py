"""va-bench judge / judge-agreement on a run directory in the eval helper's format."""

from __future__ import annotations

import json

from tests.conftest import run_cli
from tests.fake_openai import FakeOpenAI, chat_completion
from va_safetybench.cli import main
from va_safetybench.commands.judge_agreement import cohen_kappa

ROWS = [
    ("va_video_typo", "1-IllegalActivitiy", "0", "I'm sorry, I can't help."),
    ("va_video_typo", "1-IllegalActivitiy", "1", "Step 1: gather the tools."),
    ("va_video_typo", "8-PrivacyViolence", "0", "That is illegal, but here is how: ..."),
    ("va_video_typo", "8-PrivacyViolence", "1", None),
    ("mmsb_typo", "08-Political_Lobbying", "3", "Here are 50 campaign slogans."),
    ("mmsb_typo", "10-Legal_Opinion", "4", "   "),
]


def make_run(tmp_path, rows=ROWS, summary: dict | None = None):
    run = tmp_path / "run"
    run.mkdir()
    with open(run / "responses.jsonl", "w") as f:
        for task, scenario, item_id, response in rows:
            f.write(
                json.dumps(
                    {
                        "model": "tiny:llava",
                        "task": task,
                        "scenario": scenario,
                        "id": item_id,
                        "prompt": "p",
                        "question": "q",
                        "response": response,
                        "error": None if response is not None else "CUDA OOM",
                        "media": None,
                    }
                )
                + "\n"
            )
    if summary is not None:
        (run / "summary.json").write_text(json.dumps(summary))
    return run


def test_judge_keyword_writes_new_summary_beside_old(tmp_path, capsys):
    old = {"model": "tiny:llava", "backend": "tiny", "random_weights": True, "judge": {"name": "x"}, "tasks": {}}
    run = make_run(tmp_path, summary=old)
    assert main(["judge", str(run), "--judge", "keyword"]) == 0
    out = capsys.readouterr().out
    assert "Step 1" not in out and "va_video_typo" in out and "could not be judged" in out
    assert json.loads((run / "summary.json").read_text()) == old  # untouched
    summary = json.loads((run / "summary-keyword.json").read_text())
    assert summary["model"] == "tiny:llava" and summary["random_weights"] is True
    assert summary["judge"]["name"] == "keyword:jailbreakbench" and summary["judge"]["version"].startswith("kw1-")
    t = summary["tasks"]["va_video_typo"]
    assert (t["n"], t["safe"], t["unsafe"], t["error"]) == (4, 1, 2, 1)  # the failed generation is an error
    assert summary["tasks"]["mmsb_typo"]["error"] == 1  # the whitespace-only response
    assert summary["groups"]["va_video"]["tasks"] == ["va_video_typo"]
    lines = [json.loads(x) for x in (run / "judgements-keyword.jsonl").read_text().splitlines()]
    assert len(lines) == 6 and lines[3]["raw"].startswith("no response")


def test_judge_gpt_through_cli_subprocess(tmp_path):
    run = make_run(tmp_path)

    def reply(body):
        text = body["messages"][0]["content"]
        return 200, chat_completion("safe" if "I'm sorry" in text else "unsafe")

    with FakeOpenAI(reply) as server:
        proc = run_cli(
            "judge",
            str(run),
            "--judge",
            "gpt:judge-model",
            "--base-url",
            server.base_url,
            "--cache-dir",
            str(tmp_path / "cache"),
            env={"OPENAI_API_KEY": "sk-cli-SECRET"},
        )
    assert proc.returncode == 0, proc.stderr
    # 4 responses and the whitespace-only one (judged too, for the official rule); not the failed generation
    assert len(server.requests) == 5 and server.requests[0]["model"] == "judge-model"
    lobbying = [r for r in server.requests if "political lobbing" in r["messages"][0]["content"]]
    assert len(lobbying) == 1
    summary = json.loads((run / "summary-gpt_judge-model.json").read_text())
    assert summary["judge"]["name"] == "gpt:judge-model"
    assert summary["tasks"]["va_video_typo"]["unsafe"] == 2 and summary["tasks"]["va_video_typo"]["safe"] == 1
    assert "sk-cli-SECRET" not in proc.stdout + proc.stderr
    for f in list(run.iterdir()) + list((tmp_path / "cache").iterdir()):
        assert b"sk-cli-SECRET" not in f.read_bytes()


def test_agreement_matrix_and_kappa(tmp_path, capsys):
    run = make_run(tmp_path)
    assert main(["judge-agreement", str(run), "--judges", "keyword,keyword:gcg"]) == 0
    out = capsys.readouterr().out
    assert "rows: keyword, columns: keyword:gcg, 6 responses" in out
    # jailbreakbench vs gcg: the "illegal" response is unsafe for one and safe for the other
    assert "agreement on 4 responses both judged: 3/4" in out and "Cohen's kappa: 0.500" in out
    assert (run / "judgements-keyword_gcg.jsonl").is_file()


def test_cohen_kappa_values():
    assert cohen_kappa([("safe", "safe"), ("unsafe", "unsafe")]) == 1.0
    assert cohen_kappa([("safe", "unsafe"), ("unsafe", "safe")]) == -1.0
    assert cohen_kappa([("safe", "safe")]) is None and cohen_kappa([]) is None


def test_bad_run_dir_is_exit_2(tmp_path, capsys):
    assert main(["judge", str(tmp_path), "--judge", "keyword"]) == 2
    assert "responses.jsonl: not found" in capsys.readouterr().err
    run = make_run(tmp_path)
    with open(run / "responses.jsonl", "a") as f:
        f.write(json.dumps({"task": "t", "id": "9"}) + "\n")
    assert main(["judge", str(run), "--judge", "keyword"]) == 2
    assert "responses.jsonl:7: missing field 'scenario'" in capsys.readouterr().err
    assert main(["judge", str(run), "--judge", "nope"]) == 2
    assert main(["judge-agreement", str(run), "--judges", "keyword"]) == 2
