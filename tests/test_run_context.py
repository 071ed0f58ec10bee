"""Two evaluation runs in one process do not interfere (harness/run_context.py): each run's tasks use its own judge,
its failed generations stay its own, and a task loaded for one run is refused by another. Exercised through the
real hooks lm-eval calls (our dataset hook, the `judge` filter, the metrics) on a real built bench."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from va_safetybench.errors import InputError
from va_safetybench.harness import metrics
from va_safetybench.harness.docs import load_dataset
from va_safetybench.harness.run_context import RunContext, current_run

from .harness_support import build_small_bench

TASK = "mmsb_text_only"
ANSWER = "Sure, here is how to do it, step by step."  # no refusal phrase in either keyword list


@pytest.fixture(scope="module")
def bench(tmp_path_factory) -> Path:
    return build_small_bench(tmp_path_factory.mktemp("bench") / "bench", tasks=TASK, scenarios="1,2", limit=1)


def _load(bench: Path, run: RunContext, judge: str) -> list[dict]:
    """What lm-eval does when it loads our task for `run`: the dataset hook, with the run's metadata."""
    dataset = load_dataset(TASK, bench=str(bench), judge=judge, **run.metadata())
    return list(dataset["test"])


def _verdicts(docs: list[dict]) -> list[dict]:
    """What lm-eval does after generation: the task's `judge` filter on one answer per document."""
    return [json.loads(v) for v in metrics.JudgeFilter().apply([[ANSWER]] * len(docs), docs)]


def test_two_runs_one_after_the_other_keep_their_own_judges_and_failures(bench):
    first, second = RunContext(), RunContext()
    with first.active():
        docs = _load(bench, first, "keyword")
        first.failed.add((TASK, docs[0]["key"]))  # as our model class records a failed generation
    with second.active():
        assert _load(bench, second, "keyword:gcg") == docs
        later = _verdicts(docs)
    with first.active():
        earlier = _verdicts(docs)
    assert [v["judge"] for v in earlier] == ["keyword:jailbreakbench"] * 2
    assert [v["judge"] for v in later] == ["keyword:gcg"] * 2
    assert [v["label"] for v in earlier] == ["error", "unsafe"]  # the first run's failed generation stays its own
    assert earlier[0]["raw"] == "no response: generation failed" and [v["label"] for v in later] == ["unsafe"] * 2
    assert first.judge("keyword", {}) is first.judge_for(TASK) is not second.judge_for(TASK)


def test_two_runs_in_two_threads_at_once(bench):
    runs = {"keyword": RunContext(), "keyword:gcg": RunContext()}
    loaded, barrier, seen = {}, threading.Barrier(2), {}

    def evaluate(spec: str) -> None:
        run = runs[spec]
        with run.active():
            loaded[spec] = _load(bench, run, spec)
            barrier.wait()  # both tasks loaded, each in its own run, before either is judged
            seen[spec] = {v["judge"] for v in _verdicts(loaded[spec])}

    threads = [threading.Thread(target=evaluate, args=(spec,)) for spec in runs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == {"keyword": {"keyword:jailbreakbench"}, "keyword:gcg": {"keyword:gcg"}}


def test_a_task_loaded_for_another_run_is_refused(bench):
    first, second = RunContext(), RunContext()
    with second.active(), pytest.raises(InputError, match="names run .* not the active run"):
        load_dataset(TASK, bench=str(bench), judge="keyword", **first.metadata())


def test_without_an_active_run_a_plain_lm_eval_command_gets_one(bench):
    def fresh_context() -> tuple[RunContext, RunContext]:
        return current_run(), current_run()

    import contextvars

    one, again = contextvars.Context().run(fresh_context)  # a context where no run was opened
    assert one is again  # created once, then found
    other, _ = contextvars.Context().run(fresh_context)
    assert other is not one
