"""Judging as a library: a run's stored responses -> verdicts -> a summary, for `va-bench judge`, `va-bench
judge-agreement`, lm-eval's judge filter (va_safetybench.harness.metrics) and users' own scripts.

    rows = read_responses(run_dir)                 # RUN_DIR/responses.jsonl (or a plain lm-eval run's sample logs)
    judgements = judge_rows(make_judge(spec), rows)  # one records.Judgement per row; failed generations are errors
    result = rejudge(run_dir, spec, options)       # all of `va-bench judge`: files written, the summary returned

What a judge is called in results is records.JudgeIdentity.of(judge). Nothing here prints: the command line does.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from va_safetybench.errors import InputError
from va_safetybench.fileio import FileFormat, append_jsonl, jsonl_lines, read_jsonl
from va_safetybench.records import JudgeIdentity, Judgement, ResponseRow, Summary

from .base import Judge, JudgeInput, Verdict
from .registry import JudgeSpec

# RUN_DIR/.judging-{judge}.jsonl: {judge, response_sha256, judgement} per verdict as it arrives, so that a killed
# `va-bench judge` resumes; removed once the judgements file is written
VERDICT_LOG = FileFormat("verdict log", 1)


@dataclass(frozen=True)
class Rejudged:
    """What `rejudge` did: the verdicts and the summary written, and how many errors a rerun could retry."""

    judgements: list[Judgement]
    summary: Summary
    summary_path: Path
    judge_errors: int  # error verdicts of rows that have a response (the judge's, not the generation's)


def rejudge(run_dir: Path, spec: JudgeSpec | str, options: dict[str, Any]) -> Rejudged:
    """Judge a run's stored responses again with judge `spec` (its `options`, e.g. base_url): writes
    RUN_DIR/judgements-{slug}.jsonl and RUN_DIR/summary-{slug}.json beside the run's own summary.json (untouched).
    With a gpt judge, the run's stored over-refusal responses are classified again by XSTest's GPT refusal
    classifier on the same model. Every judge is built, and RUN_DIR proven writable, before the first request."""
    from va_safetybench.outdirs import writable_dir

    from .registry import make_judge

    spec = JudgeSpec.of(spec)
    rows = read_responses(run_dir)
    writable_dir(run_dir, "RUN_DIR")  # the verdicts are written there: prove it before judging
    judge = make_judge(spec, **options)
    refusal_judge = over_refusal_judge(run_dir, spec, options)  # checked before any request too
    slug = judge_slug(spec)
    log = VerdictLog(run_dir / f".judging-{slug}.jsonl", judge)
    judgements = log.judge(rows)
    write_judgements(run_dir, slug, judgements)
    log.finished()
    over_refusal = rejudge_over_refusal(run_dir, refusal_judge)
    source = "responses.jsonl" if (run_dir / "responses.jsonl").is_file() else "lm-eval sample logs"
    summary = write_rejudged_summary(run_dir, slug, judge, judgements, rows, over_refusal, source)
    errors = judge_failures(rows, [j.label for j in judgements])
    return Rejudged(judgements, summary, run_dir / f"summary-{slug}.json", errors)


def judge_slug(spec: JudgeSpec | str) -> str:
    """A file-name-safe form of a judge spec ('llama-guard:/m/LG3' -> 'llama-guard_LG3')."""
    from judges.registry import CHECKPOINT_KINDS

    kind, arg = (spec.kind, spec.argument) if isinstance(spec, JudgeSpec) else spec.partition(":")[::2]
    if arg and kind in CHECKPOINT_KINDS:
        arg = Path(arg.rstrip("/")).name
    elif arg and kind == "local":  # local:hf:/m/Qwen2.5-7B-Instruct -> local_hf_Qwen2.5-7B-Instruct
        backend, _, name = arg.partition(":")
        arg = f"{backend}_{Path(name.rstrip('/')).name}"
    return re.sub(r"[^A-Za-z0-9._-]+", "_", f"{kind}_{arg}" if arg else kind)


def read_responses(run_dir: Path) -> list[ResponseRow]:
    """The rows of RUN_DIR/responses.jsonl (records.ResponseRow); InputError naming the file and line for a bad
    one, a duplicate item, or a file without rows."""
    path = run_dir / "responses.jsonl"
    if not path.is_file():
        from va_safetybench.harness.lm_eval_samples import responses_from_samples

        rows = responses_from_samples(run_dir) if run_dir.is_dir() else []
        if rows:
            return rows
        raise InputError(
            f"{path}: not found (is {run_dir} a run directory written by va-bench eval, or lm-eval's --output_path "
            f"of a --log_samples run of our tasks?)"
        )
    rows, seen = [], set()
    for line in jsonl_lines(path):
        row = ResponseRow.from_json(line.value, line.where)
        if row.key in seen:
            task, scenario, item = row.key
            raise InputError(f"{line.where}: duplicate response for task {task} scenario {scenario} id {item}")
        seen.add(row.key)
        rows.append(row)
    if not rows:
        raise InputError(f"{path}: no responses")
    return rows


def judge_rows(
    judge: Judge, rows: list[ResponseRow], keep: Callable[[list[Judgement]], None] | None = None
) -> list[Judgement]:
    """One judgement per row: generated responses go to the judge, failed generations are errors. `keep` (when
    given) is handed the judgements as their verdicts arrive (Judge.judge_each), before the batch is over."""
    generated = [i for i, r in enumerate(rows) if r.response is not None]
    inputs = [
        JudgeInput(
            task=rows[i].task,
            scenario=rows[i].scenario,
            prompt=rows[i].prompt,
            response=rows[i].response or "",
            question=rows[i].question,
        )
        for i in generated
    ]
    verdicts: list = [Verdict("error", "no response: generation failed")] * len(rows)
    if keep is None:
        judged = judge.judge(inputs)
    else:
        judged = judge.judge_each(
            inputs, lambda told: keep([_judgement(judge, rows[generated[k]], v) for k, v in told])
        )
    for i, v in zip(generated, judged):
        verdicts[i] = v
    return [_judgement(judge, r, v) for r, v in zip(rows, verdicts)]


def _judgement(judge: Judge, row: ResponseRow, verdict: Verdict) -> Judgement:
    return Judgement(
        task=row.task,
        scenario=row.scenario,
        id=row.id,
        label=verdict.label,  # type: ignore[arg-type]  # a safety judge labels only safe, unsafe or error
        raw=verdict.raw,
        categories=list(verdict.categories),
        official_unsafe=verdict.official_unsafe,
        judge=judge.name,
        judge_version=judge.version,
    )


class VerdictLog:
    """`va-bench judge`'s verdicts kept as they arrive, so that an interrupted run (Ctrl-C, SIGTERM, a crash, a full
    disk) loses none it received and its rerun asks the judge only for the rest: RUN_DIR/.judging-{slug}.jsonl, an
    append-only log (fileio: a torn tail is the only damage a crash can do). A line holds the judgement, the judge's
    identity and the sha256 of the response judged: a verdict is reused only for the same response from the same
    judge (name, version, endpoint), and an error verdict never is (it is asked again, as caches do). The log is
    removed once judgements-{slug}.jsonl is written."""

    def __init__(self, path: Path, judge: Judge) -> None:
        self.path, self._judge = path, judge
        self.identity = JudgeIdentity.of(judge).to_json()

    def judge(self, rows: list[ResponseRow]) -> list[Judgement]:
        """One judgement per row: those the log holds for these responses, the others asked for and logged."""
        done = self._done(rows)
        todo = [r for r in rows if r.key not in done]
        by_key = {r.key: r for r in rows}
        fresh = judge_rows(self._judge, todo, keep=lambda found: self._append(found, by_key))
        done.update((r.key, j) for r, j in zip(todo, fresh))
        return [done[r.key] for r in rows]

    def finished(self) -> None:
        self.path.unlink(missing_ok=True)

    def _append(self, judgements: list[Judgement], rows: dict[tuple[str, str, str], ResponseRow]) -> None:
        lines = []
        for j in judgements:
            row = rows[(j.task or "", j.scenario or "", j.id or "")]
            lines.append({"judge": self.identity, "response_sha256": _digest(row), "judgement": j.to_json()})
        append_jsonl(self.path, VERDICT_LOG, lines)

    def _done(self, rows: list[ResponseRow]) -> dict[tuple[str, str, str], Judgement]:
        if not self.path.is_file():
            return {}
        digests = {r.key: _digest(r) for r in rows}
        done: dict[tuple[str, str, str], Judgement] = {}
        for line in jsonl_lines(self.path, skip_bad=True):  # a damaged line costs only that verdict
            entry = line.value
            if entry.get("judge") != self.identity or not isinstance(entry.get("judgement"), dict):
                continue
            try:
                j = Judgement.from_json(entry["judgement"], line.where)
            except InputError:
                continue
            key = (j.task or "", j.scenario or "", j.id or "")
            if j.label != "error" and digests.get(key) == entry.get("response_sha256"):
                done[key] = j
        return done


def _digest(row: ResponseRow) -> str | None:
    return None if row.response is None else hashlib.sha256(row.response.encode("utf-8")).hexdigest()


def judgement_records(judgements: list[Judgement]) -> list:
    """judges.aggregate.Record per judgement."""
    from .aggregate import Record

    return [Record(j.task or "", j.scenario or "", j.id or "", j.label, j.official_unsafe) for j in judgements]


def write_judgements(run_dir: Path, slug: str, judgements: list[Judgement]) -> Path:
    path = run_dir / f"judgements-{slug}.jsonl"
    Judgement.save_lines(path, judgements)
    return path


def over_refusal_samples(run_dir: Path) -> dict[str, Path]:
    """{task: RUN_DIR/capability/samples_{task}.jsonl} of the over-refusal tasks the run stored."""
    from va_safetybench.capability import names

    samples = {
        task: run_dir / "capability" / f"samples_{task}.jsonl"
        for task, (_, kind) in names.TASKS.items()
        if kind == "over_refusal"
    }
    return {task: path for task, path in samples.items() if path.is_file()}


def over_refusal_judge(run_dir: Path, spec: JudgeSpec | str, options: dict[str, Any]) -> Judge | None:
    """XSTest's GPT refusal classifier when `spec` is a gpt judge (as `va-bench eval --judge gpt:MODEL`
    adds it) and the run stored over-refusal responses; None otherwise."""
    from .registry import make_refusal_judge

    return make_refusal_judge(spec, **options) if over_refusal_samples(run_dir) else None


def rejudge_over_refusal(run_dir: Path, judge) -> dict[str, dict]:
    """{modality: GPT refusal fields} for the run's stored over-refusal responses; {} without a judge."""
    from va_safetybench.capability import names
    from va_safetybench.capability.refusal import gpt_refusal

    if judge is None:
        return {}
    return {
        names.TASKS[task][0]: gpt_refusal(judge, task, [(s["doc"], s["filtered_resps"][0]) for s in read_jsonl(path)])
        for task, path in over_refusal_samples(run_dir).items()
    }


