"""Refusing, before anything is generated, a model class that cannot take what our tasks give it.

lm-eval hands a task no handle on the model, and fails only once generation starts (after the model has loaded
and every request is built) with a traceback from inside the model class. Our tasks' media hooks, which lm-eval
calls while it builds a run's requests, check the model class first and stop with one line naming the task
(task_errors prints it so under plain `lm_eval`):
  - video, to a class that does not declare `ACCEPTS_VIDEO = True` (lm-eval has no video input; ours does);
  - text-only and media tasks in one run, to lm-eval's multimodal classes that take one kind per call
    (lm_eval_mixed.py; `va-bench lm-eval` gives `hf-multimodal` and `hf-audiolm-qwen` classes that take both).
The model and the run's tasks are read from lm-eval's `evaluate` frame, the caller of the request building;
outside lm-eval's evaluate nothing is refused here.
"""

from __future__ import annotations

import sys
from typing import Any

from ..errors import InputError
from . import lm_eval_audiolm, lm_eval_mixed
from .lm_eval_mixed import takes_one_kind

# lm-eval's own classes under the aliases `va-bench lm-eval` repoints to classes taking both kinds (their `install`)
REPOINTED_LM_EVAL_CLASSES = {
    lm_eval_mixed.LM_EVAL_MULTIMODAL: lm_eval_mixed.MULTIMODAL_ALIAS,
    lm_eval_audiolm.LM_EVAL_ENTRY: lm_eval_audiolm.ALIAS,
}
REPAIRED_UNDER_VA_BENCH = frozenset(REPOINTED_LM_EVAL_CLASSES.values())


def refuse_unfit_model(task: str, kind: str) -> None:
    """Stop when lm-eval is building `task`'s requests, which give the model `kind` (image, video, audio), for a
    model class that cannot take them in this run."""
    evaluation = _evaluation()
    if evaluation is None:
        return
    from lm_eval.api.model import CachingLM

    lm, tasks = evaluation
    model = lm.lm if isinstance(lm, CachingLM) else lm  # lm-eval's --use_cache wrapper
    alias = _alias(type(model))
    name = repr(alias) if alias else type(model).__name__
    if kind == "video" and not getattr(model, "ACCEPTS_VIDEO", False):
        raise InputError(
            f"task {task} gives the model video, which lm-eval model class {name} cannot take "
            f"(lm-eval has no video input): run it with --model va-bench (`va-bench lm-eval` or `va-bench eval`), "
            f"or with lmms-eval through tasks/lmms_eval"
        )
    if takes_one_kind(type(model)):
        text_only = sorted(name for name, t in tasks.items() if _generates(t) and not getattr(t, "MULTIMODAL", False))
        if text_only:
            remedy = "run the text-only tasks in a run of their own"
            if alias in REPAIRED_UNDER_VA_BENCH:
                remedy = f"run them through `va-bench lm-eval`, whose {name} takes both, or {remedy}"
            raise InputError(
                f"task {task} gives the model {kind} and task {text_only[0]} text alone, which lm-eval model class "
                f"{name} cannot take in one run (it takes one kind of request per call): {remedy}"
            )


def _generates(task: Any) -> bool:
    return getattr(task, "OUTPUT_TYPE", None) == "generate_until"


def _evaluation() -> tuple[Any, dict[str, Any]] | None:
    """(model, {task name: task}) of the lm-eval `evaluate` call up the stack, else None."""
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_name == "evaluate" and frame.f_globals.get("__name__") == "lm_eval.evaluator":
            lm = frame.f_locals.get("lm")
            return (lm, frame.f_locals.get("eval_tasks") or {}) if lm is not None else None
        frame = frame.f_back  # type: ignore[assignment]
    return None


def _alias(cls: type) -> str | None:
    """The `--model` name lm-eval's registry holds `cls` under, if any; for lm-eval's own class under an alias that
    `va-bench lm-eval` repointed earlier in this process (a test, a notebook), the alias lm-eval gives it."""
    from lm_eval.api.registry import model_registry

    target = f"{cls.__module__}:{cls.__name__}"
    registered = next((alias for alias, obj in model_registry.items() if obj is cls or obj == target), None)
    return registered or REPOINTED_LM_EVAL_CLASSES.get(target)
