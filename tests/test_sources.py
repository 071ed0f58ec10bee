"""Question sources: the official files join completely; bad files fail with one clear line."""

from __future__ import annotations

import functools
import json
import shutil
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from va_safetybench.errors import InputError
from va_safetybench.scenarios import VA_SCENARIOS
from va_safetybench.sources import load_items, official
from va_safetybench.sources.loader import resolve_source_dir
from va_safetybench.taskspec import TASKS

from .conftest import run_cli

DEMO_DIR = resolve_source_dir("demo")


def test_every_official_va_item_gets_its_mm_key_phrase(shared_data: Path) -> None:
    items = load_items(shared_data)
    va = [i for i in items if i.benchmark == "va"]
    mm = [i for i in items if i.benchmark == "mmsb"]
    assert len(va) == 972 and len(mm) == 1680
    assert {i.scenario for i in va} == set(VA_SCENARIOS)
    assert all(i.key_phrase.strip() and i.phrase_type in ("activity", "product") for i in va)
    va_tasks = {t for t, spec in TASKS.items() if spec.benchmark == "va"}
    assert all(set(i.prompts) == va_tasks for i in va)
    assert all(i.prompts["va_audio_only"] is None for i in va)
    assert len({i.key for i in items}) == len(items)


def test_demo_set_has_two_items_per_va_scenario_and_loads_offline() -> None:
    items = load_items("demo")
    va = [i for i in items if i.benchmark == "va"]
    assert sorted(i.scenario for i in va) == sorted(VA_SCENARIOS * 2)
    assert {i.phrase_type for i in va} == {"activity", "product"}
    for item in va:  # prompts follow the official templates
        assert item.prompts["va_video_typo"].startswith("The video shows a phrase of a")
        assert item.prompts["va_audio_kpt_noise"].startswith("The end of the audio shows")


def _copy_demo(tmp_path: Path) -> Path:
    root = tmp_path / "src"
    shutil.copytree(DEMO_DIR, root)
    return root


def _edit(path: Path, change) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def test_malformed_json_names_the_file(tmp_path: Path) -> None:
    root = _copy_demo(tmp_path)
    bad = root / "va-safetybench" / "Video_questions" / "6-Fraud.json"
    bad.write_text('{"0": {"Text_only": "x",')
    with pytest.raises(InputError, match=r"6-Fraud\.json: malformed JSON"):
        load_items(root)
    result = run_cli("build", "--source", str(root), "--tasks", "va_video_text_only", "--out", str(tmp_path / "b"))
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "6-Fraud.json" in result.stderr


def test_empty_key_phrase_names_file_and_item(tmp_path: Path) -> None:
    root = _copy_demo(tmp_path)
    path = root / "mm-safetybench" / "processed_questions" / "04-Physical_Harm.json"
    _edit(path, lambda d: d["1"].update({"Key Phrase": "  "}))
    with pytest.raises(InputError, match=r"04-Physical_Harm\.json: item '1' has an empty or non-text 'Key Phrase'"):
        load_items(root)


def test_missing_field_duplicate_id_and_unknown_scenario(tmp_path: Path) -> None:
    root = _copy_demo(tmp_path)
    audio = root / "va-safetybench" / "Audio_questions" / "2-HateSpeech.json"
    _edit(audio, lambda d: d["0"].pop("KPT"))
    with pytest.raises(InputError, match=r"2-HateSpeech\.json: item '0' lacks field 'KPT'"):
        load_items(root)

    root = _copy_demo(tmp_path / "b")
    video = root / "va-safetybench" / "Video_questions" / "7-Sex.json"
    text = video.read_text()
    video.write_text(text.replace('"1": {', '"0": {', 1))
    with pytest.raises(InputError, match=r"7-Sex\.json: duplicate item id '0'"):
        load_items(root)

    root = _copy_demo(tmp_path / "c")
    shutil.copy(
        root / "va-safetybench" / "Video_questions" / "6-Fraud.json",
        root / "va-safetybench" / "Video_questions" / "9-Gambling.json",
    )
    with pytest.raises(InputError, match=r"9-Gambling\.json: unknown scenario"):
        load_items(root)


def test_va_item_without_mm_counterpart_is_an_error(tmp_path: Path) -> None:
    root = _copy_demo(tmp_path)
    _edit(root / "mm-safetybench" / "processed_questions" / "06-Fraud.json", lambda d: d.pop("1"))
    with pytest.raises(InputError, match=r"6-Fraud\.json: item '1' has no MM-SafetyBench key phrase"):
        load_items(root)


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def upstream(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A local HTTP server standing in for raw.githubusercontent.com, serving the demo files."""
    site = tmp_path / "site"
    shutil.copytree(DEMO_DIR / "va-safetybench", site / "sea" / "VA-SafetyBench")
    shutil.copytree(DEMO_DIR / "mm-safetybench" / "processed_questions", site / "mmsb" / "data" / "processed_questions")
    requests: list[str] = []

    class Handler(_QuietHandler):
        def do_GET(self) -> None:
            requests.append(self.path)
            super().do_GET()

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(site)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{httpd.server_address[1]}"
    monkeypatch.setattr(official, "SEA_RAW", base + "/sea/VA-SafetyBench/{kind}/{scenario}.json")
    monkeypatch.setattr(official, "MMSB_RAW", base + "/mmsb/data/processed_questions/{scenario}.json")
    yield requests
    httpd.shutdown()
    httpd.server_close()


def test_official_download_caches_with_checksums(tmp_path: Path, upstream: list[str]) -> None:
    cache = tmp_path / "cache"
    # the demo set holds 8 of the 13 MM scenarios: the other 5 answer 404
    with pytest.raises(InputError, match="--source DIR"):
        official.fetch_official(cache)
    for scenario in (
        "08-Political_Lobbying",
        "10-Legal_Opinion",
        "11-Financial_Advice",
        "12-Health_Consultation",
        "13-Gov_Decision",
    ):
        target = tmp_path / "site" / "mmsb" / "data" / "processed_questions" / f"{scenario}.json"
        target.write_text(json.dumps({}))
    root = official.fetch_official(cache)
    written = json.loads((root / "checksums.json").read_text())
    assert written["format_version"] == official.CHECKSUMS_FORMAT.version
    sums = official.read_checksums(root / "checksums.json")
    assert len(sums) == 8 * 2 + 13 and sums == written["files"]
    (root / "checksums.json").write_text(json.dumps(sums))  # as version 1 wrote it: the mapping alone
    assert official.read_checksums(root / "checksums.json") == sums
    first_round = len(upstream)
    official.fetch_official(cache)  # everything cached and verified: no request
    assert len(upstream) == first_round
    victim = root / "va-safetybench" / "Audio_questions" / "3-MalwareGeneration.json"
    victim.write_text("{}")  # a damaged cache file is fetched again
    official.fetch_official(cache)
    assert len(upstream) == first_round + 1
    assert json.loads(victim.read_text()) == json.loads(
        (DEMO_DIR / "va-safetybench" / "Audio_questions" / "3-MalwareGeneration.json").read_text()
    )


def test_official_offline_error_names_source_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(official, "SEA_RAW", "http://127.0.0.1:9/{kind}/{scenario}.json")
    with pytest.raises(InputError, match=r"pass --source DIR"):
        official.fetch_official(tmp_path / "cache", timeout=2)
