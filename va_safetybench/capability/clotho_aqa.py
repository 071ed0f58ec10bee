"""Clotho-AQA (Lipping et al. 2022): questions about 10-30 s environmental sounds.

Why Clotho-AQA rather than AIR-Bench: a single documented CSV format with plain answers
(yes/no and single words, the scoring its authors define), no GPT judge; AIR-Bench's foundation
set spans 19 source datasets and its chat set needs a GPT scorer.
Source: a local copy of the Zenodo release only (no hub copy is assumed): `clotho_aqa_test.csv`
(file_name, QuestionText, answer, confidence; three annotators' answers per question, one row
each) with the audio files in the same folder or in `audio_files/`. The label of a question is
the majority answer of its annotators (first one on a tie). Metrics as in the paper: accuracy on
the yes/no questions (extract.parse_yes_no) and on the single-word questions (first word of the
response, lower-cased, punctuation stripped).
"""

from __future__ import annotations

import string
from collections import Counter
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..harness.docs import audio_sampling_rate
from ..harness.media_inputs import DEFAULT_AUDIO_SAMPLING_RATE, BenchAudio, with_placeholders
from ..harness.model_checks import refuse_unfit_model
from .extract import parse_yes_no
from .sources import local_copy, read_rows

PROMPT = "{question} Answer with a single word."


def build_docs(rows: list[dict], audio_dir: Path) -> list[dict]:
    answers: dict[tuple[str, str], list[str]] = {}
    for r in rows:
        answers.setdefault((str(r["file_name"]), str(r["QuestionText"]).strip()), []).append(
            str(r["answer"]).strip().lower()
        )
    docs = []
    for (file_name, question), given in answers.items():
        label = Counter(given).most_common(1)[0][0]
        docs.append(
            {
                "file": str(audio_dir / file_name),
                "question": question,
                "answer": label,
                "yes_no": label in ("yes", "no"),
            }
        )
    return docs


def load_dataset(**metadata: Any):
    import datasets

    path = local_copy("clotho_aqa", metadata)
    if path is None:
        raise InputError(
            "clotho_aqa: no local copy; download Clotho-AQA from Zenodo (record 6473207) and pass "
            "--metadata '{\"clotho_aqa_path\": DIR}' (DIR holds clotho_aqa_test.csv and the audio)"
        )
    folder = path if path.is_dir() else path.parent
    audio_dir = folder / "audio_files" if (folder / "audio_files").is_dir() else folder
    docs = build_docs(read_rows(path, stem_filter="test" if path.is_dir() else None), audio_dir)
    missing = next((d["file"] for d in docs if not Path(d["file"]).is_file()), None)
    if missing:
        raise InputError(f"clotho_aqa: audio {missing} not found")
    rate = audio_sampling_rate(metadata)  # Clotho is 44.1 kHz; Whisper-family encoders take 16 kHz
    for doc in docs:
        doc["audio_sampling_rate"] = rate
    return datasets.DatasetDict({"test": datasets.Dataset.from_list(docs)})


def prompt(doc: dict) -> str:
    return PROMPT.format(question=doc["question"])


def doc_to_text(doc: dict) -> str:
    """The question after lm-eval's audio placeholder (lm-eval's audio model classes put the audio there)."""
    return with_placeholders(prompt(doc), ["audio"])


def doc_to_audio(doc: dict) -> list:
    """lm-eval's audio dict, decoded on first use at the document's rate."""
    refuse_unfit_model("clotho_aqa", "audio")
    return [BenchAudio(Path(doc["file"]), doc.get("audio_sampling_rate") or DEFAULT_AUDIO_SAMPLING_RATE)]


def first_word(response: str) -> str:
    words = (response or "").lower().translate(str.maketrans("", "", string.punctuation)).split()
    return words[0] if words else ""


def process_results(doc: dict, results: list[str]) -> dict:
    if doc["yes_no"]:
        return {"yes_no_acc": float(parse_yes_no(results[0]) == doc["answer"]), "single_word_acc": None}
    return {"yes_no_acc": None, "single_word_acc": float(first_word(results[0]) == doc["answer"])}
