"""Run capability and over-refusal tasks through lm-eval with one of our backends; return summary sections.

`va-bench eval` sends these task names here (the safety tasks go to harness.evaluate): they need
no judge step, their metrics are lm-eval's own. Responses share the run's resumable cache
(RUN_DIR/cache/generations.jsonl); lm-eval's results and sample logs go to RUN_DIR/capability/.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from ..errors import InputError
from . import names


def limited(docs, limit: int) -> list[int]:
    """Indices of the first `limit` questions: documents sharing a `key` (MMBench rotations, an MME image's
    two questions) count as one, so a limit never splits what a score needs together."""
    keep, keys = [], []
    for i, doc in enumerate(docs):
        key = doc.get("key", i) if isinstance(doc, dict) else i
        if key not in keys:
            if len(keys) == limit:
                break
            keys.append(key)
        keep.append(i)
    return keep


def runnable(tasks: list[str], modalities: frozenset, explicit: set[str], model: str) -> list[str]:
    """Tasks whose modality the model takes; a group member it cannot take is skipped with a note."""
    kept = []
    for task in tasks:
        modality = names.TASKS[task][0]
        if modality == "text" or modality in modalities:
            kept.append(task)
        elif task in explicit:
            raise InputError(f"{model} cannot run {task} ({modality})")
        else:
            print(f"skipping {task}: {model} does not take {modality}", file=sys.stderr)
    return kept


def sections(results: dict[str, dict]) -> dict[str, dict]:
    """lm-eval results -> {"capability": {task: {metric: value}}, "over_refusal": {modality: refusal_rate}}."""
    out: dict[str, dict] = {"capability": {}, "over_refusal": {}}
    for task, row in results.items():
        if task not in names.TASKS:
            continue
        metrics = {key.split(",")[0]: value for key, value in row.items()
                   if "," in key and "_stderr" not in key and isinstance(value, (int, float))}
        modality, kind = names.TASKS[task]
        if kind == "over_refusal":
            out["over_refusal"][modality] = metrics.get("refusal_rate")
        else:
            out["capability"][task] = metrics
    return {k: v for k, v in out.items() if v}


def run_capability(model: str, task_names: list[str], run_dir: Path, bench: Path, *, model_args: dict | None = None,
                   limit: int | None = None, batch_size: int = 8, max_new_tokens: int | None = None,
                   metadata: dict[str, Any] | None = None) -> tuple[dict, dict]:
    """(summary sections, run identity {model, backend, random_weights}) for the named tasks and groups."""
    from lm_eval import simple_evaluate
    from lm_eval.tasks import TaskManager, get_task_dict

    from ..harness.docs import tasks_dir
    from ..harness.lm_eval_models import VABenchLM

    tasks = names.expand(task_names)
    lm = VABenchLM(model=model, cache=str(run_dir / "cache" / "generations.jsonl"), batch_size=batch_size,
                   **(model_args or {}))
    try:
        info = lm.backend.info
        tasks = runnable(tasks, info.modalities, set(task_names) & set(names.TASKS), model)
        if not tasks:
            raise InputError(f"{model} can run none of {', '.join(task_names)}")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        manager = TaskManager(include_path=str(tasks_dir()), include_defaults=bool(names.LM_EVAL_BUILTIN & set(tasks)),
                              metadata={"bench": str(bench), **(metadata or {})})
        task_dict = get_task_dict(tasks, manager)
        samples = {t: limited(task.eval_docs, limit) for t, task in task_dict.items()} if limit else None
        results = simple_evaluate(model=lm, tasks=list(task_dict.values()), samples=samples, log_samples=True,
                                  gen_kwargs={"max_gen_toks": max_new_tokens} if max_new_tokens else None,
                                  batch_size=batch_size, bootstrap_iters=0, random_seed=0, numpy_random_seed=0,
                                  torch_random_seed=0, fewshot_random_seed=0)
    finally:
        lm.close()
    _write_outputs(run_dir / "capability", results)
    identity = {"model": model, "backend": info.backend, "random_weights": bool(info.random_weights)}
    return sections(results["results"]), identity


def _write_outputs(folder: Path, results: dict) -> None:
    from lm_eval.utils import handle_non_serializable

    folder.mkdir(parents=True, exist_ok=True)
    samples = results.pop("samples", {})
    (folder / "results.json").write_text(json.dumps(results, indent=1, default=handle_non_serializable, ensure_ascii=False))
    for task, rows in samples.items():
        (folder / f"samples_{task}.jsonl").write_text("".join(
            json.dumps(r, default=handle_non_serializable, ensure_ascii=False) + "\n" for r in rows))
