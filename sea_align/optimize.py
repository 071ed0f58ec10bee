"""Optimise one synthetic embedding per harmful phrase, K at a time in one forward/backward.

Every active embedding E_k (initialised from the encoder output of a blank medium) is injected into
the rows of its own control samples; the loss is the sum over embeddings of each one's mean target
NLL, so an embedding's gradient does not depend on how many share the batch. The model is frozen.
Adam runs per embedding (its own step count), so a slot freed by an early stop is refilled with the
next item at once. Targets are token ids (a control's `target_ids`, else its `target` text then end of
turn). Early stop: greedy decoding reproduces a target exactly when, teacher-forced, the argmax at
every target position is the target token; that is read off the same forward pass.
Multi-GPU: `accelerate launch -m sea_align.cli optimize ...` (or `torchrun`) shards the items across
processes by the RANK / WORLD_SIZE they set, each on its LOCAL_RANK's GPU, each writing index.{rank}.jsonl;
one process needs no launcher. Embeddings and Adam state are float32 whatever the model's dtype.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from va_safetybench.fileio import FileFormat, write_json

from .media import MediaModel
from .store import read_index, write_embedding

OPTIMIZE_SETTINGS = FileFormat("SEA optimise settings", 1)  # optimize.json: OptimConfig's fields and the modality

log = logging.getLogger("sea_align")


@dataclass(frozen=True)
class OptimConfig:
    k: int = 16
    max_steps: int = 300
    lr: float = 0.01
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    optimizer: str = "adam(per-embedding)"


@dataclass
class _Slot:
    item: dict
    steps: int = 0
    first_loss: float = math.nan  # at the starting point, before any step


def _row_losses(logits: Any, labels: Any) -> tuple[Any, Any]:
    """Per-row mean NLL over target tokens and per-row 'every target token is the argmax';
    logits[:, j] predicts labels[:, j] (MediaModel.answer_logits)."""
    import torch

    mask = labels != -100
    nll = torch.nn.functional.cross_entropy(logits.transpose(1, 2), labels.clamp(min=0), reduction="none")
    per_row = (nll * mask).sum(1) / mask.sum(1).clamp(min=1)
    hit = ((logits.argmax(-1) == labels) | ~mask).all(1)
    return per_row, hit


def optimize(
    mm: MediaModel,
    items: list[dict],
    out_dir: Path,
    cfg: OptimConfig,
    *,
    rank: int = 0,
    world: int = 1,
    init: Any = None,
) -> dict:
    """Optimise embeddings for `items` not yet in out_dir's index; returns counts for this process.

    `init` ([T, H]) replaces the blank medium's encoder output as the starting point, e.g. to continue
    from an earlier run's embedding."""
    import torch

    out_dir.mkdir(parents=True, exist_ok=True)
    done = read_index(out_dir)
    pending = [it for i, it in enumerate(items) if i % world == rank and it["id"] not in done]
    index_name = "index.jsonl" if world == 1 else f"index.{rank}.jsonl"
    if rank == 0:
        write_json(out_dir / "optimize.json", OPTIMIZE_SETTINGS, {**asdict(cfg), "modality": mm.modality})
    for p in mm.model.parameters():
        p.requires_grad_(False)
    # float32 whatever the model's dtype: Adam's small steps would round away in bfloat16 weights' precision
    init = (mm.encode_blank() if init is None else init).to(mm.device, torch.float32)
    queue, slots = list(pending), list[_Slot]()
    # the K embeddings being optimised and their Adam moments: made when the first slots fill
    E: Any = None
    m: Any = None
    v: Any = None
    t = torch.zeros(0, device=mm.device)
    b1, b2 = cfg.betas
    written = succeeded = 0
    started = time.perf_counter()
    batch: Any = None
    rows: Any = None
    labels: Any = None
    while queue or slots:
        if len(slots) < cfg.k and queue:  # refill freed slots
            new = [_Slot(queue.pop(0)) for _ in range(min(cfg.k - len(slots), len(queue)))]
            fresh = init.unsqueeze(0).repeat(len(new), 1, 1)
            E = fresh if E is None else torch.cat([E, fresh])
            m = torch.zeros_like(E) if m is None else torch.cat([m, torch.zeros_like(fresh)])
            v = torch.zeros_like(E) if v is None else torch.cat([v, torch.zeros_like(fresh)])
            t = torch.cat([t, torch.zeros(len(new), device=mm.device)])
            slots += new
            batch = None
        if batch is None:
            controls = [(s, c) for s, slot in enumerate(slots) for c in slot.item["controls"]]
            rows = torch.tensor([s for s, _ in controls], device=mm.device)
            batch, labels = mm.batch(
                [c["question"] for _, c in controls],
                [c.get("target_ids") or mm.answer_ids(c["target"]) for _, c in controls],
            )
        E.requires_grad_(True)
        per_row, hit = _row_losses(*mm.answer_logits(batch, E[rows], labels))
        n_slots = len(slots)
        slot_loss = torch.zeros(n_slots, device=mm.device).index_add(0, rows, per_row)
        slot_loss = slot_loss / torch.bincount(rows, minlength=n_slots)
        misses = torch.zeros(n_slots, dtype=torch.long, device=mm.device).index_add(0, rows, (~hit).long())
        slot_done = (misses == 0).cpu().tolist()
        losses = slot_loss.detach().cpu().tolist()
        for s, slot in enumerate(slots):
            if math.isnan(slot.first_loss):
                slot.first_loss = losses[s]
        finished = [s for s in range(n_slots) if slot_done[s] or slots[s].steps >= cfg.max_steps]
        grad = None if len(finished) == n_slots else torch.autograd.grad(slot_loss.sum(), E)[0]
        E = E.detach()
        for s in finished:  # written as they are now: the values that reproduce the targets
            slot = slots[s]
            entry = {
                "id": slot.item["id"],
                "phrase": slot.item["phrase"],
                "type": slot.item["type"],
                "steps": slot.steps,
                "loss": round(losses[s], 6),
                "first_loss": round(slot.first_loss, 6),
                "success": bool(slot_done[s]),
                "lr": cfg.lr,
                "optimizer": cfg.optimizer,
            }
            write_embedding(out_dir, index_name, entry, E[s])
            written += 1
            succeeded += bool(slot_done[s])
        if finished:
            log.info(
                "optimize: %d/%d written, %d reproduce their targets, %.2f s per embedding",
                written,
                len(pending),
                succeeded,
                (time.perf_counter() - started) / written,
            )
        if grad is not None:
            with torch.no_grad():  # Adam, one step count per embedding
                t += 1
                m.mul_(b1).add_(grad, alpha=1 - b1)
                v.mul_(b2).addcmul_(grad, grad, value=1 - b2)
                bc1 = (1 - b1**t).view(-1, 1, 1)
                bc2 = (1 - b2**t).view(-1, 1, 1)
                E -= cfg.lr * (m / bc1) / ((v / bc2).sqrt() + cfg.eps)
            for slot in slots:
                slot.steps += 1
        if finished:
            keep = [s for s in range(n_slots) if s not in set(finished)]
            E, m, v, t = (x[keep] for x in (E, m, v, t))
            slots = [slots[s] for s in keep]
            batch = None
    elapsed = time.perf_counter() - started
    log.info("optimize: %d embeddings written (%d reproduce their targets) in %.1fs", written, succeeded, elapsed)
    return {
        "written": written,
        "succeeded": succeeded,
        "skipped": len(items) - len(pending) if world == 1 else None,
        "seconds": elapsed,
    }
