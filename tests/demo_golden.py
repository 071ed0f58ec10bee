"""What `va-bench demo` writes, reduced to what must not change when the code under it is restructured.

`normalise(OUT)` turns a demo output folder (`va-bench demo --limit 1 --judge keyword --out OUT`) into one small
JSON value: for each run directory its file list, responses, verdicts, response-cache lines, summary and lm-eval
results and samples; for the site its file list, the text of every page (visible text and hover titles, line by
line) and the samples it embeds. What legitimately differs between two runs is taken out: the OUT path, times,
package versions, lm-eval's environment report. Every string with a space in it, or longer than 40 characters,
is replaced by a short sha256 so the golden holds no benchmark text or model output, only their fingerprints.

`contained(golden, current)` is how tests/test_demo_golden.py compares: everything the golden holds must be in the
current output, equal, while additions are allowed (a new summary field, a format version, a new run or page),
so that later features (another default judge, an aligned model in the demo) do not break the comparison as
long as what the demo wrote before is still written the same way.

Regenerate the golden only on purpose, from the code whose output it records, e.g. after a deliberate change
of what the demo writes:
    OMP_NUM_THREADS=1 .venv/bin/va-bench demo --limit 1 --judge keyword --out /tmp/demo_golden --jobs 1
    .venv/bin/python -m tests.demo_golden /tmp/demo_golden > tests/golden/demo_limit1.json
(The committed one was made by commit 6d213c6, the last before the typed records, with --judge keyword added.)
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

GOLDEN = Path(__file__).resolve().parent / "golden" / "demo_limit1.json"
RUN_FILES_SKIPPED = {"lm_eval/results.json", "capability/results.json"}  # reduced to their result sections below
RESULT_SECTIONS = ("results", "groups", "group_subtasks", "n-samples", "higher_is_better", "n-shot")
VOLATILE_SUMMARY_KEYS = ("created", "versions")
_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ?")


def fingerprint(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def _value(value: Any, out: str) -> Any:
    """`value` with the OUT path and times replaced and prose fingerprinted, recursively."""
    if isinstance(value, dict):
        return {str(k): _value(v, out) for k, v in value.items()}
    if isinstance(value, list):
        return [_value(v, out) for v in value]
    if isinstance(value, str):
        text = _TIME.sub("<TIME>", value.replace(out, "<OUT>"))
        return fingerprint(text) if " " in text or len(text) > 40 else text
    return value


def _jsonl(path: Path, out: str) -> list:
    return [_value(json.loads(line), out) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _lm_eval_samples(path: Path, out: str) -> list:
    """lm-eval's sample log reduced to what our code decides: per sample the answer (resps), the judge filter's
    verdict (filtered_resps, parsed: a verdict may gain fields) and the metric values. The document and the request
    arguments are left out: responses.jsonl holds what the model was given, and how a task hands it to lm-eval's
    model classes is the tasks' business (their placeholders and media objects change with them)."""
    reduced = []
    for line in path.read_text(encoding="utf-8").splitlines():
        sample = json.loads(line)
        kept = {k: sample[k] for k in ("doc_id", "resps", "metrics") if k in sample}
        kept.update({metric: sample[metric] for metric in sample.get("metrics", []) if metric in sample})
        kept["filtered_resps"] = [_json_or_text(v) for v in sample.get("filtered_resps", [])]
        reduced.append(_value(kept, out))
    return reduced


