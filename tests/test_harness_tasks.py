"""Our lm-eval task YAMLs load through lm-eval's TaskManager (a broken YAML is otherwise skipped
silently), read a real built bench, and refuse a missing or unavailable build with the fix."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from va_safetybench.errors import InputError
from va_safetybench.harness.docs import tasks_dir
from va_safetybench.models.media_loading import load_audio
from va_safetybench.taskspec import GROUPS, TASKS

from .harness_support import build_small_bench, manifest

AVAILABLE = [t for t in TASKS if t not in ("va_video_dm", "va_video_dm_typo", "mmsb_sd", "mmsb_sd_typo")]


@pytest.fixture(scope="module")
def bench(tmp_path_factory) -> Path:
    return build_small_bench(tmp_path_factory.mktemp("bench") / "bench", tasks="va_video,va_audio,mm_safetybench")


def _manager(bench_dir: Path | None):
    from lm_eval.tasks import TaskManager

    return TaskManager(
        include_path=str(tasks_dir()), include_defaults=False, metadata={"bench": str(bench_dir)} if bench_dir else {}
    )


def test_every_task_and_group_is_indexed_as_its_kind():
    from lm_eval.tasks._index import Kind

    index = _manager(None).task_index
    assert {n: index[n].kind for n in TASKS if n in index} == dict.fromkeys(TASKS, Kind.TASK)
    assert {n: index[n].kind for n in GROUPS if n in index} == dict.fromkeys(GROUPS, Kind.GROUP)
    assert {index[n].yaml_path.parent.name for n in [*TASKS, *GROUPS]} == {"safetybench"}


@pytest.mark.parametrize("task", AVAILABLE)
def test_task_docs_match_the_manifest(bench, task):
    loaded = _manager(bench).load([task])["tasks"][task]
    entries = manifest(bench, task)
    docs = list(loaded.eval_docs)
    assert [(d["scenario"], d["id"]) for d in docs] == [(e["scenario"], e["id"]) for e in entries]
    modality = TASKS[task].modality
    assert bool(getattr(loaded, "MULTIMODAL", False)) == (modality != "text")
    for doc, entry in zip(docs, entries):
        expected = str(bench.resolve() / entry["media"]) if entry["media"] else None
        # the official string, after lm-eval's placeholder where an image or audio goes (its models put it there)
        placeholder = {"image": "<image>", "audio": "<audio>"}.get(modality, "") if expected else ""
        assert loaded.doc_to_text(doc) == placeholder + (entry["prompt"] or "")
        if modality == "video":
            assert loaded.doc_to_image(doc) == [{"type": "video", "path": expected}]
        elif modality == "image":
            (image,) = loaded.doc_to_image(doc)  # a PIL image, as hf-multimodal and vllm-vlm take it
            assert isinstance(image, Image.Image) and str(image.path) == expected
            with Image.open(expected) as original:
                assert image.size == original.size and image.tobytes() == original.tobytes()
        elif modality == "audio":
            (audio,) = loaded.doc_to_audio(doc)  # {"array", "sampling_rate"}, as hf-audiolm-qwen takes it
            assert audio["path"] == expected and audio["sampling_rate"] == 16000
            np.testing.assert_array_equal(audio["array"], load_audio(Path(expected), 16000))
        if expected:
            assert Path(expected).is_file()
    assert loaded.config.output_type == "generate_until"
    assert loaded.config.generation_kwargs["max_gen_toks"] == 300


def test_audio_group_loads_with_its_four_tasks(bench):
    loaded = _manager(bench).load(["va_audio"])
    assert sorted(loaded["tasks"]) == sorted(GROUPS["va_audio"])
    assert loaded["group_map"]["va_audio"] == list(GROUPS["va_audio"])


def test_va_safetybench_group_is_video_plus_audio():
    from lm_eval.tasks._yaml_loader import load_yaml

    cfg = load_yaml(tasks_dir() / "safetybench" / "va_safetybench.yaml", resolve_func=False)
    assert cfg["task"] == ["va_video", "va_audio"]


@pytest.mark.parametrize(
    "name,reason",
    [
        ("va_video_dm", "--dm none"),
        ("mmsb_sd", "--sd none"),
        ("va_video", "--dm none"),
        ("mm_safetybench", "--sd none"),
    ],
)
def test_unavailable_task_is_refused_with_the_build_reason(bench, name, reason):
    with pytest.raises(InputError, match="unavailable") as err:
        _manager(bench).load([name])
    assert reason in str(err.value)


def test_missing_manifest_names_the_build_command(tmp_path):
    (tmp_path / "manifests").mkdir()
    with pytest.raises(InputError) as err:
        _manager(tmp_path).load(["va_video_typo"])
    assert "va-bench build" in str(err.value) and "--tasks va_video_typo" in str(err.value)


def test_missing_media_names_the_build_command(bench, tmp_path):
    (tmp_path / "manifests").mkdir()
    shutil.copy(bench / "manifests" / "mmsb_typo.jsonl", tmp_path / "manifests")  # manifest without its images
    with pytest.raises(InputError) as err:
        _manager(tmp_path).load(["mmsb_typo"])
    assert "is missing" in str(err.value) and "va-bench build" in str(err.value)


def test_no_bench_directory_says_how_to_give_one(monkeypatch):
    monkeypatch.delenv("VA_BENCH_DIR", raising=False)
    with pytest.raises(InputError, match="VA_BENCH_DIR"):
        _manager(None).load(["mmsb_text_only"])


def test_bench_from_environment(bench, monkeypatch):
    monkeypatch.setenv("VA_BENCH_DIR", str(bench))
    loaded = _manager(None).load(["mmsb_text_only"])["tasks"]["mmsb_text_only"]
    assert len(loaded.eval_docs) == len(manifest(bench, "mmsb_text_only"))


def test_response_cache_survives_a_torn_last_line(tmp_path):
    from va_safetybench.harness.cache import ResponseCache

    path = tmp_path / "c.jsonl"
    ResponseCache(path).append([{"key": "a", "response": "one"}])
    with open(path, "a") as fh:
        fh.write('{"key": "b", "resp')  # killed mid-write
    cache = ResponseCache(path)
    assert cache.get("a") == "one" and cache.get("b") is None
    cache.append([{"key": "b", "response": "two"}])
    reread = ResponseCache(path)
    assert (reread.get("a"), reread.get("b"), len(reread)) == ("one", "two", 2)
    assert json.loads(path.read_text().splitlines()[-1]) == {"format_version": 1, "key": "b", "response": "two"}


def test_generation_settings_from_lm_eval_kwargs():
    from va_safetybench.harness.lm_eval_models import settings_from_gen_kwargs, truncate_at_stop

    greedy = settings_from_gen_kwargs({"until": ["\n\n"], "max_gen_toks": 7, "do_sample": False, "temperature": 0.7})
    assert (greedy.max_new_tokens, greedy.temperature, greedy.stop) == (7, 0.0, ("\n\n",))
    sampled = settings_from_gen_kwargs({"until": "Q:", "do_sample": True, "temperature": 0.7, "top_p": 0.9})
    assert (sampled.max_new_tokens, sampled.temperature, sampled.top_p, sampled.stop) == (300, 0.7, 0.9, ("Q:",))
    assert truncate_at_stop("answer\n\nQ: next", ("\n\n",)) == "answer"
