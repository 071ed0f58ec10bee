"""One evaluation run: lm-eval generation and judging over our tasks -> responses.jsonl + summary.json.

The judge runs inside lm-eval (metrics.py: the `judge` filter), so lm-eval's results hold the ASR and
summary.json is made from the very verdicts lm-eval logged: one judging path, the same numbers.

Run directory layout:
  RUN_DIR/cache/generations.jsonl  resumable response cache (see cache.py); a rerun skips what it holds
  RUN_DIR/lm_eval/results.json     lm-eval's own results: asr, asr_macro, asr_official, asr_official_macro
                                   per task and group (metrics.py), stderr where lm-eval computes one
  RUN_DIR/lm_eval/samples_{task}.jsonl  lm-eval's sample logs, the verdict JSON in `filtered_resps`
  RUN_DIR/responses.jsonl          one line per item: model, task, scenario, id, prompt, question,
                                   media, response, error, verdict {label, raw, categories,
                                   official_unsafe}, judge
  RUN_DIR/capability/              lm-eval's results and sample logs of the capability / over-refusal tasks
  RUN_DIR/summary.json             counts and ASR per task, scenario and group (summary.py), plus
                                   the capability / over_refusal sections (capability/run.py)
Generation errors (corrupt media, API failures) become verdict "error" for that item only.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from judges.registry import DEFAULT_JUDGE, JudgeSpec

from ..errors import InputError
from ..models.registry import ModelSpec, declared_modalities, parse_model_args
from ..options import option
from ..outdirs import writable_dir
from ..records import ItemVerdict, JudgeIdentity, ResponseRow, Summary
from ..taskspec import GROUPS, TASKS
from .distributed import launched
from .docs import (
    first_per_scenario,
    read_manifest,
    task_docs,
    tasks_dir,
    unavailable_reason,
)
from .lm_eval_run import run_lm_eval, write_lm_eval_outputs
from .run_context import RunContext, current_run


def split_names(text: str) -> list[str]:
    """'a, b,,c' -> ['a', 'b', 'c']."""
    return [v.strip() for v in text.split(",") if v.strip()]


def default_run_dir(model: ModelSpec | str) -> Path:
    """runs/<model spec made file-name safe>."""
    return Path("runs") / re.sub(r"[^A-Za-z0-9._-]+", "_", str(model)).strip("_")


@dataclass
class EvalRequest:
    """One `va-bench eval`: its fields are the command's options (options.py builds the flags from them)."""

    model: ModelSpec = option(
        help="BACKEND:NAME, e.g. hf:Qwen/Qwen2-VL-7B-Instruct, vllm:PATH, openai:gpt-4o, tiny:qwen2-vl|qwen2-audio|llava",
        metavar="BACKEND:NAME",
        parse=lambda text: ModelSpec.parse(text, "--model"),
    )
    tasks: list[str] = option(
        help="comma-separated tasks or groups (va_video, va_audio, va_safetybench, mm_safetybench; "
        "capability_image|video|audio|text, over_refusal)",
        parse=split_names,
    )
    bench: Path = option(Path("bench_data"), help="bench directory made by `va-bench build`")
    out: Path | None = option(None, help="run directory (default: runs/<model>)")
    model_args: dict[str, Any] = option(
        help="backend arguments k=v,.. (e.g. dtype=bfloat16,device=cuda)", factory=dict, parse=parse_model_args
    )
    judge: JudgeSpec = option(
        JudgeSpec.parse(DEFAULT_JUDGE),
        parse=JudgeSpec.parse,
        help=f"{DEFAULT_JUDGE} (offline) | keyword | gpt:MODEL | llama-guard:PATH | harmbench:PATH | ...; "
        "with gpt:MODEL the over-refusal tasks are also classified by XSTest's GPT refusal classifier "
        "on that model (their keyword rate is always reported)",
    )
    judge_args: dict[str, Any] = option(
        help="judge options k=v,.. (e.g. base_url=http://127.0.0.1:8000/v1)",
        factory=dict,
        parse=lambda text: parse_model_args(text, "--judge-args"),
    )
    limit: int | None = option(None, help="first N items of each scenario (capability: first N questions)")
    batch_size: int = option(8, help="hf/tiny: the forward batch")
    max_new_tokens: int | None = option(None, help="generation budget (default: 300, the papers')")
    metadata: dict[str, Any] = field(default_factory=dict)  # extra lm-eval task metadata, e.g. {"mme_path": DIR}

    @property
    def run_dir(self) -> Path:
        return self.out or default_run_dir(self.model)


