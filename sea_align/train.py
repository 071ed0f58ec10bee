"""train: SEA's SFT or DPO through trl's SFTTrainer / DPOTrainer, each record's embedding injected as the
encoder output.

trl's trainers build their rows from text (and images) and call the model on them; a SEA row instead
carries an embedding that stands where the encoder output would. Two small pieces bridge that, and
everything else is trl's (losses, fused LM head, LoRA reference by disabling the adapter or a frozen
copy for --full, logging, checkpoints, resume, `accelerate launch` data parallelism):
- `SeaCollator` builds each batch through the model's adapter (chat template around a blank medium,
  or a mixed-in record's real one; answer tokens appended and marked by `labels` / `completion_mask`)
  and flattens the rows' encoder outputs in placeholder order;
- `InjectEmbeddings`, mixed into both trainers, turns those into the adapter's injection kwargs right
  before trl's own `compute_loss`, inside autograd, so the model sees P(E) in place of M(medium).
A kill loses at most `save_every` steps: the rerun resumes from the newest complete checkpoint in
OUT/trainer. The result is saved merged, with `va_safetybench.json` metadata, so `hf:PATH` loads it.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from va_safetybench.errors import InputError
from va_safetybench.fileio import FileFormat, write_json
from va_safetybench.models.base import CHECKPOINT_METADATA, METADATA_FILE

from .media import MediaModel

log = logging.getLogger("sea_align")
# the language model's linear layers LoRA adapts (fused qkv / gate_up where a family has them), after the family's
# language-model prefix (GenericAdapter.language_model_pattern)
LORA_LAYERS = r".*\.(q_proj|k_proj|v_proj|o_proj|qkv_proj|gate_proj|up_proj|gate_up_proj|down_proj)"
FINGERPRINT_FILE = "sea_fingerprint.json"
TRAINING_FINGERPRINT = FileFormat("training fingerprint", 1)  # {fingerprint}: the records and settings trained on


@dataclass(frozen=True)
class TrainConfig:
    method: str = "dpo"
    epochs: int = 1
    batch_size: int = 2
    grad_accum: int = 1
    lr: float = 1e-4
    beta: float = 0.1
    lora_r: int = 8
    lora_alpha: int = 16
    full: bool = False
    activation_checkpointing: bool = False
    max_response_tokens: int = 256
    seed: int = 0
    text_only: bool = False  # the baseline: the same records' text, no medium, nothing injected


class SeaCollator:
    """Records -> one batch: the adapter's inputs (`sea_inputs`), the rows' encoder outputs flattened in row
    order (`sea_embeds`, [rows x T, H]) and what the trainer's loss reads: `labels` (SFT) or `completion_mask`
    with chosen rows then rejected rows (DPO).

    A SEA record's medium is the blank one and its encoder output the optimised embedding. A mixed-in real
    record names its `media` file, which fixes its placeholder tokens (and, for Qwen2-VL, its grid), and
    either a precomputed encoder output (`embedding`) or none, in which case the frozen encoder computes it
    once. Rows of one batch may so have encoder outputs of different lengths."""

    def __init__(self, mm: MediaModel, method: str, max_response_tokens: int, text_only: bool = False) -> None:
        self.mm, self.method, self.max_tokens, self.text_only = mm, method, max_response_tokens, text_only
        self._encoder_outputs: dict[tuple[str, str], Any] = {}

    def _answer(self, text: str) -> list[int]:
        return self.mm.answer_ids(text)[: self.max_tokens]

    def _encoder_output(self, record: dict) -> Any:
        """[T, H] for one record, kept: records share embeddings across epochs (a few MB each)."""
        from safetensors.torch import load_file

        key = ("embedding", record["embedding"]) if record.get("embedding") else ("media", record["media"])
        if key not in self._encoder_outputs:
            try:
                value = load_file(key[1])["embedding"] if key[0] == "embedding" else self.mm.encode(key[1]).cpu()
            except (OSError, KeyError) as e:
                raise InputError(f"{key[1]}: cannot read the record's {key[0]} ({e})") from None
            self._encoder_outputs[key] = value
        return self._encoder_outputs[key]

    def __call__(self, records: list[dict]) -> dict[str, Any]:
        import torch

        prompts = [r["prompt"] for r in records]
        media = [r.get("media") for r in records]
        embeds = [] if self.text_only else [self._encoder_output(r) for r in records]
        if self.method == "sft":
            answers = [self._answer(r["response"]) for r in records]
        else:
            answers = [self._answer(r["chosen"]) for r in records] + [self._answer(r["rejected"]) for r in records]
            prompts, media, embeds = prompts * 2, media * 2, embeds * 2
        inputs, labels = self.mm.batch(prompts, answers, media, with_medium=not self.text_only)
        rows = torch.cat(embeds).to(self.mm.device, self.mm.model.dtype) if embeds else None
        batch = {"sea_inputs": dict(inputs), "sea_embeds": rows}
        if self.method == "sft":
            batch["labels"] = labels
        else:
            batch["completion_mask"] = (labels != -100).long()
        return batch


class InjectEmbeddings:
    """Mixin for a trl trainer: `sea_inputs` + `sea_embeds` become the model's kwargs with the embeddings
    injected, then the trainer's own loss runs on them."""

    sea_adapter: Any

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):  # noqa: ANN001, ANN201
        inputs = dict(inputs)
        sea_inputs, sea_embeds = inputs.pop("sea_inputs"), inputs.pop("sea_embeds")
        kwargs = self.sea_adapter.forward_kwargs(sea_inputs, sea_embeds)
        with self.sea_adapter.encoder_swap(sea_inputs, sea_embeds):
            return super().compute_loss(  # type: ignore[misc]  # the trl trainer mixed in has it
                model, {**kwargs, **inputs}, return_outputs=return_outputs, num_items_in_batch=num_items_in_batch
            )


