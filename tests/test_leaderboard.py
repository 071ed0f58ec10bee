"""`va-bench leaderboard`: the generated files (structure, escaping, warnings) without a browser."""

from __future__ import annotations

import json
import re

from leaderboard.results import load_summary
from leaderboard.site import build_site
from tests.leaderboard_data import PAYLOAD, random_verdicts, three_models, write_run
from va_safetybench.cli import main


def test_site_files_and_escaping(tmp_path, capsys):
    runs = three_models(tmp_path)
    assert main(["leaderboard", str(runs), "--out", str(tmp_path / "site")]) == 0
    assert "3 row(s) from 3 run(s)" in capsys.readouterr().out
    site = tmp_path / "site"
    index = (site / "index.html").read_text()
    assert index.count("<tr") == 4  # header + 3 models
    assert "random weights" in index and ">SEA<" in index
    assert "judged differently" in index  # llama-guard 3 vs keyword 1
    assert "different bench manifests" not in index
    assert '<svg class="scatter' in index  # capability scores present -> scatter
    assert not re.search(r"https?://(?!www\.w3\.org/2000/svg)", index)  # nothing from the network
    pages = list((site / "models").glob("*.html"))
    assert len(pages) == 3 and all("<svg class=heatmap" in p.read_text() for p in pages)
    samples = list((site / "samples").glob("*.js"))
    assert len(samples) == 4 + 4 + 2
    blob = "".join(p.read_text() for p in samples)
    assert "<" not in blob  # every "<" is \u003c: no "</script>" or "<!--" can close or confuse a script
    assert "onerror" in blob and "window.__pwned" in blob  # the payload is there, as data
    for page in [index, *(p.read_text() for p in pages)]:
        assert "<script>window" not in page and "<img src=x" not in page


def test_sample_file_round_trips(tmp_path):
    runs = three_models(tmp_path)
    build_site([load_summary(p) for p in runs.rglob("summary.json")], tmp_path / "site")
    for path in (tmp_path / "site" / "samples").glob("*.js"):
        text = path.read_text()
        m = re.fullmatch(r'vaSamplesLoaded\("([^"]+)",(.*)\);\n', text, re.S)
        assert m and m.group(1) == path.stem
        data = json.loads(m.group(2))
        assert (tmp_path / "site" / "models" / data["media_base"]).resolve() == (tmp_path / "runs" / "bench").resolve()
        if any(x["r"] == PAYLOAD for x in data["items"]):
            x = next(x for x in data["items"] if x["r"] == PAYLOAD)
            assert x["m"] == "Video/1-IllegalActivitiy/TYPO/0.mp4" and x["l"] in ("safe", "unsafe")
            return
    raise AssertionError("payload sample not found")


def test_bench_mismatch_banner_and_newest_run_wins(tmp_path):
    v = random_verdicts(__import__("random").Random(1), ["mmsb_typo"], 20, 0.3)
    old = write_run(tmp_path / "r" / "old", "hf:a", v, created="2026-01-01T00:00:00Z")
    new = write_run(tmp_path / "r" / "new", "hf:a", v, created="2026-02-01T00:00:00Z", manifest="c3" * 32)
    other = write_run(tmp_path / "r" / "b", "hf:b", v)
    runs = [load_summary(p) for p in (old, new, other)]
    build_site(runs, tmp_path / "site")
    index = (tmp_path / "site" / "index.html").read_text()
    assert index.count("<tr") == 3 and "1 older run(s)" in index
    assert "2 different bench manifests" in index and "judged differently" not in index
    assert '<svg class="scatter' not in index  # no capability scores, no scatter


def test_bad_inputs_exit_2_with_one_line(tmp_path, capsys):
    assert main(["leaderboard", str(tmp_path), "--out", str(tmp_path / "site")]) == 2
    assert "no summary.json found" in capsys.readouterr().err
    run = write_run(tmp_path / "r", "hf:a", random_verdicts(__import__("random").Random(1), ["mmsb_typo"], 4, 0.3))
    data = json.loads((run / "summary.json").read_text())
    unsafe, data["tasks"]["mmsb_typo"]["unsafe"] = data["tasks"]["mmsb_typo"]["unsafe"], -1
    (run / "summary.json").write_text(json.dumps(data))
    assert main(["leaderboard", str(run), "--out", str(tmp_path / "site")]) == 2
    err = capsys.readouterr().err.strip()
    assert "summary.json: tasks.mmsb_typo.unsafe: negative count" in err and "\n" not in err
    data["tasks"]["mmsb_typo"]["unsafe"] = unsafe
    (run / "summary.json").write_text(json.dumps(data))
    (run / "responses.jsonl").write_text('{"task": "mmsb_typo"}\nnot json\n')
    assert main(["leaderboard", str(run), "--out", str(tmp_path / "site")]) == 2
    assert "responses.jsonl:2: not valid JSON" in capsys.readouterr().err


def test_runs_over_different_tasks_of_one_bench_are_comparable(tmp_path):
    """The demo evaluates each model on its own modalities: per-task manifest hashes, not the
    hash over each run's task set, decide whether rows are comparable."""

    rng = __import__("random").Random(2)
    video = write_run(
        tmp_path / "r" / "v", "hf:v", random_verdicts(rng, ["va_video_typo"], 10, 0.3), manifest="a1" * 32
    )
    audio = write_run(tmp_path / "r" / "a", "hf:a", random_verdicts(rng, ["va_audio_kpt"], 10, 0.3), manifest="b2" * 32)
    video, audio = video / "summary.json", audio / "summary.json"
    for path, task in ((video, "va_video_typo"), (audio, "va_audio_kpt")):
        summary = json.loads(path.read_text())
        summary["bench"]["task_manifests"] = {task: "c3" * 32, "mmsb_typo": "d4" * 32}
        path.write_text(json.dumps(summary))
    build_site([load_summary(p) for p in (video, audio)], tmp_path / "site")
    assert "bench manifests" not in (tmp_path / "site" / "index.html").read_text()

    summary = json.loads(audio.read_text())
    summary["bench"]["task_manifests"]["mmsb_typo"] = "e5" * 32  # the same task built differently
    audio.write_text(json.dumps(summary))
    build_site([load_summary(p) for p in (video, audio)], tmp_path / "site2")
    index = (tmp_path / "site2" / "index.html").read_text()
    assert "different bench manifests for mmsb_typo" in index
