"""train: SFT or DPO on the SEA records, with each record's embedding injected as the encoder output.

A small loop of our own rather than trl's trainers: trl (1.16) computes log-probs through
`model(**batch, fused_lm_head=True)` on a model whose LM head it patches, and its vision path builds
pixel inputs from images on the fly; neither has a place for a given encoder output in the chosen
and the rejected halves. The losses are trl's: SFT = mean NLL of the response tokens; DPO (sigmoid)
= -log sigmoid(beta * ((pi_c - ref_c) - (pi_r - ref_r))) over summed response log-probs, the
reference being the same model with the LoRA adapter disabled (a frozen copy for --full).
Resumable: the step order is fixed by the seed and TrainState saves every few steps. The checkpoint
is saved merged, with `va_safetybench.json` metadata, so `hf:PATH` loads it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from va_safetybench.errors import InputError

from .media import MediaModel

log = logging.getLogger("sea_align")
LORA_TARGETS = r".*language_model.*\.(q_proj|k_proj|v_proj|o_proj|gate_proj|up_proj|down_proj)"


@dataclass(frozen=True)
class TrainConfig:
    method: str = "dpo"
    epochs: int = 1
    batch_size: int = 2
    lr: float = 1e-4
    beta: float = 0.1
    lora_r: int = 8
    lora_alpha: int = 16
    full: bool = False
    max_response_tokens: int = 256
    seed: int = 0


def add_lora(model: Any, cfg: TrainConfig) -> Any:
    """LoRA on the language model's linear layers only; encoder and projector stay frozen."""
    from peft import LoraConfig, get_peft_model
    return get_peft_model(model, LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=0.0,
                                            target_modules=LORA_TARGETS))


def _logps(mm: MediaModel, prompts: list[str], responses: list[str], embeds: Any) -> tuple[Any, Any]:
    """Summed and mean log-probability of each response given its prompt and embedding."""
    import torch
    batch, labels = mm.batch(prompts, [mm.answer_ids(r) for r in responses])
    logits, labels = mm.answer_logits(batch, embeds, labels)
    mask = labels != -100
    lp = torch.log_softmax(logits, -1).gather(-1, labels.clamp(min=0).unsqueeze(-1)).squeeze(-1) * mask
    return lp.sum(1), lp.sum(1) / mask.sum(1).clamp(min=1)


