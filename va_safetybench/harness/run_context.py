"""What one evaluation run shares between lm-eval's model class, our tasks' dataset hook and the judge filter.

lm-eval gives these pieces no common object: the model class sees requests, the dataset hook sees the task
metadata, the filter sees documents and responses. A `RunContext` holds what they share for one run:
  - the judges, one per (spec, options), built once (a local classifier is loaded once per run; a GPT judge
    keeps one verdict cache) and checked before generation;
  - which judge each task's filter uses (from that task's metadata, `configure`);
  - the items whose generation failed (the model class returns "" for them, and the filter must not take that
    for an empty answer, which a GPT judge would be asked about).
Who runs an evaluation opens one for its duration (`with RunContext().active(): ...`: `va-bench eval`, the
`va-bench lm-eval` / `lmms-eval` pass-throughs), puts its `id` into the task metadata as `run` (beside `bench`
and `judge`), and every piece finds it with `current_run()`; a task loaded for another run is refused. The
active run is a context variable, not module state: two runs one after the other, or in two threads, each see
their own. A plain `lm_eval` command, which opens none, gets one for the rest of its process on first use.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from ..errors import InputError

if TYPE_CHECKING:
    from judges.registry import JudgeSpec

_ACTIVE: ContextVar[RunContext | None] = ContextVar("va_safetybench_run", default=None)


class RunContext:
    """One evaluation run's judges, per-task judge choice and failed generations."""

    def __init__(self) -> None:
        self.id = uuid.uuid4().hex
        self._judges: dict[tuple[str, str], Any] = {}  # (judge spec, options as canonical JSON) -> the judge
        self._task_judges: dict[str, tuple[JudgeSpec | str, str]] = {}  # lm-eval task -> (judge spec, options)
        self.failed: set[tuple[str, str]] = set()  # (task, document key) whose generation failed

    @contextmanager
    def active(self) -> Iterator[RunContext]:
        """Make this the run `current_run()` finds until the block ends."""
        token = _ACTIVE.set(self)
        try:
            yield self
        finally:
            _ACTIVE.reset(token)

    def judge(self, spec: JudgeSpec | str, options: dict[str, Any]) -> Any:
        """The run's judge for (spec, options), built on first use (make_judge checks options and API key)."""
        key = (str(spec), _canonical(options))
        if key not in self._judges:
            from judges.registry import make_judge

            self._judges[key] = make_judge(spec, **options)
        return self._judges[key]

    def configure(self, task: str, spec: JudgeSpec | str, options: dict[str, Any]) -> None:
        """Use (spec, options) for `task`'s filter, building the judge now so a bad one fails before generation."""
        self.judge(spec, options)
        self._task_judges[task] = (spec, _canonical(options))

    def judge_for(self, task: str) -> Any:
        """The judge `configure` chose for `task`; the default judge for a task whose dataset we did not load."""
        from judges.registry import DEFAULT_JUDGE

        spec, options = self._task_judges.get(task, (DEFAULT_JUDGE, "{}"))
        return self.judge(spec, json.loads(options))

    def metadata(self) -> dict[str, str]:
        """What task metadata carries to find this run."""
        return {"run": self.id}

    def check(self, metadata: dict[str, Any]) -> None:
        """Refuse a task whose metadata names another run (loaded for it, and now evaluated in this one)."""
        run = metadata.get("run")
        if run is not None and run != self.id:
            raise InputError(
                f"task metadata 'run' names run {str(run)[:12]}, not the active run {self.id[:12]}: tasks are "
                "loaded by the run that evaluates them"
            )


def current_run() -> RunContext:
    """The active run; without one (a plain lm-eval command), a new one, active from here on in this context."""
    run = _ACTIVE.get()
    if run is None:
        run = RunContext()
        _ACTIVE.set(run)
    return run


def _canonical(options: dict[str, Any]) -> str:
    try:
        return json.dumps(options, sort_keys=True)
    except TypeError:
        raise InputError(f"judge options must be plain JSON values, got {options!r}") from None