def _json_or_text(value: Any) -> Any:
    """A judge filter's verdict (a JSON object in a string) as the object; any other answer as it is."""
    if isinstance(value, str) and value.startswith("{"):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def _run(run: Path, out: str) -> dict:
    files = sorted(p.relative_to(run).as_posix() for p in run.rglob("*") if p.is_file())
    found: dict[str, Any] = {"files": files}
    for rel in files:
        path = run / rel
        if rel in RUN_FILES_SKIPPED:
            data = json.loads(path.read_text(encoding="utf-8"))
            found[rel] = _value({k: data[k] for k in RESULT_SECTIONS if k in data}, out)
        elif rel == "cache/generations.jsonl":  # a cache: its lines by key, in whatever order generation finished
            found[rel] = {row.pop("key"): row for row in _jsonl(path, out)}
        elif rel.endswith(".jsonl") and "/samples_" in f"/{rel}":
            found[rel] = _lm_eval_samples(path, out)
        elif rel.endswith(".jsonl"):
            found[rel] = _jsonl(path, out)
        elif rel.endswith(".json"):
            data = json.loads(path.read_text(encoding="utf-8"))
            found[rel] = _value({k: v for k, v in data.items() if k not in VOLATILE_SUMMARY_KEYS}, out)
    return found


class _Text(HTMLParser):
    """A page's visible text (outside scripts and styles) and its title attributes, one stripped line each."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        self.lines += [v.strip() for k, v in attrs if k == "title" and v and v.strip()]

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.lines += [line.strip() for line in data.splitlines() if line.strip()]


def _page(path: Path, out: str) -> dict[str, dict[str, int]]:
    """{"lines": {line: how many times the page shows it}}."""
    parser = _Text()
    parser.feed(path.read_text(encoding="utf-8"))
    return {"lines": dict(Counter(_value(line, out) for line in parser.lines))}


def _samples(path: Path, out: str) -> Any:
    """The samples a page loads: the JSON argument of `vaSamplesLoaded(key, {...})`."""
    text = path.read_text(encoding="utf-8")
    return _value(json.loads(text[text.index(",") + 1 : text.rindex(")")]), out)


def _site(site: Path, out: str) -> dict:
    files = sorted(p.relative_to(site).as_posix() for p in site.rglob("*") if p.is_file())
    found: dict[str, Any] = {"files": [f for f in files if not f.startswith("assets/")]}
    for rel in found["files"]:
        if rel.endswith(".html"):
            found[rel] = _page(site / rel, out)
        elif rel.startswith("samples/") and rel.endswith(".js"):
            found[rel] = _samples(site / rel, out)
    return found


def normalise(out: Path) -> dict:
    """The golden's shape: {"runs": {run dir name: ...}, "site": ...} for a demo output folder."""
    out = Path(out).resolve()
    runs = {run.name: _run(run, str(out)) for run in sorted((out / "runs").iterdir()) if run.is_dir()}
    return {"runs": runs, "site": _site(out / "site", str(out))}


def contained(golden: Any, current: Any, where: str = "") -> list[str]:
    """Where `current` lacks or changes what `golden` holds (empty: golden is contained in current). Objects may
    gain keys; lists must match element by element; a page's line counts may only grow; file lists may grow."""
    if isinstance(golden, dict):
        if not isinstance(current, dict):
            return [f"{where}: expected an object, found {type(current).__name__}"]
        counts = where.endswith("/lines")  # a page: {line: times shown}
        problems = []
        for key, value in golden.items():
            if key not in current:
                problems.append(f"{where}/{key}: missing")
            elif counts:
                if current[key] < value:
                    problems.append(f"{where}/{key}: shown {current[key]} times, was {value}")
            else:
                problems += contained(value, current[key], f"{where}/{key}")
        return problems
    if isinstance(golden, list) and where.endswith("/files"):
        return [f"{where}: {name} missing" for name in golden if name not in current]
    if isinstance(golden, list):
        if not isinstance(current, list) or len(current) != len(golden):
            size = len(current) if isinstance(current, list) else type(current).__name__
            return [f"{where}: {len(golden)} entries, found {size}"]
        return [p for n, (g, c) in enumerate(zip(golden, current)) for p in contained(g, c, f"{where}[{n}]")]
    return [] if golden == current else [f"{where}: {golden!r} became {current!r}"]


if __name__ == "__main__":
    json.dump(normalise(Path(sys.argv[1])), sys.stdout, indent=0, sort_keys=True, ensure_ascii=False)
    sys.stdout.write("\n")