@dataclass
class EvalResult:
    run_dir: Path
    summary: Summary | None  # RUN_DIR/summary.json as written; None when the run wrote none
    generated: int
    cached: int
    errors: int  # safety items whose generation failed
    sections: dict = field(default_factory=dict)  # this run's capability / over_refusal results
    primary: bool = True  # False on the other ranks of a data-parallel run: rank 0 wrote the run directory


def split_task_names(names: list[str]) -> tuple[list[str], list[str]]:
    """(safety names, capability / over-refusal names); an unknown name is an InputError listing every valid one."""
    from ..capability import names as capability

    unknown = [n for n in names if n not in TASKS and n not in GROUPS and not capability.is_name(n)]
    if unknown or not names:
        valid = [*TASKS, *GROUPS, *capability.TASKS, *capability.GROUPS]
        what = f"unknown task or group {unknown[0]!r}" if unknown else "no tasks given"
        raise InputError(f"{what}; valid names: {', '.join(valid)}")
    return [n for n in names if not capability.is_name(n)], [n for n in names if capability.is_name(n)]


def plan_tasks(names: list[str], bench: Path) -> tuple[list[str], list[str]]:
    """(safety tasks to run in table order, notes on skipped ones), for names split_task_names accepted.

    A task named explicitly must be runnable; a task reached through a group is skipped, with a
    note, when the build marked it unavailable (e.g. DM videos built with --dm none).
    """
    explicit = {n for n in names if n in TASKS}
    chosen = {t for n in names for t in GROUPS.get(n, (n,))}
    tasks, notes = [], []
    for task in (t for t in TASKS if t in chosen):
        reason = unavailable_reason(read_manifest(bench, task))
        if reason and task not in explicit:
            notes.append(f"skipping {task}: unavailable in this bench ({reason})")
            continue
        tasks.append(task)
    if not tasks:
        raise InputError(f"nothing to evaluate: {'; '.join(notes)}")
    return tasks, notes


def check_modalities(
    tasks: list[str], modalities: frozenset, explicit: set[str], model: ModelSpec
) -> tuple[list[str], list[str]]:
    """Drop group tasks the model cannot take (noted); an explicit one is an error."""
    kept, notes = [], []
    for task in tasks:
        modality = TASKS[task].modality
        if modality == "text" or modality in modalities:
            kept.append(task)
        elif task in explicit:
            raise InputError(
                f"{model} takes {', '.join(sorted(modalities)) or 'text only'}; it cannot run {task} ({modality})"
            )
        else:
            notes.append(f"skipping {task}: {model} does not take {modality}")
    if not kept:
        raise InputError(f"{model} can run none of the requested tasks")
    return kept, notes


def run_eval(req: EvalRequest) -> EvalResult:
    """Safety tasks (generate -> judge) and capability / over-refusal tasks (lm-eval's metrics) of one run.

    Both go through ONE model instance, loaded after every input (judge spec included) was checked.
    The safety judge runs inside lm-eval once every safety response is generated. The run's judges and
    failed generations live in its own RunContext (run_context.py), active for the duration of the call.
    """
    with RunContext().active() as run:
        return _evaluate(req, run)


