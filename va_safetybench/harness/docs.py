"""lm-eval task documents read from a built bench directory's manifests.

Our lm-eval tasks (tasks/safetybench/*.yaml) carry no data: their `custom_dataset` calls
`load_dataset` here, which reads `manifests/{task}.jsonl` written by `va-bench build`. The bench
directory comes from, in order:
  1. lm-eval task metadata key `bench`: `lm-eval ... --metadata '{"bench": "DIR"}'`,
     `TaskManager(metadata={"bench": DIR})`, or `bench=DIR` in --model_args (lm-eval merges
     model_args into task metadata);
  2. the environment variable VA_BENCH_DIR.
Prompts are the official strings exactly as the manifest holds them, after lm-eval's media placeholder
(`<image>`, `<audio>`) where the item has an image or audio. Media go in the forms lm-eval's own model classes
take (media_inputs.py): images as PIL images (`BenchImage`, its file in `.path`), audio as
{"array", "sampling_rate", "path"} (`BenchAudio`, mono at `audio_sampling_rate` from the task metadata, default
16 kHz), video as {"type": "video", "path": ...} entries of the `visual` list, refused for a model class that
takes no video.

Scoring happens inside lm-eval too: the task metadata also names the judge, and metrics.py judges
the responses and reports the ASR as lm-eval metrics (see its docstring).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..fileio import jsonl_lines
from ..records import ManifestEntry, RecordError
from ..taskspec import TASKS
from .media_inputs import DEFAULT_AUDIO_SAMPLING_RATE, BenchAudio, BenchImage, with_placeholders
from .media_paths import ManifestLine, MediaVerifier
from .model_checks import refuse_unfit_model
from .task_errors import report_in_one_line

BENCH_ENV = "VA_BENCH_DIR"
VIDEO_EXTS = frozenset({".mp4", ".avi", ".mov", ".mkv", ".webm"})


def tasks_dir() -> Path:
    """The directory of our lm-eval YAMLs: packaged inside va_safetybench (wheel), else the repo's tasks/."""
    package = Path(__file__).resolve().parent.parent
    for candidate in (package / "tasks", package.parent / "tasks"):
        if (candidate / "safetybench").is_dir():
            return candidate
    raise InputError(
        f"lm-eval task configs not found next to {package} (expected tasks/safetybench/); reinstall va-safetybench"
    )


def build_hint(task: str, bench: Path) -> str:
    source = ""
    info = bench / "bench.json"
    if info.is_file():
        try:
            src = json.loads(info.read_text()).get("source")
        except (OSError, json.JSONDecodeError):
            src = None
        source = f" --source {src}" if src else ""
    return f"run `va-bench build{source} --tasks {task} --out {bench}` first"


def resolve_bench(metadata: dict[str, Any] | None = None) -> Path:
    bench = (metadata or {}).get("bench") or os.environ.get(BENCH_ENV)
    if not bench:
        raise InputError(
            f"no bench directory given: pass --bench DIR (va-bench eval), --metadata "
            f'\'{{"bench": "DIR"}}\' (lm-eval) or set {BENCH_ENV}; make one with '
            f"`va-bench build --tasks TASK --out DIR`"
        )
    return Path(str(bench)).expanduser().resolve()


def read_manifest(bench: Path, task: str) -> list[ManifestEntry]:
    """The manifest lines of `task`; a missing manifest names the build command that makes it."""
    return [line.entry for line in read_manifest_lines(bench, task)]


def read_manifest_lines(bench: Path, task: str) -> list[ManifestLine]:
    """The manifest lines of `task` with their line numbers (records.ManifestEntry); a line that is not the
    record an item needs is an InputError naming the file, line and field (never a KeyError later)."""
    if task not in TASKS:
        raise InputError(f"unknown task {task!r}; valid tasks: {', '.join(TASKS)}")
    path = bench / "manifests" / f"{task}.jsonl"
    if not path.is_file():
        raise InputError(f"{path} not found: {build_hint(task, bench)}")
    lines = []
    try:
        for line in jsonl_lines(path):
            if TASKS[task].media and "media" not in line.value:
                raise RecordError(f"{line.where}: missing field 'media'")
            lines.append(ManifestLine(path, line.number, ManifestEntry.from_json(line.value, line.where)))
    except InputError as exc:
        raise InputError(f"{exc}; {build_hint(task, bench)}") from None
    if not lines:
        raise InputError(f"{path} lists no items: {build_hint(task, bench)}")
    return lines


