"""train: SFT or DPO on the SEA records, with each record's embedding injected as the encoder output.

A small custom loop rather than trl's trainers: trl's VLM collators build pixel inputs from images
and offer no hook to put a given encoder output in place of the vision/audio features, for both the
chosen and the rejected halves. The losses are trl's: SFT = mean NLL of the response tokens;
DPO (sigmoid) = -log sigmoid(beta * ((pi_c - ref_c) - (pi_r - ref_r))) over summed response
log-probs, the reference being the same model with the LoRA adapter disabled (a frozen copy for
--full). The checkpoint is saved merged, with `va_safetybench.json` metadata, so `hf:PATH` loads it.
"""

from __future__ import annotations

import json
import logging
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
    logits, labels = mm.logits(batch, embeds)[:, :-1].float(), labels[:, 1:]
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

    def fit(self, records: list[dict]) -> list[float]:
        from safetensors.torch import load_file
        import torch
        rng = random.Random(self.cfg.seed)
        cache: dict[str, Any] = {}
        losses = []
        for _ in range(self.cfg.epochs):
            order = list(records)
            rng.shuffle(order)
            for start in range(0, len(order), self.cfg.batch_size):
                chunk = order[start:start + self.cfg.batch_size]
                for r in chunk:
                    if r["embedding"] not in cache:
                        cache[r["embedding"]] = load_file(r["embedding"])["embedding"]
                embeds = torch.stack([cache[r["embedding"]] for r in chunk]).to(self.mm.device)
                losses.append(self.step(chunk, embeds))
        log.info("train: %d steps, loss %.4f -> %.4f", len(losses), losses[0], losses[-1])
        return losses

    def save(self, out: Path, alignment: dict) -> None:
        out.mkdir(parents=True, exist_ok=True)
        model = self.model if self.cfg.full else self.model.merge_and_unload()
        model.save_pretrained(out)
        self.mm.adapter.processor.save_pretrained(out)
        (out / "va_safetybench.json").write_text(json.dumps({"alignment": alignment}, indent=1))
