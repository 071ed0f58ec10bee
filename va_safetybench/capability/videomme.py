"""Video-MME (Fu et al. 2024), without subtitles: 2,700 four-option questions on 900 videos.

Why Video-MME rather than MVBench: one uniform format (MP4 files named by YouTube id, letter
answers, one annotation table), short/medium/long splits that test long-video capability, and the
benchmark most multimodal model cards report; MVBench mixes 20 source datasets with
their own video formats (frame folders, GIFs, webm) and answers given as option text.

Source: annotations from hub `lmms-lab/Video-MME` split `test` or a local copy (parquet/jsonl with
video_id, duration, domain, sub_category, videoID, question_id, task_type, question, options
["A. ...", ...], answer letter); videos are `{videoID}.mp4` in a folder: metadata `videomme_videos`,
else `data/` or `videos/` inside the local copy (the hub ships them as zip archives: unpack them there).
Prompt: Video-MME's own ("Select the best answer ... The best answer is:"; lmms-eval's default adds "and the
subtitles" and ends "Answer with the option's letter from the given choices directly."). Answers are read as
lmms-eval's videomme reads them (mcq.videomme_letter: extract_mcq_answer over A-D); task metadata
`videomme_reading: "lmms-eval+option-text"` adds our option-text stage. Metric: accuracy, overall and per
duration.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import InputError
from ..harness.model_checks import refuse_unfit_model
from .mcq import check_reading, videomme_letter
from .sources import hub_rows, local_copy, read_rows

HUB_ID = "lmms-lab/Video-MME"
PROMPT = (
    "Select the best answer to the following multiple-choice question based on the video. "
    "Respond with only the letter (A, B, C, or D) of the correct option.\n{question}\n{options}\n"
    "The best answer is:"
)
DURATIONS = ("short", "medium", "long")


def video_folder(path: Path | None, metadata: dict[str, Any]) -> Path:
    explicit = metadata.get("videomme_videos")
    candidates = (
        [Path(str(explicit)).expanduser()]
        if explicit
        else [path / sub for sub in ("data", "videos")]
        if path and path.is_dir()
        else []
    )
    for folder in candidates:
        if folder.is_dir():
            return folder
    raise InputError(
        "videomme: no video folder; unpack the Video-MME videos into DIR and pass "
        "--metadata '{\"videomme_videos\": DIR}' (or put them in data/ of the local copy)"
    )


def parse_options(options: list[str]) -> dict[str, str]:
    """["A. red", "B. blue"] -> {"A": "red", "B": "blue"}."""
    out = {}
    for text in options:
        letter, _, rest = str(text).partition(".")
        out[letter.strip()] = rest.strip()
    return out


def load_dataset(**metadata: Any):
    import datasets

    path = local_copy("videomme", metadata)
    rows = read_rows(path, stem_filter=None) if path else hub_rows("videomme", HUB_ID, "test")
    videos = video_folder(path, metadata)
    reading = check_reading(metadata.get("videomme_reading"), "videomme")
    docs: list[dict[str, Any]] = [
        {
            "question_id": str(r["question_id"]),
            "duration": str(r["duration"]),
            "task_type": str(r["task_type"]),
            "question": str(r["question"]),
            "options": [str(o) for o in r["options"]],
            "answer": str(r["answer"]).strip(),
            "video": str(videos / f"{r['videoID']}.mp4"),
            "reading": reading,
        }
        for r in rows
    ]
    if not any(Path(str(d["video"])).is_file() for d in docs):
        raise InputError(f"videomme: none of the videos named by the annotations is in {videos}")
    return datasets.DatasetDict({"test": datasets.Dataset.from_list(docs)})


def doc_to_text(doc: dict) -> str:
    return PROMPT.format(question=doc["question"], options="\n".join(doc["options"]))


def doc_to_image(doc: dict) -> list:
    """{"type": "video", "path": ...}: a model class that takes no video (all of lm-eval's) is refused in one
    line while lm-eval builds the requests (harness.model_checks)."""
    refuse_unfit_model("videomme", "video")
    if not Path(doc["video"]).is_file():
        raise InputError(f"videomme {doc['question_id']}: video {doc['video']} is missing")
    return [{"type": "video", "path": doc["video"]}]


def process_results(doc: dict, results: list[str]) -> dict:
    letter = videomme_letter(results[0], parse_options(doc["options"]), doc.get("reading") or "lmms-eval")
    correct = float(letter == doc["answer"])
    out: dict[str, float | None] = {"acc": correct}
    for duration in DURATIONS:
        out[f"acc_{duration}"] = correct if doc["duration"] == duration else None
    return out