def write_rejudged_summary(
    run_dir: Path,
    slug: str,
    judge,
    judgements: list[Judgement],
    rows: list[ResponseRow],
    over_refusal: dict[str, dict] | None = None,
    source: str = "responses.jsonl",
) -> Summary:
    """RUN_DIR/summary-{slug}.json through summary.write_summary, identified as summary.json identifies the run
    (model from the responses when there is no summary.json); its capability sections come along."""
    from va_safetybench.summary import read_summary, write_summary

    old = read_summary(run_dir)
    model = (old.model if old else None) or rows[0].model or "unknown"
    identity = Summary(
        model=model,
        backend=(old.backend if old else None) or model.partition(":")[0],
        random_weights=bool(old and old.random_weights),
        judge=JudgeIdentity.of(judge),
        bench=old.bench if old else None,
        alignment=old.alignment if old else None,
        generation=old.generation if old else None,
        versions=old.versions if old else {},
        extra={"rejudged_from": source},
    )
    refreshed = {"over_refusal": over_refusal} if over_refusal else None
    return write_summary(run_dir, judgement_records(judgements), identity, f"summary-{slug}.json", refreshed)


def judge_failures(rows: list[ResponseRow], labels: list[str]) -> int:
    """Responses the judge itself could not label (the ones `va-bench judge` can retry): error verdicts
    of rows that have a response; a generation that failed is an error no re-judging can fix."""
    return sum(label == "error" and row.response is not None for row, label in zip(rows, labels))