def progress_callback() -> Any:
    """A TrainerCallback that logs `train: step s/S, loss L` as trl logs each step (the trainer's own progress bar
    is off); built on first use, as transformers is imported only when training."""
    from transformers import TrainerCallback

    class _StepProgress(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):  # noqa: ANN001, ANN201
            if logs and "loss" in logs:
                log.info("train: step %d/%d, loss %.4f", state.global_step, state.max_steps, float(logs["loss"]))

    return _StepProgress()


def _trainer_classes() -> dict[str, type]:
    from trl import DPOTrainer, SFTTrainer

    class SeaSFTTrainer(InjectEmbeddings, SFTTrainer):
        pass

    class SeaDPOTrainer(InjectEmbeddings, DPOTrainer):
        pass

    return {"sft": SeaSFTTrainer, "dpo": SeaDPOTrainer}


def _arguments(cfg: TrainConfig, work: Path, save_every: int) -> Any:
    import torch
    from trl import DPOConfig, SFTConfig

    gpu = torch.cuda.is_available()
    common: dict[str, Any] = dict(
        output_dir=str(work),
        per_device_train_batch_size=cfg.batch_size,
        gradient_accumulation_steps=cfg.grad_accum,
        num_train_epochs=cfg.epochs,
        learning_rate=cfg.lr,
        lr_scheduler_type="constant",
        warmup_steps=0,
        weight_decay=0.0,
        seed=cfg.seed,
        data_seed=cfg.seed,
        logging_steps=1,
        save_strategy="steps",
        save_steps=save_every,
        save_total_limit=2,
        report_to=[],
        disable_tqdm=True,
        activation_checkpointing=cfg.activation_checkpointing,
        bf16=gpu and torch.cuda.is_bf16_supported(),  # trl's default, where the device has it
        # Without a GPU, use_cpu makes processes under torchrun train data-parallel over gloo instead of each
        # training on everything.
        use_cpu=not gpu,
        # Our collator reads the record columns and already puts each batch on the model's device.
        remove_unused_columns=False,
        dataloader_num_workers=0,
        dataloader_pin_memory=False,
    )
    if cfg.method == "sft":
        return SFTConfig(**common, dataset_kwargs={"skip_prepare_dataset": True}, max_length=None)
    return DPOConfig(**common, beta=cfg.beta, loss_type=["sigmoid"], max_length=None)