def unavailable_reason(entries: list[ManifestEntry]) -> str | None:
    for entry in entries:
        if entry.status == "unavailable":
            return entry.reason or "unavailable"
    return None


def task_docs(bench: Path, task: str) -> list[dict]:
    """One document per manifest item, media as absolute paths.

    An unavailable task (e.g. DM built with --dm none) is refused with the build's reason; media are
    resolved and checked by media_paths (inside the bench, present, the recorded sha256, within the
    size limits), so a bad line is refused here, before a model is loaded. Items whose render failed
    stay in, so that their failure is counted as an error.
    """
    lines = read_manifest_lines(bench, task)
    reason = unavailable_reason([line.entry for line in lines])
    if reason:
        raise InputError(f"task {task} is unavailable in {bench}: {reason}")
    verifier, hint = MediaVerifier(bench), build_hint(task, bench)
    docs = []
    for line in lines:
        entry = line.entry
        modality = entry.modality or TASKS[task].modality
        path = verifier.media(line, modality, hint) if TASKS[task].media else None
        docs.append(
            {
                "task": task,
                "benchmark": entry.benchmark,
                "scenario": entry.scenario,
                "id": entry.id,
                "key": entry.key,
                "prompt": entry.prompt,
                "question": entry.question,
                "modality": modality,
                "media": path,
                "media_sha256": entry.sha256,
            }
        )
    verifier.save()
    return docs


def first_per_scenario(docs: list[dict], limit: int) -> list[int]:
    """Indices of the first `limit` documents of each scenario (`--limit` means the same as in build)."""
    seen: dict[str, int] = {}
    keep = []
    for i, doc in enumerate(docs):
        seen[doc["scenario"]] = seen.get(doc["scenario"], 0) + 1
        if seen[doc["scenario"]] <= limit:
            keep.append(i)
    return keep


# ---- lm-eval hooks (referenced by tasks/safetybench/utils.py) ---------------------------------
def load_dataset(va_task: str, **metadata: Any):
    """`custom_dataset` of our YAMLs: lm-eval passes task metadata plus dataset_kwargs {va_task}.

    The metadata's judge is set up here too (metrics.configure), the one hook lm-eval gives a task's metadata;
    so is the rate audio is decoded at (`audio_sampling_rate`), kept in each audio document."""
    import datasets

    from . import metrics

    report_in_one_line()
    docs = task_docs(resolve_bench(metadata), va_task)
    if TASKS[va_task].modality == "audio":
        rate = audio_sampling_rate(metadata)
        for doc in docs:
            doc["audio_sampling_rate"] = rate
    metrics.configure(va_task, metadata)
    return datasets.DatasetDict({"test": datasets.Dataset.from_list(docs)})


def audio_sampling_rate(metadata: dict[str, Any]) -> int:
    value = metadata.get("audio_sampling_rate", DEFAULT_AUDIO_SAMPLING_RATE)
    if isinstance(value, bool) or not isinstance(value, (int, str)) or not str(value).isdigit() or int(value) < 1000:
        raise InputError(f"task metadata 'audio_sampling_rate' must be a rate in Hz such as 16000, got {value!r}")
    return int(value)


def doc_to_text(doc: dict) -> str:
    """The official prompt after one media placeholder per image / audio (lm-eval's models put the medium
    there; ours strips it); for VA Audio-only, where the audio is the whole question, the placeholder alone."""
    kinds = [doc["modality"]] if doc.get("media") else []
    return with_placeholders(doc["prompt"] or "", kinds)


def doc_to_image(doc: dict) -> list:
    """`visual` entries: a lazily decoded PIL image, or {"type": "video", "path": ...} for a video (a model class
    that cannot take them is refused when lm-eval builds the requests: model_checks)."""
    if not doc["media"]:
        return []
    if Path(doc["media"]).suffix.lower() in VIDEO_EXTS:
        refuse_unfit_model(doc["task"], "video")
        return [{"type": "video", "path": doc["media"]}]
    refuse_unfit_model(doc["task"], "image")
    return [BenchImage(Path(doc["media"]))]


def doc_to_audio(doc: dict) -> list:
    """`audio` entries: {"array", "sampling_rate", "path"}, the array decoded when a model class first reads it."""
    if not doc["media"]:
        return []
    refuse_unfit_model(doc["task"], "audio")
    return [BenchAudio(Path(doc["media"]), doc.get("audio_sampling_rate") or DEFAULT_AUDIO_SAMPLING_RATE)]
