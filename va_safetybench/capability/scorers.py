"""Which scorer produced each capability / over-refusal number: recorded in summary.json under `scorers`.

A change to how answers are read changes the scores, so every number carries the version of the rule that
produced it: two runs' scores are comparable when their task's scorer version is the same (README: "Which
scores are comparable"). Bump a version whenever its task's reading, normalisation or metric changes.
"""

from __future__ import annotations

from .mcq import DEFAULT_READING

# task -> (version, what the version means)
SCORERS: dict[str, tuple[str, str]] = {
    "mmbench_en_dev": ("mmbench-2", "lmms-eval mmbench_en_dev prompt; prefetch then extract_mcq_answer; CircularEval"),
    "mme": ("mme-2", "lmms-eval parse_pred_ans; (acc + acc+) x 100 per subtask"),
    "videomme": ("videomme-2", "lmms-eval extract_mcq_answer over A-D; accuracy"),
    "librispeech_test_clean": ("librispeech-2", "lmms-eval chain: specials, Whisper English + basic; WER x 100"),
    "clotho_aqa": ("clotho-2", "yes/no by lmms-eval parse_pred_ans; single word by first word"),
    "xstest_safe": ("refusal-2", "keyword list; XSTest strmatch prefixes; XSTest GPT classifier"),
    "benign_video_typo": ("refusal-2", "as xstest_safe"),
    "benign_audio_kpt": ("refusal-2", "as xstest_safe"),
    "benign_image_typo": ("refusal-2", "as xstest_safe"),
}


def scorer_entry(task: str, samples: list[dict]) -> dict[str, str] | None:
    """{"version", "rule", "reading"} for one task's summary entry: the reading its documents carried (a task
    with a choice of readings stores it in each document), else the default, lmms-eval's."""
    if task not in SCORERS:
        return None  # lm-eval's own tasks (gsm8k, ifeval) are scored by lm-eval's versioned configs
    version, rule = SCORERS[task]
    docs = [s["doc"] for s in samples if isinstance(s.get("doc"), dict)]
    reading = next((d["reading"] for d in docs if d.get("reading")), DEFAULT_READING)
    return {"version": version, "rule": rule, "reading": reading}
