"""Our own in-process lm-eval runs (`va-bench eval`'s safety tasks and the capability tasks): one way to call
lm-eval and one way to keep what it returns, so that both kinds of task run seeded alike, log their media alike,
and leave the same files (results.json and samples_{task}.jsonl, in lm-eval's own format)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..fileio import atomic_write


def run_lm_eval(lm: Any, tasks: list, manager: Any, samples: dict | None, **options: Any) -> dict:
    """lm-eval's `simple_evaluate` on `lm`, every seed fixed at 0, each sample logged (it holds the verdict),
    media logged by reference; `options` are simple_evaluate's own (gen_kwargs, batch_size, bootstrap_iters)."""
    from lm_eval import simple_evaluate

    with media_logged_by_reference():
        return simple_evaluate(
            model=lm,
            tasks=tasks,
            task_manager=manager,  # without one, lm-eval indexes every task it ships (~10 s) to load what is loaded
            samples=samples,
            log_samples=True,
            random_seed=0,
            numpy_random_seed=0,
            torch_random_seed=0,
            fewshot_random_seed=0,
            **options,
        )


@contextmanager
def media_logged_by_reference() -> Iterator[None]:
    """Our own lm-eval runs log each image by reference (its repr names the file) rather than as lm-eval does
    for a multimodal model (LMEVAL_HASHMM): the sha256 of the image re-encoded as PNG, which decodes and
    re-encodes every image of the run once more at its end, and stops the whole run on a broken medium that
    was already that item's error. The bench verified each file by its own sha256, which the document records."""
    import lm_eval.evaluator as evaluator

    hashed = evaluator.LMEVAL_HASHMM
    evaluator.LMEVAL_HASHMM = False
    try:
        yield
    finally:
        evaluator.LMEVAL_HASHMM = hashed


def write_lm_eval_outputs(folder: Path, results: dict) -> dict[str, list[dict]]:
    """results.json and samples_{task}.jsonl under `folder`, each written whole; returns the samples, popped from
    `results` (they hold the verdicts)."""
    from lm_eval.utils import handle_non_serializable

    folder.mkdir(parents=True, exist_ok=True)
    samples = results.pop("samples", {})
    atomic_write(
        folder / "results.json", json.dumps(results, indent=1, default=handle_non_serializable, ensure_ascii=False)
    )
    for task, rows in samples.items():
        atomic_write(
            folder / f"samples_{task}.jsonl",
            "".join(json.dumps(r, default=handle_non_serializable, ensure_ascii=False) + "\n" for r in rows),
        )
    return samples
