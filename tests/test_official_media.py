"""`va-bench build --media hub:PATH` (and `--dm/--sd hub:ZIP`): the official release's files byte for byte,
checked before they are trusted. Archives are written here in the release's layout (tests/official_release.py);
the items are the official question files' (shared data)."""

from __future__ import annotations

import hashlib
import json
import re
import struct
import zipfile
from pathlib import Path

import pytest

from tests.conftest import SHARED_DATA, run_cli
from tests.official_release import ARGS, IDS, MM_IMAGE, MM_SCENARIOS, bench_path, jpg_bytes, mp3_bytes, write_release
from va_safetybench.taskspec import GROUPS, TASKS

MEDIA_TASKS = [t for t in GROUPS["va_safetybench"] + GROUPS["mm_safetybench"] if TASKS[t].media]

pytestmark = pytest.mark.skipif(
    not (SHARED_DATA / "va-safetybench").is_dir(), reason=f"official question files not present at {SHARED_DATA}"
)


def _build(out: Path, *args: str, tasks: str = "va_safetybench,mm_safetybench"):
    return run_cli("build", "--source", str(SHARED_DATA), "--out", str(out), "--tasks", tasks, *ARGS, *args)


def _manifest(bench: Path, task: str) -> list[dict]:
    return [json.loads(x) for x in (bench / "manifests" / f"{task}.jsonl").read_text().splitlines()]


