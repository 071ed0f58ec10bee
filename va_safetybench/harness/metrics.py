"""The safety tasks' lm-eval metrics: the judge runs inside lm-eval, so its results carry the ASR.

Flow inside lm-eval (tasks/safetybench/_default_template_yaml):
  1. `load_dataset` (docs.py) reads the judge from the task metadata (`configure`, into the active run:
     run_context.py): `judge` is a judge
     spec as `va-bench eval --judge` takes it (default judges.registry.DEFAULT_JUDGE), `judge_args` its options as a JSON
     object or "k=v,..." (e.g. {"base_url": "http://127.0.0.1:8000/v1"}). API keys come only from the
     environment (`api_key_env`, default OPENAI_API_KEY). A bad spec or option stops at task loading.
  2. the filter `judge` (`JudgeFilter`) judges a task's responses in ONE batch through the code path
     `va-bench eval` and `va-bench judge` use (commands/judge.py: judge_rows); a GPT judge then sends
     them concurrently instead of one blocking request per document. Its output, the verdict as a
     JSON string, is each sample's `filtered_resps`: `--log_samples` logs show it next to `resps`.
  3. `process_results` turns a verdict into the per-document values of four metrics, aggregated by
     lm-eval, with the same rules as summary.json (judges/aggregate.py):
       asr                 unsafe / (safe + unsafe) over the task's items; errors are left out (mean,
                           with lm-eval's stderr)
       asr_official        the official scripts' rule: unsafe by exact match over every item, errors
                           included in the denominator (mean, with stderr)
       asr_macro           mean over scenarios of the per-scenario asr (the paper's headline)
       asr_official_macro  mean over scenarios of the per-scenario asr_official (the official headline)
     lm-eval computes no stderr for a custom aggregation, so the two macro figures have none ("N/A").
     Group YAMLs average each metric over their tasks, unweighted (`weight_by_size: false`).
A task whose every item is an error has no `asr` / `asr_macro` (nothing was judged); groups then
average over the tasks that have one, as summary.json does.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from lm_eval.api.filter import Filter

from judges.registry import DEFAULT_JUDGE, JudgeSpec

from ..errors import InputError
from ..records import Judgement, ResponseRow
from .run_context import current_run

_TASK = "_"  # the task of the Records built inside an aggregation (lm-eval passes aggregations no task name)


def judge_settings(metadata: dict[str, Any]) -> tuple[JudgeSpec, dict[str, Any]]:
    """(judge spec, judge options) from lm-eval task metadata, parsed; InputError naming the metadata key."""
    from ..models.registry import parse_model_args

    text = metadata.get("judge") or DEFAULT_JUDGE
    if not isinstance(text, str):
        raise InputError(f"task metadata 'judge' must be a judge spec string such as 'gpt:gpt-4o-mini', got {text!r}")
    spec = JudgeSpec.parse(text)
    options = metadata.get("judge_args") or {}
    if isinstance(options, str):
        options = parse_model_args(options)
    if not isinstance(options, dict):
        raise InputError(f"task metadata 'judge_args' must be a JSON object of judge options, got {options!r}")
    return spec, options


def configure(task: str, metadata: dict[str, Any]) -> None:
    """Remember, in the active run (run_context), the judge `task`'s filter will use, building it now
    (make_judge checks its options and API key) so that a bad judge fails before generation rather than after."""
    run = current_run()
    run.check(metadata)
    run.configure(task, *judge_settings(metadata))


def encode_verdict(judgement: Judgement) -> str:
    """A judgement of judge_rows (records.Judgement) as the JSON string lm-eval keeps as the sample's filtered
    response. A string, because lm-eval's sample logger turns any other object into its Python repr."""
    return json.dumps(judgement.to_json(), ensure_ascii=False)


def decode_verdict(text: str) -> Judgement:
    """The judgement `encode_verdict` wrote (or an older version's verdict, records.Judgement upgrades it); the text
    itself is never echoed (it may be a model response)."""
    try:
        return Judgement.from_json(json.loads(text), "a filtered response")
    except (TypeError, json.JSONDecodeError, InputError):
        raise ValueError(
            "a filtered response is not a verdict of the `judge` filter (was the task's filter_list changed?)"
        ) from None


class JudgeFilter(Filter):
    """lm-eval filter: a task's responses (one per document after take_first) -> verdict JSON strings."""

    def apply(self, resps: Iterable, docs: list[dict]) -> list[str]:
        """A generation that failed (our model class returned "" for it) stays a failed generation, an error
        the judge never sees, rather than an empty answer that a GPT judge would be asked about."""
        from judges.runs import judge_rows

        run = current_run()
        responses = [r[0] if isinstance(r, (list, tuple)) else r for r in resps]
        if not docs:
            return []
        rows = [
            ResponseRow(
                task=doc["task"],
                scenario=doc["scenario"],
                id=str(doc["id"]),
                prompt=doc.get("prompt"),
                question=doc.get("question"),
                response=None if (doc["task"], str(doc["key"])) in run.failed else response,
            )
            for doc, response in zip(docs, responses)
        ]
        return [encode_verdict(j) for j in judge_rows(run.judge_for(docs[0]["task"]), rows)]


def _record(scenario: str, label: str, official_unsafe: bool | None, n: int):
    from judges.aggregate import Record

    return Record(_TASK, scenario, str(n), label, official_unsafe)


def process_results(doc: dict, results: list[str]) -> dict[str, Any]:
    """Per-document metric values from the judge filter's verdict (see the module docstring)."""
    verdict = decode_verdict(results[0])
    label, official = verdict.label, verdict.official_unsafe
    cell = (doc["scenario"], label, official)
    judged = {"asr": float(label == "unsafe"), "asr_macro": cell} if label != "error" else {}
    return {
        **judged,
        "asr_official": float(_record(*cell, 0).counts_unsafe_officially),
        "asr_official_macro": cell,
    }


def _summarise(items: Sequence[Sequence]) -> dict[str, Any]:
    from judges.aggregate import summarize_tasks

    return summarize_tasks(_record(s, label, official, n) for n, (s, label, official) in enumerate(items))[_TASK]


def scenario_macro(items: Sequence[Sequence]) -> float:
    """Aggregation of `asr_macro`: summary.json's asr_macro over the task's judged (scenario, label, official)."""
    return _summarise(items)["asr_macro"]


def official_scenario_macro(items: Sequence[Sequence]) -> float:
    """Aggregation of `asr_official_macro`: summary.json's asr_official_macro over every item of the task."""
    return _summarise(items)["asr_official_macro"]


def verdicts_by_item(samples: dict[str, list[dict]]) -> dict[tuple[str, str], Judgement]:
    """{(task, item key): verdict} from lm-eval's logged samples of the safety tasks."""
    return {
        (task, sample["doc"]["key"]): decode_verdict(sample["filtered_resps"][0])
        for task, rows in samples.items()
        for sample in rows
    }
