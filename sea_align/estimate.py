"""How long `sea-align run` will take, from steps measured on this model and device before the run starts.

Three probes on the run's own items, each timed twice (the faster kept, so a first call's warm-up is not
counted): one optimisation step of K embeddings (forward and backward), a short greedy generation of a verify
batch, and the forward and backward of one training batch (chosen and rejected rows). The stages then cost:
optimize up to items x max_steps / K steps (less when embeddings stop early), verify one generation of 48
tokens per 8 embeddings, train steps x 1.5 batch passes (DPO's reference model adds a forward pass; SFT is
counted the same; the text-only baseline's rows, which hold no medium, are timed with the blank medium's, an upper
bound). It is an estimate: it says so, and which device it measured.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .media import MediaModel
from .optimize import OptimConfig, _row_losses
from .train import TrainConfig

VERIFY_BATCH, VERIFY_TOKENS, PROBE_TOKENS = 8, 48, 4


@dataclass(frozen=True)
class Estimate:
    device: str
    optimize_s: float
    verify_s: float
    train_s: float
    step_s: float  # one measured optimisation step

    @property
    def total_s(self) -> float:
        return self.optimize_s + self.verify_s + self.train_s

    def line(self) -> str:
        parts = [f"optimize up to {_duration(self.optimize_s)} ({self.step_s:.2f} s per step)"] if self.step_s else []
        if self.verify_s:
            parts.append(f"verify ~{_duration(self.verify_s)}")
        parts.append(f"train ~{_duration(self.train_s)}")
        return (
            f"estimate on {self.device}: about {_duration(self.total_s)} of model work ({', '.join(parts)}), measured "
            "just now; setting up the trainer and saving the checkpoint come on top"
        )


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _timed(fn: Callable[[], Any]) -> float:
    """The faster of two calls of fn, in seconds."""
    best = math.inf
    for _ in range(2):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def _step(mm: MediaModel, questions: list[str], answers: list[list[int]], embeds: Any) -> None:
    """One forward and backward with `embeds` injected, as optimize and train run them."""
    import torch

    batch, labels = mm.batch(questions, answers)
    E = embeds.detach().clone().requires_grad_(True)
    per_row, _ = _row_losses(*mm.answer_logits(batch, E, labels))
    torch.autograd.grad(per_row.sum(), E)


def estimate_run(
    mm: MediaModel, items: list[dict], optim: OptimConfig, train: TrainConfig, *, text_only: bool = False
) -> Estimate:
    """The estimate for optimising, verifying and training on `items` (prepared items) with these settings;
    `text_only` times the training of the text-only baseline alone."""
    n = len(items)
    blank = mm.encode_blank()
    width = 2 * train.batch_size if train.method == "dpo" else train.batch_size
    sample = items[: max(1, min(width, n))]
    answers = [mm.answer_ids(it["chosen"])[: train.max_response_tokens] for it in sample]
    rows = [answers[i % len(answers)] for i in range(width)]
    questions = [sample[i % len(sample)]["prompt"] for i in range(width)]
    train_steps = math.ceil(n * train.epochs / (train.batch_size * train.grad_accum)) * train.grad_accum
    train_step = _timed(lambda: _step(mm, questions, rows, blank.expand(width, -1, -1)))
    if text_only:  # timed with the blank medium's rows in place: an upper bound for rows without them
        return Estimate(str(mm.device), 0.0, 0.0, train_steps * 1.5 * train_step, 0.0)
    k = max(1, min(optim.k, n))
    controls = [c for it in items[:k] for c in it["controls"]]
    targets = [c.get("target_ids") or mm.answer_ids(c["target"]) for c in controls]
    step = _timed(lambda: _step(mm, [c["question"] for c in controls], targets, blank.expand(len(controls), -1, -1)))
    verify_rows = min(VERIFY_BATCH, n)
    question = "What is shown? Answer briefly."
    generate = _timed(lambda: mm.generate([question] * verify_rows, blank.expand(verify_rows, -1, -1), PROBE_TOKENS))
    return Estimate(
        device=str(mm.device),
        optimize_s=math.ceil(n * optim.max_steps / k) * step,
        verify_s=math.ceil(n / VERIFY_BATCH) * generate * VERIFY_TOKENS / PROBE_TOKENS,
        train_s=train_steps * 1.5 * train_step,
        step_s=step,
    )
