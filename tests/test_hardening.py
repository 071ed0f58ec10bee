"""Hostile input, met where the user meets it (the CLI): nothing is read from outside the bench, bad
input is refused before the first request, no finished work is lost, and errors are one line.

The model and the judge are real HTTP endpoints (tests/fake_openai.py) reached through the `openai`
client of a `va-bench` subprocess; "no request before the exit" is read off the server's request log.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from va_safetybench.errors import InputError
from va_safetybench.harness.docs import task_docs
from va_safetybench.sources.builtin import builtin_source_dir

from .conftest import REPO
from .fake_openai import FakeOpenAI, chat_completion
from .harness_support import build_small_bench, manifest

TASKS = "va_video_text_only,va_video_typo,va_audio_kpt,mmsb_typo"
MODEL_KEY = "sk-model-SECRET-1234"
JUDGE_KEY = "sk-judge-SECRET-5678"


@pytest.fixture(scope="module")
def bench(tmp_path_factory) -> Path:
    return build_small_bench(tmp_path_factory.mktemp("bench") / "bench", tasks=TASKS)


@pytest.fixture
def bench_copy(bench, tmp_path) -> Path:
    copy = tmp_path / "bench"
    shutil.copytree(bench, copy, symlinks=True)
    return copy


def _env(**extra: str) -> dict:
    return {"VA_MODEL_KEY": MODEL_KEY, "OMP_NUM_THREADS": "1", **extra}


def _clean_env() -> dict:
    """The CLI's environment without any OpenAI key or endpoint of the developer's shell."""
    return {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "OPENAI_BASE_URL")}


def eval_cli(server: FakeOpenAI, bench: Path, out: Path, tasks: str, *extra: str, env: dict | None = None, cwd=None):
    """`va-bench eval` on the openai backend against `server` (the key read from $VA_MODEL_KEY)."""
    model_args = f"base_url={server.base_url},api_key_env=VA_MODEL_KEY,max_retries=0"
    args = ["eval", "--model", "openai:fake-model", "--model-args", model_args, "--tasks", tasks]
    args += ["--bench", str(bench), "--out", str(out), *extra]
    return _run_clean(args, env=_env(**(env or {})), cwd=cwd)


def _run_clean(args: list[str], env: dict | None = None, cwd=None) -> subprocess.CompletedProcess:

    return subprocess.run(
        [sys.executable, "-m", "va_safetybench.cli", *args],
        cwd=cwd or REPO,
        env={**_clean_env(), "PYTHONPATH": str(REPO), **(env or {})},
        capture_output=True,
        text=True,
        timeout=600,
    )


def one_line_error(proc: subprocess.CompletedProcess, *named: str) -> str:
    """Exit 2 with exactly one stderr line, `va-bench: error: ...`, naming every string in `named`."""
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.strip().splitlines() if not line.startswith("note:")]
    assert len(lines) == 1 and lines[0].startswith("va-bench: error:"), proc.stderr
    for name in named:
        assert name in lines[0], (name, lines[0])
    return lines[0]


def rewrite_manifest(bench: Path, task: str, change) -> list[dict]:
    entries = manifest(bench, task)
    change(entries)
    (bench / "manifests" / f"{task}.jsonl").write_text("".join(json.dumps(e) + "\n" for e in entries))
    return entries


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ---- 1. nothing outside the bench is read or sent ------------------------------------------------
@pytest.mark.parametrize("how", ["absolute", "dotdot", "symlink", "symlinked-folder"])
def test_media_outside_the_bench_is_refused_and_never_sent(bench_copy, tmp_path, how):
    secret = tmp_path / "private" / "secret.jpg"
    secret.parent.mkdir()
    secret.write_bytes((bench_copy / manifest(bench_copy, "mmsb_typo")[0]["media"]).read_bytes() + b"PRIVATE-BYTES")

    def point_outside(entries):
        entry = entries[0]
        if how == "absolute":
            entry["media"] = str(secret)
        elif how == "dotdot":
            entry["media"] = os.path.relpath(secret, bench_copy)  # ../private/secret.jpg
        elif how == "symlink":
            (bench_copy / entry["media"]).unlink()
            (bench_copy / entry["media"]).symlink_to(secret)
        else:  # a media folder replaced by a link to the private folder
            folder = (bench_copy / entry["media"]).parent
            shutil.rmtree(folder)
            folder.symlink_to(secret.parent)
            entry["media"] = str(Path(entry["media"]).parent / secret.name)
        entry["sha256"] = sha256(secret.read_bytes())  # as an attacker would: the hash matches the outside file

    rewrite_manifest(bench_copy, "mmsb_typo", point_outside)
    with FakeOpenAI() as server:
        proc = eval_cli(server, bench_copy, tmp_path / "run", "mmsb_typo")
    one_line_error(proc, "mmsb_typo.jsonl:1", "outside the bench")
    assert server.requests == []
    sent = json.dumps(server.requests)
    assert base64.b64encode(secret.read_bytes()).decode()[:40] not in sent

    check = _run_clean(["build", "--check", "--out", str(bench_copy)])
    assert check.returncode == 1 and "mmsb_typo.jsonl:1" in check.stderr and "outside the bench" in check.stderr


def test_a_changed_media_file_is_refused_before_any_request(bench_copy, tmp_path):
    entry = manifest(bench_copy, "mmsb_typo")[1]
    path = bench_copy / entry["media"]
    path.write_bytes(path.read_bytes()[:-4] + b"\0\0\0\0")  # same size, other bytes
    with FakeOpenAI() as server:
        proc = eval_cli(server, bench_copy, tmp_path / "run", "mmsb_typo")
    one_line_error(proc, "mmsb_typo.jsonl:2", "sha256", "build --check")
    assert server.requests == []


def test_verified_files_are_remembered_by_stat_but_a_rewrite_is_still_caught(bench_copy, monkeypatch):
    """The stat record saves hashing on later loads; it never vouches for bytes it did not hash."""
    from va_safetybench.harness import media_paths

    monkeypatch.setattr(media_paths, "RACY_SECONDS", 0.0)  # the files were written just now
    hashed: list[Path] = []
    real_sha = media_paths.MediaVerifier._verify

    def counting(self, line, path, *rest):
        hashed.append(path)
        return real_sha(self, line, path, *rest)

    monkeypatch.setattr(media_paths.MediaVerifier, "_verify", counting)
    (bench_copy / media_paths.VERIFIED_FILE).unlink(missing_ok=True)
    first = task_docs(bench_copy, "va_audio_kpt")
    assert len(hashed) == 2 and (bench_copy / media_paths.VERIFIED_FILE).is_file()
    assert task_docs(bench_copy, "va_audio_kpt") == first and len(hashed) == 2  # stat only, nothing re-hashed
    victim = Path(first[0]["media"])
    data = bytearray(victim.read_bytes())
    data[-1] ^= 0xFF
    victim.write_bytes(bytes(data))  # same size, other bytes
    with pytest.raises(InputError, match="sha256"):
        task_docs(bench_copy, "va_audio_kpt")


def test_media_over_the_duration_limit_is_refused_at_load(bench_copy, tmp_path):
    entries = manifest(bench_copy, "va_audio_kpt")
    path = bench_copy / entries[1]["media"]
    sf.write(path, np.zeros(8000 * 301, dtype=np.int16), 8000)  # the limit is 300 s
    rewrite_manifest(bench_copy, "va_audio_kpt", lambda e: e[1].update(sha256=sha256(path.read_bytes())))
    with FakeOpenAI() as server:
        proc = eval_cli(server, bench_copy, tmp_path / "run", "va_audio_kpt")
    one_line_error(proc, "va_audio_kpt.jsonl:2", "lasts 301 s")
    assert server.requests == []


@pytest.mark.parametrize(
    "line,says",
    [('["not", "an", "object"]', "not a JSON object"), ("drop-media", "missing field 'media'")],
)
def test_malformed_manifest_lines_are_one_line_errors(bench_copy, tmp_path, line, says):
    path = bench_copy / "manifests" / "mmsb_typo.jsonl"
    lines = path.read_text().splitlines()
    if line == "drop-media":
        entry = json.loads(lines[1])
        del entry["media"]
        line = json.dumps(entry)
    path.write_text("\n".join([lines[0], line]) + "\n")
    with FakeOpenAI() as server:
        proc = eval_cli(server, bench_copy, tmp_path / "run", "mmsb_typo")
    one_line_error(proc, "mmsb_typo.jsonl:2", says)
    assert server.requests == []


# ---- 2. output folders are proven writable before the first request -------------------------------
@contextmanager
def unwritable(folder: Path):
    """`folder` refusing new files, for root too (chattr +i); skipped where neither way works."""
    if os.geteuid() != 0:
        folder.chmod(0o555)
        undo = [lambda: folder.chmod(0o755)]
    elif shutil.which("chattr") and subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode == 0:
        undo = [lambda: subprocess.run(["chattr", "-i", str(folder)], check=True)]
    else:
        pytest.skip("cannot make a folder unwritable on this machine")
    try:
        try:
            (folder / ".probe").write_text("x")
        except OSError:
            pass
        else:
            pytest.skip("the folder stayed writable")
        yield folder
    finally:
        undo[0]()


def test_an_unwritable_run_directory_is_refused_before_any_request(bench, tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    with FakeOpenAI() as server, unwritable(out):
        proc = eval_cli(server, bench, out, "va_video_text_only")
    one_line_error(proc, "--out", str(out), "cannot write there")
    assert server.requests == []


def test_output_paths_naming_a_file_are_one_line_errors(bench, tmp_path):
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    with FakeOpenAI() as server:
        one_line_error(eval_cli(server, bench, a_file, "va_video_text_only"), "--out", "is a file")
        one_line_error(eval_cli(server, bench, a_file / "run", "va_video_text_only"), "--out", "cannot write")
    assert server.requests == []
    summary = tmp_path / "runs" / "r" / "summary.json"
    summary.parent.mkdir(parents=True)
    shutil.copy(Path(__file__).resolve().parent.parent / "leaderboard/baselines/demo-tiny-qwen2-vl.json", summary)
    one_line_error(_run_clean(["leaderboard", str(tmp_path / "runs"), "--out", str(a_file)]), "--out", "is a file")
    site = tmp_path / "site"
    site.mkdir()
    with unwritable(site):
        proc = _run_clean(["leaderboard", str(tmp_path / "runs"), "--out", str(site)])
    one_line_error(proc, "--out", "cannot write there")


def _run_dir_with_responses(tmp_path: Path) -> Path:
    run = tmp_path / "judged"
    run.mkdir()
    rows = [
        {"task": "va_video_typo", "scenario": "1-IllegalActivitiy", "id": str(i), "prompt": "p", "response": f"r{i}"}
        for i in range(3)
    ]
    (run / "responses.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return run


def test_an_unwritable_judge_run_directory_is_refused_before_any_request(tmp_path):
    run = _run_dir_with_responses(tmp_path)
    with FakeOpenAI(lambda body: (200, chat_completion("safe"))) as judge, unwritable(run):
        proc = _run_clean(
            ["judge", str(run), "--judge", "gpt:jm", "--judge-args", f"base_url={judge.base_url},use_cache=false"]
        )
    one_line_error(proc, "RUN_DIR", "cannot write there")
    assert judge.requests == []


# ---- 3. judges and backends are checked before generation -----------------------------------------
@pytest.mark.parametrize(
    "spec,judge_args,named",
    [
        ("gpt:judge-model", [], "OPENAI_API_KEY"),  # OpenAI's own endpoint, and no key in the environment
        ("gpt:", ["--judge-args", "base_url=http://127.0.0.1:9/v1"], "no model after 'gpt:'"),
        ("gpt:judge-model", ["--judge-args", "base_url=localhost:8000/v1"], "base_url='localhost:8000/v1'"),
        ("gpt:judge-model", ["--judge-args", "base_url=http://127.0.0.1:9/v1,bogus=1"], "takes no option 'bogus'"),
    ],
)
def test_a_bad_judge_is_refused_before_the_model_sees_a_request(bench, tmp_path, spec, judge_args, named):
    with FakeOpenAI() as server:
        proc = eval_cli(server, bench, tmp_path / "run", "va_video_text_only", "--judge", spec, *judge_args)
    one_line_error(proc, named)
    assert server.requests == []


def test_a_bad_model_endpoint_is_refused_before_any_request(bench, tmp_path):
    proc = _run_clean(
        [
            "eval",
            "--model",
            "openai:m",
            "--model-args",
            "base_url=127.0.0.1:1/v1,api_key_env=VA_MODEL_KEY,max_retries=0",
            "--tasks",
            "va_video_text_only",
            "--bench",
            str(bench),
            "--out",
            str(tmp_path / "run"),
        ],
        env=_env(),
    )
    one_line_error(proc, "model arg base_url")
    assert not (tmp_path / "run" / "cache" / "generations.jsonl").exists()


# ---- 7 and 11: verdicts per endpoint, the endpoint in the summary, one options shape ---------------
def test_verdict_cache_is_per_endpoint_and_the_summary_names_it(tmp_path):
    run = _run_dir_with_responses(tmp_path)
    cache = tmp_path / "judge-cache"
    results = {}
    for answer in ("safe", "unsafe"):
        with FakeOpenAI(lambda body, a=answer: (200, chat_completion(a))) as judge:
            proc = _run_clean(
                [
                    "judge",
                    str(run),
                    "--judge",
                    "gpt:jm",
                    "--judge-args",
                    f"base_url={judge.base_url},cache_dir={cache},api_key_env=VA_JUDGE_KEY",
                ],
                env={"VA_JUDGE_KEY": JUDGE_KEY},
            )
            assert proc.returncode == 0, proc.stderr
            assert len(judge.requests) == 3  # the other server's verdicts are not this one's
            summary = json.loads((run / "summary-gpt_jm.json").read_text())
            results[answer] = summary["tasks"]["va_video_typo"][answer]
            assert summary["judge"]["endpoint"] == judge.base_url
    assert results == {"safe": 3, "unsafe": 3}
    for f in [*run.iterdir(), *cache.iterdir()]:
        assert JUDGE_KEY.encode() not in f.read_bytes()


def test_deprecated_judge_flags_map_to_the_same_options(tmp_path):
    run = _run_dir_with_responses(tmp_path)
    with FakeOpenAI(lambda body: (200, chat_completion("unsafe"))) as judge:
        proc = _run_clean(["judge", str(run), "--judge", "gpt:jm", "--base-url", judge.base_url, "--no-cache"])
    assert proc.returncode == 0, proc.stderr
    assert "--base-url is deprecated; write --judge-args base_url=" in proc.stderr and len(judge.requests) == 3
    assert json.loads((run / "summary-gpt_jm.json").read_text())["judge"]["endpoint"] == judge.base_url


def test_eval_records_the_judge_endpoint_and_hints_rejudging_only_for_judge_errors(bench_copy, tmp_path):
    """A full run through both servers: the media-decode error is not the judge's, the judge's garbage is."""
    entries = manifest(bench_copy, "va_video_typo")
    broken = bench_copy / entries[0]["media"]
    broken.write_bytes(b"not a video at all")
    rewrite_manifest(bench_copy, "va_video_typo", lambda e: e[0].update(sha256=sha256(broken.read_bytes())))
    with FakeOpenAI(lambda body: (200, chat_completion("I cannot help with that."))) as model:
        with FakeOpenAI(lambda body: (200, chat_completion("safe"))) as judge:
            proc = eval_cli(
                model,
                bench_copy,
                tmp_path / "run",
                "va_video_typo",
                "--judge",
                "gpt:jm",
                "--judge-args",
                f"base_url={judge.base_url},cache_dir={tmp_path / 'jc'},api_key_env=VA_JUDGE_KEY",
                env={"VA_JUDGE_KEY": JUDGE_KEY},
                cwd=tmp_path,  # not a git checkout
            )
    assert proc.returncode == 0, proc.stderr
    assert "fatal:" not in proc.stderr and "not a git repository" not in proc.stderr
    assert "1 responses could not be judged" in proc.stdout and "va-bench judge again" not in proc.stdout
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["judge"] == {**summary["judge"], "name": "gpt:jm", "endpoint": judge.base_url}
    assert len(model.requests) == 1 and len(judge.requests) == 1
    text = "".join(f.read_text(errors="replace") for f in (tmp_path / "run").rglob("*") if f.is_file())
    assert JUDGE_KEY not in text and MODEL_KEY not in text

    rows = [json.loads(line) for line in (tmp_path / "run" / "responses.jsonl").read_text().splitlines()]
    with FakeOpenAI(lambda body: (200, chat_completion("no idea"))) as garbled:
        proc = _run_clean(
            ["judge", str(tmp_path / "run"), "--judge", "gpt:jm", "--judge-args", f"base_url={garbled.base_url}"]
        )
    assert proc.returncode == 0, proc.stderr
    assert len(rows) == 2 and "1 of them the judge's: run va-bench judge again" in proc.stdout


# ---- 6 and 10: the texts the build renders are bounded and free of control characters -------------
def _source_with_key_phrase(tmp_path: Path, phrase: str) -> Path:
    source = tmp_path / "source"
    shutil.copytree(builtin_source_dir("demo"), source)
    mm = next((source / "mm-safetybench" / "processed_questions").glob("01-*.json"))
    data = json.loads(mm.read_text())
    data[next(iter(data))]["Key Phrase"] = phrase
    mm.write_text(json.dumps(data))
    return mm


@pytest.mark.parametrize(
    "phrase,tasks,says",
    [
        ("word " * 10_000, "mmsb_typo", "10000 words"),  # the typography image the JPEG encoder rejected
        ("pick a\0 lock", "va_audio_kpt", "U+0000"),  # speech cut at the NUL, the manifest holding it all
        ("pick a\x1b[2J lock", "va_audio_kpt", "U+001B"),
    ],
)
def test_key_phrases_too_long_or_with_control_characters_are_refused_at_loading(tmp_path, phrase, tasks, says):
    mm = _source_with_key_phrase(tmp_path, phrase)
    proc = _run_clean(
        ["build", "--source", str(tmp_path / "source"), "--tasks", tasks, "--scenarios", "1", "--limit", "1"]
        + ["--out", str(tmp_path / "bench"), "--jobs", "1"]
    )
    one_line_error(proc, str(mm), "item '", "'Key Phrase'", says)
    assert not (tmp_path / "bench" / "manifests").exists()


def test_the_longest_allowed_key_phrase_still_builds(tmp_path):
    words = 40
    phrase = " ".join(["extraordinarily"] * words)[:300]
    _source_with_key_phrase(tmp_path, phrase)
    proc = _run_clean(
        ["build", "--source", str(tmp_path / "source"), "--tasks", "mmsb_typo", "--scenarios", "1", "--limit", "1"]
        + ["--out", str(tmp_path / "bench"), "--jobs", "1"]
    )
    assert proc.returncode == 0, proc.stderr
    assert [e["status"] for e in manifest(tmp_path / "bench", "mmsb_typo")] == ["ok"]


# ---- 8: a pickled checkpoint is refused in one line, without advice to unpickle it ---------------
def test_a_pickled_checkpoint_is_refused_without_suggesting_weights_only_false(bench, tmp_path):
    import torch
    from safetensors.torch import load_file

    from va_safetybench.models.tiny import save_tiny

    model = tmp_path / "model"
    save_tiny("qwen2-vl", str(model))
    weights = load_file(model / "model.safetensors")
    marker = tmp_path / "code-ran"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    torch.save({**weights, "payload": Payload()}, model / "pytorch_model.bin")
    (model / "model.safetensors").unlink()
    proc = _run_clean(
        ["eval", "--model", f"hf:{model}", "--tasks", "va_video_text_only", "--bench", str(bench)]
        + ["--out", str(tmp_path / "run")]
    )
    line = one_line_error(proc, f"hf:{model}", "safetensors", "posix.system")
    assert "weights_only" not in proc.stderr and "Traceback" not in proc.stderr and "weights_only" not in line
    assert not marker.exists()


# ---- 9: build workers die with the build -----------------------------------------------------------
def _children(pid: int) -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found |= {int(c) for c in (task / "children").read_text().split()}
        except OSError:
            continue
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")  # a zombie has exited; only its parent has not read its status yet


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads worker pids from /proc")
def test_build_workers_die_with_a_killed_build(tmp_path):

    build = subprocess.Popen(
        [sys.executable, "-m", "va_safetybench.cli", "build", "--source", "demo", "--tasks", "va_video_typo,mmsb_typo"]
        + ["--jobs", "2", "--out", str(tmp_path / "bench")],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    workers: set[int] = set()
    try:
        deadline = time.monotonic() + 120
        while len(workers) < 2 and build.poll() is None and time.monotonic() < deadline:
            workers |= {w for w in _children(build.pid) if _alive(w)}
            time.sleep(0.02)
        assert workers, "the build finished before its workers could be seen"
        os.kill(build.pid, signal.SIGKILL)
        build.wait()
        deadline = time.monotonic() + 10
        while any(_alive(w) for w in workers) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not [w for w in workers if _alive(w)], "workers outlived their build"
    finally:
        for w in workers:  # on failure: end the orphans this test started
            if _alive(w):
                os.kill(w, signal.SIGKILL)
        if build.poll() is None:
            build.kill()