def build_trainer(mm: MediaModel, records: list[dict], cfg: TrainConfig, work: Path, save_every: int = 50) -> Any:
    """The trl trainer for `records`, writing checkpoints under `work`; LoRA on the language model's linear
    layers (seeded, so a run repeats exactly) unless cfg.full, encoder and projector frozen either way."""
    import torch
    from datasets import Dataset
    from peft import LoraConfig

    if cfg.method not in ("sft", "dpo"):
        raise InputError(f"--method {cfg.method}: expected sft or dpo")
    needed = {"prompt", *(("response",) if cfg.method == "sft" else ("chosen", "rejected"))}
    for n, record in enumerate(records, 1):
        if needed - record.keys():
            raise InputError(f"dataset record {n}: missing {', '.join(sorted(needed - record.keys()))}")
        if not (cfg.text_only or record.get("embedding") or record.get("media")):
            raise InputError(f"dataset record {n}: needs an embedding or a media file")
    model = mm.model
    language_model = mm.adapter.language_model_pattern
    for name, p in model.named_parameters():
        p.requires_grad_(cfg.full and (re.match(language_model, name) is not None or "lm_head" in name))
    torch.manual_seed(cfg.seed)  # LoRA's random init
    extra: dict[str, Any] = {}
    if cfg.full and cfg.method == "dpo":
        extra["ref_model"] = copy.deepcopy(model).eval().requires_grad_(False)
    if not cfg.full:
        extra["peft_config"] = LoraConfig(
            r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=0.0, target_modules=language_model + LORA_LAYERS
        )
    columns = sorted(needed | {"embedding", "media"})
    dataset = Dataset.from_list([{k: r.get(k) for k in columns} for r in records])
    trainer = _trainer_classes()[cfg.method](
        model=model,
        args=_arguments(cfg, work, save_every),
        train_dataset=dataset,
        processing_class=mm.tokenizer,
        data_collator=SeaCollator(mm, cfg.method, cfg.max_response_tokens, cfg.text_only),
        callbacks=[progress_callback()],
        **extra,
    )
    trainer.sea_adapter = mm.adapter
    return trainer


def fingerprint(records: list[dict], cfg: TrainConfig) -> str:
    """What a checkpoint folder belongs to: the records and every setting that shapes the steps."""
    return hashlib.sha256(json.dumps([records, asdict(cfg)], sort_keys=True, default=str).encode()).hexdigest()


def last_complete_checkpoint(work: Path) -> Path | None:
    """The newest `checkpoint-N` whose trainer state was written (the Trainer writes it last, so a kill
    during a save leaves that folder without it and the previous one is used)."""
    done = [
        p for p in work.glob("checkpoint-*") if p.name.split("-")[-1].isdigit() and (p / "trainer_state.json").is_file()
    ]
    return max(done, key=lambda p: int(p.name.split("-")[-1]), default=None)


def fit(
    mm: MediaModel, records: list[dict], cfg: TrainConfig, work: Path, save_every: int = 50
) -> tuple[Any, list[float]]:
    """Train on `records` (resuming from `work`'s newest complete checkpoint); (trained model, loss per step).

    The trained model is the trainer's (a PeftModel unless cfg.full). A `work` folder that holds checkpoints
    of other records or settings is refused rather than silently continued."""
    work.mkdir(parents=True, exist_ok=True)
    stamp, mark = fingerprint(records, cfg), work / FINGERPRINT_FILE
    if mark.is_file() and json.loads(mark.read_text())["fingerprint"] != stamp:
        raise InputError(
            f"{work}: holds checkpoints of a training run on other records or settings; "
            "delete it to start over, or pass another --out"
        )
    write_json(mark, TRAINING_FINGERPRINT, {"fingerprint": stamp}, indent=None)
    trainer = build_trainer(mm, records, cfg, work, save_every)
    resume = last_complete_checkpoint(work)
    if resume:
        log.info("train: resuming after step %s", resume.name.split("-")[-1])
    trainer.train(resume_from_checkpoint=str(resume) if resume else None)
    losses = [float(e["loss"]) for e in trainer.state.log_history if "loss" in e]
    if losses:
        log.info("train: %d steps, loss %.4f -> %.4f", trainer.state.global_step, losses[0], losses[-1])
    return trainer.model, losses


def save(model: Any, mm: MediaModel, out: Path, alignment: dict) -> None:
    """The trained model merged into a plain checkpoint, with the processor and the alignment recipe."""
    out.mkdir(parents=True, exist_ok=True)
    model = model.merge_and_unload() if hasattr(model, "merge_and_unload") else model
    for config in {id(c): c for c in (model.config, model.config.get_text_config())}.values():
        if getattr(config, "use_cache", None) is False:
            config.use_cache = True  # the trainer turns the KV cache off; generation from the checkpoint wants it
    model.eval().save_pretrained(out)
    backend = getattr(mm.tokenizer, "backend_tokenizer", None)
    if backend is not None:  # batches left their padding setting on the fast tokenizer: not part of the checkpoint
        backend.no_padding()
        backend.no_truncation()
    mm.adapter.processor.save_pretrained(out)
    metadata: dict[str, Any] = {"alignment": alignment}
    if mm.checkpoint.get("random_weights"):  # a tiny or random base stays marked, so its scores say they mean nothing
        metadata["random_weights"] = True
    write_json(out / METADATA_FILE, CHECKPOINT_METADATA, metadata)
