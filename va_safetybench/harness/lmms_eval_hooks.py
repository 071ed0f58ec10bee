"""Our safety tasks as lmms-eval tasks: the hooks of the task pack in va_safetybench/lmms_eval_tasks/.

lmms-eval (a fork of lm-eval 0.4 that most multimodal model teams run) differs from lm-eval in what a task hands
a model, so the pack has YAMLs of its own, over the same documents, judge and metrics:
  - media come from `doc_to_visual`, called by the model class when it generates (lmms-eval's convention): an
    image as a PIL image (`BenchImage`), a video as its file path (lmms-eval's video models read paths), audio
    as {"type": "audio", "array", "sampling_rate", "path"} decoded now at 16 kHz (or
    `$VA_BENCH_AUDIO_SAMPLING_RATE`);
  - the prompt is the official one, with no placeholder: lmms-eval's model classes place the media themselves;
  - lmms-eval has no task metadata option and no `custom_dataset`: the bench directory comes from
    `$VA_BENCH_DIR`, the judge from `$VA_BENCH_JUDGE` (a `--judge` spec, default keyword) and
    `$VA_BENCH_JUDGE_ARGS` (JSON or k=v,..); each YAML loads a one-line stub with lmms-eval's json loader and its
    `process_docs` puts the bench's documents (docs.task_docs, the verified media) in its place;
  - lmms-eval hands its filters the task's whole document list rather than each response's own document (under
    several processes the two do not line up), so responses are judged in `process_results`, one document at a
    time, by the same judge and code as lm-eval's `judge` filter (metrics.JudgeFilter); with a GPT judge that
    means one request after another, where lm-eval's filter sends them concurrently.
The metrics are lm-eval's: asr, asr_macro, asr_official, asr_official_macro (metrics.py).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ..errors import InputError
from . import metrics
from .docs import VIDEO_EXTS, resolve_bench, task_docs
from .media_inputs import DEFAULT_AUDIO_SAMPLING_RATE, BenchAudio, BenchImage
from .task_errors import report_in_one_line

JUDGE_ENV = "VA_BENCH_JUDGE"
JUDGE_ARGS_ENV = "VA_BENCH_JUDGE_ARGS"
AUDIO_RATE_ENV = "VA_BENCH_AUDIO_SAMPLING_RATE"


def pack_dir() -> Path:
    """The lmms-eval task pack: `lmms-eval --include_path <this> --tasks va_video_typo,...`."""
    return Path(__file__).resolve().parent.parent / "lmms_eval_tasks"


def bench_docs(task: str) -> Any:
    """`process_docs` of one task: the bench's documents in place of the loaded stub, and the judge set up."""
    import datasets

    from .docs import audio_sampling_rate

    report_in_one_line()
    docs = task_docs(resolve_bench(), task)
    rate = audio_sampling_rate({"audio_sampling_rate": os.environ.get(AUDIO_RATE_ENV, DEFAULT_AUDIO_SAMPLING_RATE)})
    for doc in docs:
        doc["audio_sampling_rate"] = rate
    metrics.configure(task, {"judge": os.environ.get(JUDGE_ENV), "judge_args": _judge_args()})
    return datasets.Dataset.from_list(docs)


def _judge_args() -> Any:
    """$VA_BENCH_JUDGE_ARGS as a JSON object or "k=v,.." (metrics.judge_settings reads the latter)."""
    text = os.environ.get(JUDGE_ARGS_ENV, "").strip()
    if not text.startswith("{"):
        return text or None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"${JUDGE_ARGS_ENV} is not a JSON object ({exc.msg}); give JSON or k=v,..") from None


def doc_to_visual(doc: dict) -> list:
    """An image as a PIL image, a video as its path, audio as a decoded {"type", "array", "sampling_rate", "path"}."""
    media = doc["media"]
    if not media:
        return []
    if Path(media).suffix.lower() in VIDEO_EXTS:
        return [media]
    if doc["modality"] == "audio":
        audio = BenchAudio(Path(media), doc.get("audio_sampling_rate") or DEFAULT_AUDIO_SAMPLING_RATE)
        # a plain dict (lmms-eval's simple models test isinstance(visual, dict) and read array and sampling_rate);
        # "type" for its chat models, which take an untyped dict for a video
        return [{"type": "audio", **audio}]
    return [BenchImage(Path(media))]


def doc_to_text(doc: dict, lmms_eval_specific_kwargs: dict | None = None) -> str:
    """The official prompt; empty for VA Audio-only, where the audio is the whole question."""
    return doc["prompt"] or ""


def process_results(doc: dict, results: list) -> dict[str, Any]:
    """The response judged (lm-eval's judge filter on this one document), then lm-eval's metric values."""
    verdicts = metrics.JudgeFilter().apply([[_text(results[0])]], [doc])
    return metrics.process_results(doc, verdicts)


def _text(result: Any) -> str:
    """lmms-eval's chat model classes return GenerationResult objects, its simple ones strings."""
    return result if isinstance(result, str) else str(getattr(result, "text", result))
