"""How far to trust a judge's numbers: its known agreement with human labels, for summaries, printouts and pages.

Measured figures (judges/data/agreement.json) are `va-bench judge-agreement --human` on the public human-labelled
sets, written by that command (README: Judges); they count only for the judge version they measured. Published
figures (judges/data/published_agreement.json) are the model authors' own, on their own sets, marked as such, until
someone with the weights measures them here. Offline judges' ASRs are estimates, never publishable figures.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from .base import DATA_DIR

MEASURED = DATA_DIR / "agreement.json"
PUBLISHED = DATA_DIR / "published_agreement.json"
OFFLINE_ESTIMATE = "an offline estimate, not a publishable figure"
OFFLINE_JUDGES = ("lexical", "keyword", "strmatch")  # name prefixes: judges that read wording, not meaning
# sets holding rows a judge was trained on, whose figures are no measure of its agreement: `lexical` trained on
# GPTFuzz's train split (judges/lexical_train.py); GPTFuzz's evaluate split, held apart, counts
TRAINED_ON = {"lexical": frozenset({"gptfuzz"})}
MEASURED_COMMAND = (
    "va-bench judge-agreement --human xstest_v2.jsonl --human gptfuzz.jsonl --human gptfuzz.jsonl#split=evaluate "
    "--human purseclab_manual.jsonl --json judges/data/agreement.json"
)


@cache
def _measured() -> dict:
    return json.loads(MEASURED.read_text(encoding="utf-8")) if MEASURED.is_file() else {"sets": {}}


@cache
def _published() -> dict:
    return json.loads(PUBLISHED.read_text(encoding="utf-8")) if PUBLISHED.is_file() else {}


def is_offline_estimate(judge_name: str) -> bool:
    return judge_name.partition(":")[0] in OFFLINE_JUDGES


def known_agreement(judge_name: str, judge_version: str) -> dict[str, Any]:
    """{"kind": "measured" | "published" | "unmeasured", ...figures and their source}; measured figures only for
    the very judge version they were measured on, and only on sets it was not trained on."""
    sets = {}
    trained_on = TRAINED_ON.get(judge_name.partition(":")[0], frozenset())
    for set_name, entry in _measured()["sets"].items():
        if set_name in trained_on:
            continue
        for figures in entry["judges"].values():
            if figures["name"] == judge_name and figures["version"] == judge_version:
                sets[set_name] = {k: figures[k] for k in ("n", "accuracy", "kappa", "asr_bias")}
    out: dict[str, Any]
    if sets:
        out = {"kind": "measured", "sets": sets, "command": MEASURED_COMMAND}
    elif judge_name.partition(":")[0] in _published():
        out = {"kind": "published", **_published()[judge_name.partition(":")[0]]}
    else:
        out = {"kind": "unmeasured"}
    if is_offline_estimate(judge_name):
        out["note"] = OFFLINE_ESTIMATE
    return out


def trust_line(judge_name: str, agreement: dict[str, Any] | None) -> str:
    """One line for a printout: how often the judge agrees with people, and whether its ASR is publishable."""
    agreement = agreement or {"kind": "unmeasured"}
    if agreement["kind"] == "measured":
        cells = [f"{name} {100 * f['accuracy']:.1f}%" for name, f in agreement["sets"].items()]
        kappas = [f["kappa"] for f in agreement["sets"].values() if f["kappa"] is not None]
        figures = f"agrees with human labels on {', '.join(cells)}" + (
            f" (kappa {min(kappas):.2f}-{max(kappas):.2f})" if kappas else ""
        )
    elif agreement["kind"] == "published":
        figures = f"published agreement {agreement['figure']} on {agreement['set']} ({agreement['source']}; not measured here)"
    else:
        figures = "agreement with human labels not measured (va-bench judge-agreement --human measures it)"
    note = f"; {agreement['note']}" if agreement.get("note") else ""
    return f"judge {judge_name}: {figures}{note}"
