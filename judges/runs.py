"""Judging as a library: a run's stored responses -> verdicts -> a summary, for `va-bench judge`, `va-bench
judge-agreement`, lm-eval's judge filter (va_safetybench.harness.metrics) and users' own scripts.

    rows = read_responses(run_dir)                 # RUN_DIR/responses.jsonl (or a plain lm-eval run's sample logs)
    judgements = judge_rows(make_judge(spec), rows)  # one records.Judgement per row; failed generations are errors
    result = rejudge(run_dir, spec, options)       # all of `va-bench judge`: files written, the summary returned

What a judge is called in results is records.JudgeIdentity.of(judge). Nothing here prints: the command line does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from va_safetybench.fileio import atomic_write, jsonl_lines, jsonl_text, read_jsonl
from va_safetybench.records import JudgeIdentity, Judgement, ResponseRow, Summary

from .base import Judge, JudgeInput, Verdict


@dataclass(frozen=True)
class Rejudged:
    """What `rejudge` did: the verdicts and the summary written, and how many errors a rerun could retry."""

    judgements: list[Judgement]
    summary: Summary
    summary_path: Path
    judge_errors: int  # error verdicts of rows that have a response (the judge's, not the generation's)


def rejudge(run_dir: Path, spec: str, options: dict[str, Any]) -> Rejudged:
    """Judge a run's stored responses again with judge `spec` (its `options`, e.g. base_url): writes
    RUN_DIR/judgements-{slug}.jsonl and RUN_DIR/summary-{slug}.json beside the run's own summary.json (untouched).
    With a gpt judge, the run's stored over-refusal responses are classified again by XSTest's GPT refusal
    classifier on the same model. Every judge is built, and RUN_DIR proven writable, before the first request."""
    from va_safetybench.outdirs import writable_dir

    from .registry import make_judge

    rows = read_responses(run_dir)
    writable_dir(run_dir, "RUN_DIR")  # the verdicts are written there: prove it before judging
    judge = make_judge(spec, **options)
    refusal_judge = over_refusal_judge(run_dir, spec, options)  # checked before any request too
    judgements = judge_rows(judge, rows)
    slug = judge_slug(spec)
    write_judgements(run_dir, slug, judgements)
    over_refusal = rejudge_over_refusal(run_dir, refusal_judge)
    source = "responses.jsonl" if (run_dir / "responses.jsonl").is_file() else "lm-eval sample logs"
    summary = write_rejudged_summary(run_dir, slug, judge, judgements, rows, over_refusal, source)
    errors = judge_failures(rows, [j.label for j in judgements])
    return Rejudged(judgements, summary, run_dir / f"summary-{slug}.json", errors)


def judge_slug(spec: str) -> str:
    """A file-name-safe form of a judge spec ('llama-guard:/m/LG3' -> 'llama-guard_LG3')."""
    from judges.registry import CHECKPOINT_KINDS

    kind, _, arg = spec.partition(":")
    if arg and kind in CHECKPOINT_KINDS:
        arg = Path(arg.rstrip("/")).name
    elif arg and kind == "local":  # local:hf:/m/Qwen2.5-7B-Instruct -> local_hf_Qwen2.5-7B-Instruct
        backend, _, name = arg.partition(":")
        arg = f"{backend}_{Path(name.rstrip('/')).name}"
    return re.sub(r"[^A-Za-z0-9._-]+", "_", f"{kind}_{arg}" if arg else kind)


def read_responses(run_dir: Path) -> list[ResponseRow]:
    """The rows of RUN_DIR/responses.jsonl (records.ResponseRow); InputError naming the file and line for a bad
    one, a duplicate item, or a file without rows."""
    from va_safetybench.errors import InputError

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


def judge_rows(judge: Judge, rows: list[ResponseRow]) -> list[Judgement]:
    """One judgement per row: generated responses go to the judge, failed generations are errors."""
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
    for i, v in zip(generated, judge.judge(inputs)):
        verdicts[i] = v
    return [
        Judgement(
            task=r.task,
            scenario=r.scenario,
            id=r.id,
            label=v.label,
            raw=v.raw,
            categories=list(v.categories),
            official_unsafe=v.official_unsafe,
            judge=judge.name,
            judge_version=judge.version,
        )
        for r, v in zip(rows, verdicts)
    ]


def judgement_records(judgements: list[Judgement]) -> list:
    """judges.aggregate.Record per judgement."""
    from .aggregate import Record

    return [Record(j.task or "", j.scenario or "", j.id or "", j.label, j.official_unsafe) for j in judgements]


def write_judgements(run_dir: Path, slug: str, judgements: list[Judgement]) -> Path:
    path = run_dir / f"judgements-{slug}.jsonl"
    atomic_write(path, jsonl_text(j.to_json() for j in judgements))
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


def over_refusal_judge(run_dir: Path, spec: str, options: dict[str, Any]) -> Judge | None:
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