class Trainer:
    def __init__(self, mm: MediaModel, cfg: TrainConfig) -> None:
        import copy

        import torch
        self.mm, self.cfg = mm, cfg
        for p in mm.model.parameters():
            p.requires_grad_(cfg.full)
        self.ref = None  # full DPO: a frozen copy behind its own adapter; LoRA DPO: the adapter disabled
        if cfg.full and cfg.method == "dpo":
            adapter = mm.adapter
            self.ref = MediaModel(type(adapter)(copy.deepcopy(mm.model).eval(), adapter.processor, adapter.options),
                                  mm.modality)
        torch.manual_seed(cfg.seed)  # LoRA's random init: the same run twice gives the same adapter
        # peft puts the LoRA layers into mm.model's own modules, so the adapter's forward runs them.
        self.model = mm.model if cfg.full else add_lora(mm.model, cfg)
        if cfg.full:  # the encoder and projector stay frozen in full fine-tuning too
            for name, p in self.model.named_parameters():
                p.requires_grad_("language_model" in name or "lm_head" in name)
        params = [p for p in self.model.parameters() if p.requires_grad]
        self.optim = torch.optim.AdamW(params, lr=cfg.lr)

    def _truncate(self, text: str) -> str:
        tok = self.mm.tokenizer
        ids = tok(text, add_special_tokens=False)["input_ids"][: self.cfg.max_response_tokens]
        return tok.decode(ids)

    def loss(self, records: list[dict], embeds: Any) -> Any:
        import torch
        prompts = [r["prompt"] for r in records]
        if self.cfg.method == "sft":
            _, mean = _logps(self.mm, prompts, [self._truncate(r["response"]) for r in records], embeds)
            return -mean.mean()
        responses = [self._truncate(r["chosen"]) for r in records] + [self._truncate(r["rejected"]) for r in records]
        both = torch.cat([embeds, embeds])
        pi, _ = _logps(self.mm, prompts * 2, responses, both)
        with torch.no_grad():
            if self.ref is not None:
                ref, _ = _logps(self.ref, prompts * 2, responses, both)
            else:
                with self.model.disable_adapter():
                    ref, _ = _logps(self.mm, prompts * 2, responses, both)
        n = len(records)
        margin = (pi[:n] - ref[:n]) - (pi[n:] - ref[n:])
        return -torch.nn.functional.logsigmoid(self.cfg.beta * margin).mean()

    def step(self, records: list[dict], embeds: Any) -> float:
        self.model.train()
        loss = self.loss(records, embeds)
        self.optim.zero_grad()
        loss.backward()
        self.optim.step()
        return float(loss.detach())

    def schedule(self, records: list[dict]) -> list[list[dict]]:
        """Every step's batch, all epochs, fixed by the seed: a resumed run skips exactly the done ones."""
        rng = random.Random(self.cfg.seed)
        steps = []
        for _ in range(self.cfg.epochs):
            order = list(records)
            rng.shuffle(order)
            steps += [order[start:start + self.cfg.batch_size] for start in range(0, len(order), self.cfg.batch_size)]
        return steps

    def fit(self, records: list[dict], state_dir: Path | None = None, save_every: int = 50) -> list[float]:
        """Train over `records`; with `state_dir`, the trainable weights, optimiser and losses are saved
        there every `save_every` steps and at the end, and a rerun continues after the last save."""
        import torch
        from safetensors.torch import load_file
        steps = self.schedule(records)
        state = TrainState(state_dir, self._fingerprint(records)) if state_dir else None
        losses = state.restore(self.model, self.optim) if state else []
        if losses:
            log.info("train: resuming after step %d of %d", len(losses), len(steps))
        cache: dict[str, Any] = {}
        for n in range(len(losses), len(steps)):
            chunk = steps[n]
            for r in chunk:
                if r["embedding"] not in cache:
                    cache[r["embedding"]] = load_file(r["embedding"])["embedding"]
            embeds = torch.stack([cache[r["embedding"]] for r in chunk]).to(self.mm.device)
            losses.append(self.step(chunk, embeds))
            if state and (len(losses) % save_every == 0 or len(losses) == len(steps)):
                state.save(self.model, self.optim, losses)
            if len(losses) % 10 == 0 or len(losses) == len(steps):
                log.info("train: step %d/%d, loss %.4f", len(losses), len(steps), losses[-1])
        if losses:
            log.info("train: %d steps, loss %.4f -> %.4f", len(losses), losses[0], losses[-1])
        return losses

    def _fingerprint(self, records: list[dict]) -> str:
        """What a saved state belongs to: the records and every setting that shapes the steps."""
        blob = json.dumps([records, asdict(self.cfg)], sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()

    def save(self, out: Path, alignment: dict) -> None:
        out.mkdir(parents=True, exist_ok=True)
        model = self.model if self.cfg.full else self.model.merge_and_unload()
        model.save_pretrained(out)
        self.mm.adapter.processor.save_pretrained(out)
        (out / "va_safetybench.json").write_text(json.dumps({"alignment": alignment}, indent=1))


class TrainState:
    """A resumable training state in one folder: trainable weights, optimiser state and the losses so
    far (one per finished step), written to a temporary file and renamed, so a kill leaves the previous
    save whole. A state made for other records or settings is refused rather than silently mixed in."""

    FILE = "train_state.pt"

    def __init__(self, folder: Path, fingerprint: str) -> None:
        self.path = folder / self.FILE
        self.fingerprint = fingerprint

    def restore(self, model: Any, optim: Any) -> list[float]:
        import torch
        if not self.path.is_file():
            return []
        saved = torch.load(self.path, map_location="cpu", weights_only=True)
        if saved["fingerprint"] != self.fingerprint:
            raise InputError(f"{self.path}: saved by a training run on other records or settings; "
                             "delete it to start over, or pass another --out")
        trainable = dict(model.named_parameters())
        with torch.no_grad():
            for name, value in saved["weights"].items():
                trainable[name].copy_(value)
        optim.load_state_dict(saved["optim"])
        return list(saved["losses"])

    def save(self, model: Any, optim: Any, losses: list[float]) -> None:
        import torch
        self.path.parent.mkdir(parents=True, exist_ok=True)
        weights = {n: p.detach().cpu() for n, p in model.named_parameters() if p.requires_grad}
        tmp = self.path.with_suffix(".tmp")
        torch.save({"fingerprint": self.fingerprint, "weights": weights, "optim": optim.state_dict(),
                    "losses": losses}, tmp)
        os.replace(tmp, self.path)