def _files(bench: Path) -> dict[str, bytes]:
    return {p.relative_to(bench).as_posix(): p.read_bytes() for p in bench.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> tuple[Path, dict[str, bytes]]:
    root = tmp_path_factory.mktemp("release")
    return root, write_release(root)


@pytest.fixture(scope="module")
def built(release, tmp_path_factory) -> tuple[Path, object]:
    root, _ = release
    bench = tmp_path_factory.mktemp("official") / "bench"
    proc = _build(bench, "--media", f"hub:{root}", "--jobs", "2")
    assert proc.returncode == 0, proc.stderr
    return bench, proc


def test_every_media_task_is_the_official_file_byte_for_byte(release, built):
    root, members = release
    bench, proc = built
    sha = {z: hashlib.sha256((root / z).read_bytes()).hexdigest() for z in ("video.zip", "audio.zip")}
    for task in MEDIA_TASKS:
        entries = _manifest(bench, task)
        assert len(entries) == 4, task
        for e in entries:
            top = TASKS[task].media.top
            release_top = {"Video": "Video", "Audio": "Audio", "Image": "imgs"}[top]
            ext = {"Video": "mp4", "Audio": "mp3", "Image": "jpg"}[top]
            name = f"{release_top}/{e['scenario']}/{TASKS[task].media.variant}/{e['id']}.{ext}"
            assert e["status"] == "ok" and e["origin"] == "official"
            assert e["media"] == bench_path(name)  # the official relative path and container (.mp3)
            assert (bench / e["media"]).read_bytes() == members[name]
            assert e["sha256"] == hashlib.sha256(members[name]).hexdigest()
            if top == "Image":
                assert e["archive"] == str(root / "MM-SafetyBench") and e["member"] == name
            else:
                z = "video.zip" if top == "Video" else "audio.zip"
                assert e["archive"] == z and e["archive_sha256"] == sha[z] and e["member"] == f"VA-SafetyBench/{name}"
    assert "va_audio_kpt: 4 official mp3 files from audio.zip (a part of the 972)" in proc.stdout
    assert "mmsb_sd_typo: 4 official jpg files" in proc.stdout
    assert not list((bench / "Audio").rglob("*.wav"))


def test_no_op_rebuild_and_check(release, built):
    root, _ = release
    bench, _ = built
    again = _build(bench, "--media", f"hub:{root}", "--jobs", "1")
    assert again.returncode == 0 and f"0 rendered, {4 * len(MEDIA_TASKS)} up to date" in again.stdout
    check = run_cli("build", "--out", str(bench), "--check")
    assert check.returncode == 0 and "0 problem(s)" in check.stdout, check.stdout + check.stderr


def test_an_unzipped_release_folder_gives_the_same_files(release, tmp_path):
    root, members = release
    unzipped = tmp_path / "unzipped"
    for z in ("video.zip", "audio.zip"):
        with zipfile.ZipFile(root / z) as zf:
            zf.extractall(unzipped)
    (unzipped / "MM-SafetyBench").symlink_to(root / "MM-SafetyBench")
    bench = tmp_path / "b"
    proc = _build(bench, "--media", f"hub:{unzipped}", "--jobs", "1", tasks="va_audio_kpt,va_video_dm_typo")
    assert proc.returncode == 0, proc.stderr
    for task in ("va_audio_kpt", "va_video_dm_typo"):
        for e in _manifest(bench, task):
            assert (bench / e["media"]).read_bytes() == members[e["media"]]


def _messages(proc) -> list[str]:
    """stderr without the progress bar's lines."""
    return [x for x in proc.stderr.strip().splitlines() if x.strip() and not re.match(r"build:\s+\d+%", x)]


def _one_line_exit_2(proc, *needles: str) -> None:
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = _messages(proc)
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_a_missing_member_names_the_item_and_archive_and_keeps_finished_files(tmp_path, built):
    bench, _ = built
    done = tmp_path / "bench"
    proc = _build(done, "--media", f"hub:{_release(tmp_path, 'full')}", tasks="va_video_typo")
    assert proc.returncode == 0
    before = _files(done)
    broken = _release(tmp_path, "broken", skip={"Audio/2-HateSpeech/KPT/1.mp3"})
    proc = _build(done, "--media", f"hub:{broken}", tasks="va_video_typo,va_audio_kpt")
    _one_line_exit_2(proc, "audio.zip", "Audio/2-HateSpeech/KPT/1.mp3", "item 2-HateSpeech/1 of va_audio_kpt")
    assert {k: v for k, v in _files(done).items() if not k.startswith(".build/")} == {
        k: v for k, v in before.items() if not k.startswith(".build/")
    }


def _release(tmp_path: Path, name: str, **kw) -> Path:
    write_release(tmp_path / name, **kw)
    return tmp_path / name


@pytest.mark.parametrize(
    "member,option",
    [
        ("Video/1-IllegalActivitiy/DM/0.mp4", "--media"),
        ("Audio/2-HateSpeech/Audio_only/1.mp3", "--media"),
        ("imgs/01-Illegal_Activitiy/SD/0.jpg", "--media"),
        ("Video/1-IllegalActivitiy/DM/0.mp4", "--dm"),
    ],
)
def test_a_member_that_does_not_decode_is_refused_and_never_reaches_the_bench(tmp_path, member, option):
    root = _release(tmp_path, "junk", junk={member: b"this is not a media file at all" * 40})
    bench = tmp_path / "b"
    task = {"Video": "va_video_dm", "Audio": "va_audio_only", "imgs": "mmsb_sd"}[member.split("/")[0]]
    source = f"hub:{root / 'video.zip'}" if option == "--dm" else f"hub:{root}"
    proc = _build(bench, option, source, "--jobs", "2", tasks=task)
    where = "video.zip" if member.startswith("Video") else "audio.zip" if member.startswith("Audio") else "MM-Safety"
    _one_line_exit_2(proc, member, where, "not a decodable")
    assert not (bench / bench_path(member)).exists()
    manifest = bench / "manifests" / f"{task}.jsonl"
    assert not manifest.exists() or all(e["status"] != "ok" for e in _manifest(bench, task) if e["id"] == "0")


def test_junk_sd_in_sd_hub_zip_is_refused(tmp_path):
    """Issue 14: a junk SD/0.jpg inside `--sd hub:ZIP` (the layout `.../imgs/{scenario}/SD/{id}.jpg`)."""
    archive = tmp_path / "imgs.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for scenario in ("01-Illegal_Activitiy", "02-HateSpeech"):
            for item_id in ("0", "1"):
                data = b"GIF89a junk" if (scenario, item_id) == ("02-HateSpeech", "1") else jpg_bytes(int(item_id))
                zf.writestr(f"MM-SafetyBench/imgs/{scenario}/SD/{item_id}.jpg", data)
    proc = _build(tmp_path / "b", "--sd", f"hub:{archive}", tasks="mmsb_sd")
    _one_line_exit_2(proc, "imgs.zip", "imgs/02-HateSpeech/SD/1.jpg", "not a decodable")


def test_a_corrupt_archive_is_exit_2(tmp_path):
    root = _release(tmp_path, "r")
    data = (root / "audio.zip").read_bytes()
    (root / "audio.zip").write_bytes(data[: len(data) // 2])  # truncated download: no central directory
    proc = _build(tmp_path / "b", "--media", f"hub:{root}", tasks="va_audio_kpt")
    _one_line_exit_2(proc, "audio.zip", "corrupt")
    # a member whose bytes were damaged after zipping: the CRC check refuses it
    root2 = _release(tmp_path, "r2")
    raw = bytearray((root2 / "video.zip").read_bytes())
    with zipfile.ZipFile(root2 / "video.zip") as zf:
        info = zf.getinfo("VA-SafetyBench/Video/1-IllegalActivitiy/TYPO/0.mp4")
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    raw[start + 10 : start + 20] = b"\xff" * 10
    (root2 / "video.zip").write_bytes(bytes(raw))
    proc = _build(tmp_path / "b2", "--media", f"hub:{root2}", tasks="va_video_typo")
    _one_line_exit_2(proc, "video.zip", "Video/1-IllegalActivitiy/TYPO/0.mp4")


def _bomb(path: Path, name: str, real: bytes, declare: int | None = None) -> None:
    """A zip with one member whose bytes are `real`; `declare` forges its declared size in both headers."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(name, real)
    if declare is None:
        return
    raw = bytearray(path.read_bytes())
    struct.pack_into("<I", raw, 22, declare)  # local file header: uncompressed size
    central = raw.find(b"PK\x01\x02")
    struct.pack_into("<I", raw, central + 24, declare)  # central directory: uncompressed size
    path.write_bytes(bytes(raw))


BOMB_TARGETS = {  # option -> (archive name, member, task, the bench file it would become)
    "--dm": (
        "video.zip",
        "VA-SafetyBench/Video/1-IllegalActivitiy/DM/0.mp4",
        "va_video_dm",
        "Video/1-IllegalActivitiy/DM/0.mp4",
    ),
    "--sd": (
        "imgs.zip",
        "MM-SafetyBench/imgs/01-Illegal_Activitiy/SD/0.jpg",
        "mmsb_sd",
        "Image/01-Illegal_Activitiy/SD/0.jpg",
    ),
}


@pytest.mark.parametrize("option", sorted(BOMB_TARGETS))
@pytest.mark.parametrize("case", ["declared_huge", "ratio", "stream_outgrows_its_size"])
def test_zip_bombs_are_refused_before_anything_large_is_written(tmp_path, case, option):
    zip_name, name, task, dest = BOMB_TARGETS[option]
    archive = tmp_path / zip_name
    if case == "declared_huge":  # a header claiming 3 GiB: refused from the directory alone
        _bomb(archive, name, b"\0" * 1000, declare=3 << 30)
    elif case == "ratio":  # 8 MiB of zeros in a few KB: under the size cap, far over any media's ratio
        _bomb(archive, name, b"\0" * (8 << 20))
    else:  # declares 2,000 bytes, holds 4 MiB: the copy stops at the declared size
        _bomb(archive, name, b"\0" * (4 << 20), declare=2000)
    bench = tmp_path / "b"
    proc = run_cli(
        "build", "--source", str(SHARED_DATA), "--out", str(bench), "--tasks", task,
        "--scenarios", "1", "--limit", "1", option, f"hub:{archive}",
    )  # fmt: skip
    _one_line_exit_2(proc, zip_name, name)
    written = sum(p.stat().st_size for p in bench.rglob("*") if p.is_file()) if bench.exists() else 0
    assert written < 100_000 and not (bench / dest).exists()


def test_media_hub_offline_names_the_local_option(tmp_path):
    proc = run_cli(
        "build", "--source", str(SHARED_DATA), "--out", str(tmp_path / "c"), "--tasks", "va_audio_kpt",
        *ARGS, "--media", "hub", env={"HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")},
    )  # fmt: skip
    _one_line_exit_2(proc, "audio.zip", "luweikai/VA-SafetyBench", "--media hub:PATH")


def test_options_that_contradict_media_and_the_rendered_note(tmp_path, release):
    root, _ = release
    proc = _build(tmp_path / "b", "--media", f"hub:{root}", "--dm", "diffusers:x", tasks="va_video_dm")
    _one_line_exit_2(proc, "--media", "--dm")
    proc = _build(tmp_path / "b", "--media", f"hub:{tmp_path / 'nowhere'}", tasks="va_video_dm")
    _one_line_exit_2(proc, "nowhere")
    rendered = _build(tmp_path / "c", tasks="va_video_typo")
    assert rendered.returncode == 0 and len(_messages(rendered)) == 1
    assert "rendered" in rendered.stderr and "--media hub" in rendered.stderr
    demo = run_cli("build", "--source", "demo", "--out", str(tmp_path / "d"), "--tasks", "va_video_typo", *ARGS)
    text = run_cli("build", "--source", str(SHARED_DATA), "--out", str(tmp_path / "e"), "--tasks", "mmsb_text_only")
    assert "--media hub" not in demo.stderr + text.stderr  # made-up questions, or no media: nothing to say


def test_a_full_size_audio_release_reports_complete_counts(tmp_path):
    """All 972 items x 3 audio types (tiny identical mp3s): the counts say 'complete'."""
    from va_safetybench.scenarios import VA_SCENARIOS
    from va_safetybench.sources import load_items

    items = [i for i in load_items(str(SHARED_DATA), ("va",)) if i.benchmark == "va"]
    data = mp3_bytes(1, seconds=0.05)
    with zipfile.ZipFile(tmp_path / "audio.zip", "w", zipfile.ZIP_STORED) as zf:
        for item in items:
            for variant in ("Audio_only", "KPT", "KPT_noise"):
                zf.writestr(f"VA-SafetyBench/Audio/{item.scenario}/{variant}/{item.id}.mp3", data)
    assert len(items) == 972 and {i.scenario for i in items} == set(VA_SCENARIOS)
    proc = run_cli(
        "build", "--source", str(SHARED_DATA), "--out", str(tmp_path / "b"), "--tasks", "va_audio",
        "--media", f"hub:{tmp_path}", "--jobs", "2",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    for task in ("va_audio_only", "va_audio_kpt", "va_audio_kpt_noise"):
        assert f"{task}: 972 official mp3 files from audio.zip (complete)" in proc.stdout


def _mm_parquets(folder: Path, members: dict[str, bytes]) -> dict[str, Path]:
    """The Hub mirror's layout, data/{scenario without number}/{SD,TYPO,SD_TYPO}.parquet, from the release's imgs/."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    files = {}
    for scenario in MM_SCENARIOS:
        for split in MM_IMAGE:
            rows = {i: members[f"imgs/{scenario}/{split}/{i}.jpg"] for i in IDS}
            name = f"data/{scenario.split('-', 1)[1]}/{split}.parquet"
            path = folder / name
            path.parent.mkdir(parents=True, exist_ok=True)
            table = {"id": list(rows), "question": ["q"] * len(rows)}
            table["image"] = [{"bytes": b, "path": f"{i}.jpg"} for i, b in rows.items()]
            pq.write_table(pa.table(table), path)
            files[name] = path
    return files


def test_media_hub_downloads_both_archives_and_the_mm_parquets(release, tmp_path, monkeypatch):
    import huggingface_hub

    from va_safetybench.commands.build import select_items
    from va_safetybench.materialize.runner import build
    from va_safetybench.materialize.settings import BuildSettings
    from va_safetybench.media.source_spec import parse_media
    from va_safetybench.sources import load_items

    root, members = release
    parquets = _mm_parquets(tmp_path / "hub", members)
    asked = []

    def fake_download(repo_id, filename, repo_type=None, revision=None):
        asked.append((repo_id, filename, repo_type))
        return str(root / filename) if repo_id == "luweikai/VA-SafetyBench" else str(parquets[filename])

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_download)
    items = select_items(load_items(str(SHARED_DATA), ("mmsb", "va")), ["1", "2"], 2)
    bench = tmp_path / "b"
    report = build(items, MEDIA_TASKS, bench, BuildSettings(media=parse_media("hub")), jobs=1)
    assert not report.failed and report.rendered == 4 * len(MEDIA_TASKS)
    assert {a[1] for a in asked} == {"video.zip", "audio.zip", *parquets} and {a[2] for a in asked} == {"dataset"}
    for task in MEDIA_TASKS:
        for e in _manifest(bench, task):
            name = e["media"].replace("Image/", "imgs/", 1)
            assert (bench / e["media"]).read_bytes() == members[name]
            if task.startswith("mmsb"):
                hub_file = f"data/{e['scenario'].split('-', 1)[1]}/{TASKS[task].media.variant}.parquet"
                assert e["archive"] == f"PKU-Alignment/MM-SafetyBench:{hub_file}"
                assert e["archive_sha256"] == hashlib.sha256(parquets[hub_file].read_bytes()).hexdigest()
            else:
                assert e["archive"].startswith("luweikai/VA-SafetyBench:")


def test_media_hub_path_reads_the_mirrors_parquet_files(release, tmp_path):
    root, members = release
    folder = tmp_path / "mm"
    _mm_parquets(folder, members)
    bench = tmp_path / "b"
    proc = _build(bench, "--media", f"hub:{folder}", tasks="mm_safetybench")
    assert proc.returncode == 0, proc.stderr
    for task in ("mmsb_sd", "mmsb_typo", "mmsb_sd_typo"):
        for e in _manifest(bench, task):
            assert e["origin"] == "official" and e["archive"].endswith(".parquet")
            assert (bench / e["media"]).read_bytes() == members[e["media"].replace("Image/", "imgs/", 1)]


def test_a_folder_without_the_mediums_archive_says_which_one_is_expected(release, tmp_path):
    root, _ = release
    only_video = tmp_path / "only-video"
    only_video.mkdir()
    (only_video / "video.zip").write_bytes((root / "video.zip").read_bytes())
    proc = _build(tmp_path / "b", "--media", f"hub:{only_video}", tasks="va_video_dm,va_audio_kpt")
    _one_line_exit_2(proc, "expected audio.zip", "va_audio_kpt")
    assert not (tmp_path / "b" / "Video").exists()  # checked before anything was copied