def _evaluate(req: EvalRequest, run: RunContext) -> EvalResult:
    safety, capability = split_task_names(req.tasks)
    if capability and launched().distributed:
        raise InputError(
            f"capability and over-refusal tasks ({', '.join(capability)}) run in one process: "
            "start them without accelerate launch / torchrun"
        )
    bench = req.bench.expanduser().resolve()
    # before the judge, the media checks and the model: an unwritable run directory costs nothing yet
    run_dir = writable_dir(req.run_dir, "--out", inside=("cache", "lm_eval", "capability"))
    judge = None
    tasks: list[str] = []
    docs: dict[str, list[dict]] = {}
    logged: dict[str, list[dict]] = {}  # lm-eval's samples of the safety tasks: the verdicts
    declared: frozenset[str] | None = None
    if safety:
        judge = run.judge(req.judge, req.judge_args)  # a bad judge spec fails before any generation
        tasks, notes = plan_tasks(safety, bench)
        docs = {t: task_docs(bench, t) for t in tasks}  # refuses missing manifests/media before loading the model
        for note in notes:
            print(note, file=sys.stderr)
        declared = declared_modalities(req.model, req.model_args)
        if declared is not None:  # known from the checkpoint's config and processor: refuse before its weights load
            tasks, notes = check_modalities(tasks, declared, {t for t in safety if t in TASKS}, req.model)
            for note in notes:
                print(note, file=sys.stderr)
    refusal_judge = _refusal_judge(capability, req)
    choice_judge = _choice_judge(capability, req)

    from .lm_eval_models import VABenchLM

    lm = VABenchLM(
        model=req.model, cache=str(run_dir / "cache" / "generations.jsonl"), batch_size=req.batch_size, **req.model_args
    )
    sections: dict = {}
    try:
        info = lm.backend.info
        if info.random_weights:
            print(f"note: {req.model} has random weights: its scores mean nothing (demo/test model)", file=sys.stderr)
        if safety:
            if declared is None:
                tasks, notes = check_modalities(tasks, info.modalities, {t for t in safety if t in TASKS}, req.model)
                for note in notes:
                    print(note, file=sys.stderr)
            samples = {t: first_per_scenario(docs[t], req.limit) for t in tasks} if req.limit else None
            _check_shards(tasks, {t: len(samples[t]) if samples else len(docs[t]) for t in tasks})
            results = _generate(lm, tasks, bench, samples, req)
            lm.gather_outcomes()  # data-parallel: rank 0 now holds every rank's outcomes
            if lm.rank != 0:
                return EvalResult(run_dir, None, lm.generated, sum(o.cached for o in lm.outcomes), 0, primary=False)
            logged = write_lm_eval_outputs(run_dir / "lm_eval", results)
        if capability:
            from ..capability.run import run_capability

            sections = run_capability(
                lm,
                capability,
                run_dir,
                bench,
                limit=req.limit,
                batch_size=req.batch_size,
                max_new_tokens=req.max_new_tokens,
                metadata=req.metadata,
                refusal_judge=refusal_judge,
                choice_judge=choice_judge,
            )
    finally:
        lm.close()
    failed = [o for o in lm.outcomes if o.error is not None and o.task not in tasks]
    if failed:
        print(
            f"note: {len(failed)} capability/over-refusal generation(s) failed; lm-eval scored them as empty answers",
            file=sys.stderr,
        )

    from ..summary import add_sections

    summary: Summary | None = None
    if safety:
        outcomes = [o for o in lm.outcomes if o.task in tasks]
        summary = _summarise(judge, outcomes, logged, tasks, bench, info, req)
    if sections:
        identity = Summary(model=str(req.model), backend=info.backend, random_weights=bool(info.random_weights))
        summary = add_sections(run_dir, sections, identity)
    return EvalResult(
        run_dir,
        summary,
        lm.generated,
        sum(o.cached for o in lm.outcomes),
        (summary.errors or 0) if safety and summary else 0,
        sections,
    )


def _check_shards(tasks: list[str], sizes: dict[str, int]) -> None:
    """Under a data-parallel launch every process needs at least one item of every task (lm-eval's evaluator
    stops on a process with none): a task smaller than the launch is refused in one line."""
    ranks = launched()
    small = [t for t in tasks if sizes[t] < ranks.world_size]
    if small:
        raise InputError(
            f"task {small[0]} has {sizes[small[0]]} item(s), fewer than the {ranks.world_size} processes launched: "
            "run it with fewer processes"
        )


def _refusal_judge(capability: list[str], req: EvalRequest):
    """XSTest's GPT refusal classifier when over-refusal tasks run under --judge gpt:MODEL (same --judge-args),
    built before the model loads so that a bad option fails first; None otherwise (keyword rate only)."""
    from ..capability import names

    if not any(names.TASKS[t][1] == "over_refusal" for t in names.expand(capability)):
        return None
    from judges.registry import make_refusal_judge

    return make_refusal_judge(req.judge, **req.judge_args)


