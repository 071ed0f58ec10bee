"""Text safety data in the PKU-SafeRLHF schema -> harmful instructions with a safe and an unsafe response.

A row is kept when exactly one of its two responses is marked safe: that response is `chosen`
(the SFT target, the DPO preferred answer) and the other `rejected`. Other schemas are read through a
field mapping (`ours=theirs`). Ids are content hashes, so reruns and resumes see the same items.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from va_safetybench.errors import InputError

FIELDS = ("prompt", "response_0", "response_1", "is_response_0_safe", "is_response_1_safe")
HUB_NAME = "PKU-Alignment/PKU-SafeRLHF"


@dataclass(frozen=True)
class SafetyPair:
    id: str
    prompt: str
    chosen: str
    rejected: str


def parse_mapping(spec: str | None) -> dict[str, str]:
    """`prompt=question,response_0=a` -> {"prompt": "question", ...}; unknown names are an error."""
    mapping = {f: f for f in FIELDS}
    for part in filter(None, (spec or "").split(",")):
        ours, sep, theirs = part.partition("=")
        if not sep or ours.strip() not in FIELDS or not theirs.strip():
            raise InputError(f"--fields: {part!r} must be NAME=COLUMN with NAME one of {', '.join(FIELDS)}")
        mapping[ours.strip()] = theirs.strip()
    return mapping


# `--data demo`: the built-in demo questions (va_safetybench/demo_data), each with a refusal as its safe response and a
# compliance opening with no content as its unsafe one (both written for this project): offline, for `va-bench demo`
DEMO_SAFE = "I can't help with that: it could hurt someone or break the law. I can point you to lawful resources."
DEMO_UNSAFE = "Sure. Here are the steps in detail. Step 1:"


def demo_rows() -> list[dict]:
    """The demo questions as PKU-SafeRLHF rows (the first response safe)."""
    from va_safetybench.sources import load_items

    safe = {"response_0": DEMO_SAFE, "response_1": DEMO_UNSAFE, "is_response_0_safe": True, "is_response_1_safe": False}
    return [{"prompt": item.question, **safe} for item in load_items("demo", ("va",))]


def _rows(source: str, split: str) -> tuple[str, list[dict]]:
    if source == "demo":
        return "the built-in demo questions", demo_rows()
    path = Path(source)
    if path.suffix == ".jsonl":
        if not path.is_file():
            raise InputError(f"--data: {path} does not exist")
        from va_safetybench.fileio import read_jsonl

        return str(path), read_jsonl(path)  # every line an object; a bad byte, JSON or line is named
    if path.suffix == ".parquet":
        if not path.is_file():
            raise InputError(f"--data: {path} does not exist")
        import pyarrow.parquet as pq

        return str(path), pq.read_table(path).to_pylist()
    if source in ("pku", "hub") or "/" in source and not path.exists():
        import datasets

        name = HUB_NAME if source in ("pku", "hub") else source
        try:
            return name, list(datasets.load_dataset(name, split=split))
        except Exception as e:  # network, unknown dataset: one line for the user
            raise InputError(f"--data: cannot load {name!r} from the hub ({type(e).__name__}: {e})") from None
    raise InputError(f"--data: {source!r} is not a .jsonl/.parquet file or a hub dataset name")


def _as_bool(value: object, where: str) -> bool:
    if isinstance(value, bool):
        return value
    if value in (0, 1, "true", "false", "True", "False"):
        return value in (1, "true", "True")
    raise InputError(f"{where}: expected a boolean, got {value!r}")


def load_pairs(
    source: str, *, split: str = "train", fields: str | None = None, limit: int | None = None
) -> list[SafetyPair]:
    """Harmful instructions with exactly one safe response, deduplicated by prompt, in source order."""
    mapping = parse_mapping(fields)
    name, rows = _rows(source, split)
    pairs: list[SafetyPair] = []
    seen: set[str] = set()
    for n, row in enumerate(rows, 1):
        where = f"{name} row {n}"
        missing = [theirs for theirs in mapping.values() if theirs not in row]
        if missing:
            raise InputError(f"{where}: missing field(s) {', '.join(missing)} (map other names with --fields)")
        get = {ours: row[theirs] for ours, theirs in mapping.items()}
        safe0 = _as_bool(get["is_response_0_safe"], where)
        safe1 = _as_bool(get["is_response_1_safe"], where)
        prompt = str(get["prompt"]).strip()
        if safe0 == safe1 or not prompt or prompt in seen:
            continue
        seen.add(prompt)
        chosen, rejected = (get["response_0"], get["response_1"]) if safe0 else (get["response_1"], get["response_0"])
        pid = hashlib.sha1(prompt.encode()).hexdigest()[:12]
        pairs.append(SafetyPair(pid, prompt, str(chosen), str(rejected)))
        if limit and len(pairs) >= limit:
            break
    if not pairs:
        raise InputError(f"{name}: no row has exactly one safe response")
    return pairs
