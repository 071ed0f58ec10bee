"""LibriSpeech test-clean (Panayotov et al. 2015): 2,620 utterances, scored by word error rate.

Source: hub `openslr/librispeech_asr` config `clean` split `test`, or a local copy: either the
hub's parquet/jsonl format (audio as {bytes, path} or a file path; text) or the OpenSLR folder
itself (`LibriSpeech/test-clean/SPEAKER/CHAPTER/*.flac` with `*.trans.txt`).
WER: as lmms-eval reports it (wer.py): corpus-level, x 100 (metric `wer_percent`), after the special-token
strip, Whisper's English normaliser with its spelling map and Whisper's basic normaliser. The prompt is ours;
lmms-eval's is "Please recognize the speech and only output the recognized content:".
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import InputError
from ..harness.docs import audio_sampling_rate
from ..harness.media_inputs import DEFAULT_AUDIO_SAMPLING_RATE, BenchAudio, EncodedAudio, with_placeholders
from ..harness.model_checks import refuse_unfit_model
from .sources import hub_rows, local_copy, read_rows
from .wer import words

HUB_ID = "openslr/librispeech_asr"
PROMPT = "Transcribe the speech in this audio into English text. Output only the transcript."


def openslr_rows(root: Path) -> list[dict]:
    """Rows of the OpenSLR layout: one per line of each CHAPTER/*.trans.txt ("ID TEXT"), audio ID.flac beside it."""
    rows = []
    for trans in sorted(root.rglob("*.trans.txt")):
        for line in trans.read_text(encoding="utf-8").splitlines():
            utt, _, text = line.strip().partition(" ")
            if utt:
                rows.append({"id": utt, "text": text, "audio": str(trans.parent / f"{utt}.flac")})
    return rows


def load_rows(metadata: dict[str, Any]) -> list[dict]:
    path = local_copy("librispeech", metadata)
    if path is None:
        rows = hub_rows("librispeech", HUB_ID, "test", "clean", raw_audio=True)
    elif path.is_dir() and any(path.rglob("*.trans.txt")):
        rows = openslr_rows(path)
    else:
        rows = read_rows(path)
    base = path if path and path.is_dir() else (path.parent if path else None)
    docs = []
    for r in rows:
        audio = r["audio"]
        if isinstance(audio, dict) and audio.get("bytes"):
            docs.append({"id": str(r["id"]), "text": r["text"], "audio_bytes": audio["bytes"], "audio_path": ""})
            continue
        file = Path(audio["path"] if isinstance(audio, dict) else audio)
        file = file if file.is_absolute() or base is None else base / file
        if not file.is_file():
            raise InputError(f"librispeech {r['id']}: audio {file} not found")
        docs.append({"id": str(r["id"]), "text": r["text"], "audio_bytes": b"", "audio_path": str(file)})
    return docs


def load_dataset(**metadata: Any):
    """The documents, each with the rate its audio is decoded at (task metadata `audio_sampling_rate`, default
    16 kHz, as for the safety tasks)."""
    import datasets

    rate = audio_sampling_rate(metadata)
    docs = [{**doc, "audio_sampling_rate": rate} for doc in load_rows(metadata)]
    return datasets.DatasetDict({"test": datasets.Dataset.from_list(docs)})


def prompt(doc: dict) -> str:
    return PROMPT


def doc_to_text(doc: dict) -> str:
    """The prompt after lm-eval's audio placeholder (lm-eval's audio model classes put the audio there)."""
    return with_placeholders(prompt(doc), ["audio"])


def doc_to_audio(doc: dict) -> list:
    """lm-eval's audio dict, decoded on first use at the document's rate: from the utterance's file, or from the
    encoded bytes the hub's parquet holds."""
    refuse_unfit_model("librispeech_test_clean", "audio")
    rate = doc.get("audio_sampling_rate") or DEFAULT_AUDIO_SAMPLING_RATE
    if doc["audio_path"]:
        return [BenchAudio(Path(doc["audio_path"]), rate)]
    return [EncodedAudio(doc["audio_bytes"], rate, name=f"librispeech {doc['id']}")]


def process_results(doc: dict, results: list[str]) -> dict:
    """The normalised reference and hypothesis words (sample logs show what WER compared)."""
    return {"wer_percent": (" ".join(words(doc["text"])), " ".join(words(results[0])))}