def _choice_judge(capability: list[str], req: EvalRequest):
    """MMBench's GPT choice matcher when mmbench_en_dev runs under --judge gpt:MODEL (same --judge-args), built
    before the model loads; None otherwise (the rule-read CircularEval only)."""
    from ..capability import names

    if "mmbench_en_dev" not in names.expand(capability):
        return None
    from judges.registry import make_choice_judge

    return make_choice_judge(req.judge, **req.judge_args)


def _summarise(
    judge, outcomes: list, samples: dict[str, list[dict]], tasks: list[str], bench: Path, info, req: EvalRequest
) -> Summary:
    """responses.jsonl and summary.json from the verdicts lm-eval's judge filter logged; returns the summary."""
    from judges.aggregate import Record

    from ..summary import bench_fingerprint, write_summary
    from .lm_eval_models import DEFAULT_MAX_NEW_TOKENS
    from .metrics import verdicts_by_item

    verdicts = verdicts_by_item(samples)
    judge_id = JudgeIdentity.of(judge)
    rows = [
        _response_row(o, str(req.model), bench, verdicts[(o.task, o.doc["key"])].verdict, judge_id) for o in outcomes
    ]
    ResponseRow.save_lines(req.run_dir / "responses.jsonl", rows)
    records = [Record(r.task, r.scenario, r.id, r.verdict.label, r.verdict.official_unsafe) for r in rows if r.verdict]
    generation = {
        "max_new_tokens": req.max_new_tokens or DEFAULT_MAX_NEW_TOKENS,
        "temperature": 0.0,
        "limit_per_scenario": req.limit,
    }
    identity = Summary(
        model=str(req.model),
        backend=info.backend,
        random_weights=bool(info.random_weights),
        judge=judge_id,
        bench=bench_fingerprint(bench, tasks),
        alignment=info.metadata.get("alignment"),
        generation=generation,
    )
    return write_summary(req.run_dir, records, identity)


class _QuietLmEval(logging.Filter):
    """lm-eval warnings that tell a va-bench eval user nothing: that custom_dataset tasks take kwargs (ours are
    documented), and that a task's metrics were scored on different numbers of documents (errors are left out
    of asr by design, and the summary counts them)."""

    NOISE = ("Custom kwargs can be passed", "Metrics were not scored on the same number of documents")

    def filter(self, record: logging.LogRecord) -> bool:
        return not any(text in record.getMessage() for text in self.NOISE)


def _generate(lm, tasks: list[str], bench: Path, samples: dict | None, req: EvalRequest) -> dict:
    from lm_eval.tasks import TaskManager

    for name in ("lm_eval.api.task", "lm_eval.evaluator_utils"):
        logging.getLogger(name).addFilter(_QuietLmEval())
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    metadata = {"bench": str(bench), "judge": str(req.judge), "judge_args": req.judge_args, **current_run().metadata()}
    manager = TaskManager(include_path=str(tasks_dir()), include_defaults=False, metadata=metadata)
    gen_kwargs = {"max_gen_toks": req.max_new_tokens} if req.max_new_tokens else None
    return run_lm_eval(lm, lm_eval_names(tasks), manager, samples, gen_kwargs=gen_kwargs, batch_size=req.batch_size)


def lm_eval_names(tasks: list[str]) -> list[str]:
    """What to ask lm-eval for: each group whose every task runs (so that its results carry the group's
    metrics too; largest first, a subgroup then comes along), and the remaining tasks by name."""
    chosen: list[str] = []
    covered: set[str] = set()
    for group, members in sorted(GROUPS.items(), key=lambda g: -len(g[1])):
        if set(members) <= set(tasks) and not covered & set(members):
            chosen.append(group)
            covered.update(members)
    return chosen + [t for t in tasks if t not in covered]


def _response_row(o, model: str, bench: Path, verdict: ItemVerdict, judge: JudgeIdentity) -> ResponseRow:
    return ResponseRow(
        model=model,
        task=o.task,
        scenario=o.doc.get("scenario"),
        id=str(o.doc.get("id", o.doc_id)),
        prompt=o.prompt,
        question=o.doc.get("question"),
        media=[_relative(m, bench) for m in o.media],
        response=o.response,
        error=o.error,
        verdict=verdict,
        judge=judge,
    )


def _relative(media: str, bench: Path) -> str:
    try:
        return str(Path(media).relative_to(bench))
    except ValueError:
        return media
