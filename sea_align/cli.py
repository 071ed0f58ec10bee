"""`sea-align prepare | optimize | verify | dataset | train | run`: SEA from text safety data to a checkpoint.

All stages share one work directory (--out): prepared.jsonl, emb/ + index.jsonl, verify.json,
dataset.jsonl, checkpoint/. Each stage reads what the previous one wrote, so they can be rerun alone.
`train --text-only` (and `run --text-only`: prepare, then train) trains the text-only baseline on the prepared
items' own text into checkpoint-text-only/. `--preset quick` fills unset options for a first try (presets.py).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from dataclasses import field as dataclass_field
from pathlib import Path
from typing import Any, TypeVar

from va_safetybench.cli import run_guarded
from va_safetybench.errors import InputError
from va_safetybench.models.base import MediaKind
from va_safetybench.models.registry import ModelSpec
from va_safetybench.options import add_options, option, typed_options

from .media import model_spec
from .presets import DEFAULT, PRESETS, apply_preset
from .settings import MODALITIES, SeaSettings

STAGES = ("prepare", "optimize", "verify", "dataset", "train")
TEXT_ONLY_STAGES = ("prepare", "train")
LAUNCHABLE = {"optimize", "train"}  # the stages that split their work across launched processes
TEXT_ONLY_DIR = "checkpoint-text-only"
log = logging.getLogger("sea_align")
T = TypeVar("T")


def split_styles(text: str) -> tuple[str, ...]:
    """'a | b||c' -> ('a', 'b', 'c'); none -> the modality's own (settings.STYLES)."""
    return tuple(s.strip() for s in text.split("|") if s.strip())


@dataclass
class Common:
    """The options every sea-align command takes."""

    out: Path = option(help="work directory shared by all stages")
    modality: MediaKind = option("image", choices=MODALITIES, help="the input SEA aligns the model on")
    preset: str = option(
        DEFAULT,
        choices=tuple(PRESETS),
        help="defaults for the options left unset: paper (K=16, 300 steps, 256 answer tokens: real models on a "
        "GPU) or quick (8 items, K=4, 8 steps, 32 answer tokens: a first try, a tiny model, a CPU)",
    )
    response_prefix: str = option("The {modality} shows", help="start of every control target")
    styles: tuple[str, ...] = option((), parse=split_styles, help="style set, '|'-separated (default: per modality)")

    def settings(self) -> SeaSettings:
        return SeaSettings(self.modality, self.response_prefix, self.styles)


@dataclass
class Prepare:
    """sea-align prepare: the text safety data and how key phrases are drawn from it."""

    data: str = option(
        help="pku (the hub's PKU-SafeRLHF), a hub dataset id, .jsonl/.parquet, or demo (the built-in demo "
        "questions with a written refusal and compliance opening: offline, for trying the pipeline)",
    )
    split: str = option("train", help="the split of a hub dataset")
    fields: str | None = option(None, help="field mapping OURS=THEIRS,.. for other schemas")
    limit: int | None = option(None, help="first N usable items (preset: paper all, quick 8)")
    extractor: str = option("offline", help="offline | llm:MODEL (OpenAI-compatible)")
    base_url: str | None = option(None, help="llm:MODEL's OpenAI-compatible endpoint (default: OpenAI's)")
    api_key_env: str = option("OPENAI_API_KEY", help="the variable holding llm:MODEL's API key")


@dataclass
class Model:
    """The model optimize, verify and train load."""

    model: ModelSpec = option(help="tiny:NAME | hf:PATH", parse=model_spec)
    device: str | None = option(None, help="default: this process's GPU if there is one, else cpu")
    dtype: str = option("auto", help="hf: weights' dtype (auto = the checkpoint's)")


@dataclass
class Optimize:
    """sea-align optimize: the embeddings' gradient descent (None: the preset's)."""

    k: int | None = option(None, help="embeddings optimised together in one batch (16, quick 4)")
    max_steps: int | None = option(None, help="Adam steps per embedding at most (300, quick 8)")
    lr: float | None = option(None, help="Adam's step size (0.01)")


@dataclass
class Method:
    """DPO or SFT: the dataset's records and the training that reads them."""

    method: str | None = option(
        None, choices=("dpo", "sft"), help="dpo (default) or sft; train reads it from the dataset"
    )


@dataclass
class Dataset:
    """sea-align dataset: which embeddings and which real records make the training set."""

    only_success: bool = option(False, help="keep only embeddings that reached OSR")
    mix: Path | None = option(
        None,
        help="real multimodal records to mix in: jsonl of prompt, chosen+rejected or response, "
        "media (the file), optionally embedding (its precomputed encoder output, safetensors)",
    )


@dataclass
class Train:
    """sea-align train: the SFT/DPO run and where its checkpoint goes."""

    epochs: int = option(1, help="passes over the training records")
    train_lr: float = option(1e-4, help="the training's learning rate")
    batch_size: int = option(2, help="records per device per step")
    grad_accum: int = option(1, help="gradient accumulation steps")
    beta: float = option(0.1, help="DPO's beta: how far the trained model may move from the base model")
    lora_r: int = option(8, help="LoRA rank (alpha is twice the rank)")
    full: bool = option(False, help="full fine-tuning of the language model instead of LoRA")
    activation_checkpointing: bool = option(
        False, help="recompute activations in the backward pass: less memory for a slower step"
    )
    max_response_tokens: int | None = option(None, help="answer tokens trained on (256, quick 32)")
    text_only: bool = option(
        False, help="the text-only baseline: the same SFT/DPO on the prepared items' own instructions, no medium"
    )
    checkpoint: Path | None = option(None, help=f"default: OUT/checkpoint (--text-only: OUT/{TEXT_ONLY_DIR})")
    save_every: int = option(
        50, help="steps between resumable checkpoints in OUT/trainer (a rerun resumes from the newest)"
    )


# each command's options, in the order of its --help; `run` takes every stage's
COMMAND_OPTIONS: dict[str, tuple[type, ...]] = {
    "prepare": (Common, Prepare),
    "optimize": (Common, Model, Optimize),
    "verify": (Common, Model),
    "dataset": (Common, Method, Dataset),
    "train": (Common, Model, Method, Train),
    "run": (Common, Prepare, Model, Optimize, Method, Dataset, Train),
}


@dataclass
class Command:
    """One sea-align command line, typed: its options groups (None: one the command does not take), the preset's
    values filled in where the command line left them unset, and the models its stages load (once per command)."""

    name: str
    common: Common
    prepare: Prepare | None = None
    model: Model | None = None
    optimize: Optimize | None = None
    method: Method | None = None
    dataset: Dataset | None = None
    train: Train | None = None
    loaded: dict[ModelSpec, Any] = dataclass_field(default_factory=dict)  # model -> its MediaModel

    @property
    def method_name(self) -> str | None:
        return self.method.method if self.method else None


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="sea-align", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True)
    for name, groups in COMMAND_OPTIONS.items():
        p = sub.add_parser(name, help="all stages in order") if name == "run" else sub.add_parser(name)
        for cls in groups:
            add_options(p, cls)
    return ap


def read_command(args: argparse.Namespace) -> Command:
    """The typed command of a parsed command line, the preset's values in the options it left unset."""
    groups = {type(options).__name__.lower(): options for options in typed_options(args)}
    preset = groups["common"].preset
    for name, options in groups.items():
        unset = {
            f.name: None for f in fields(options) if f.name in PRESETS[preset] and getattr(options, f.name) is None
        }
        groups[name] = replace(options, **apply_preset(unset, preset))
    return Command(args.command, **groups)


def _need(value: T | None) -> T:
    """An options group the command takes (each stage is only reached by the commands that take its options), or
    a value the preset filled (every preset names k, max_steps, lr and max_response_tokens)."""
    assert value is not None, "a stage reached by a command without its options, or a preset without the value"
    return value


def _media_model(cmd: Command):
    """The command's model, loaded once: `run` hands the same one from optimize to verify to train (train is last,
    so its LoRA layers never reach an earlier stage)."""
    from .media import MediaModel, load

    model = _need(cmd.model)
    if model.model not in cmd.loaded:
        adapter, metadata = load(model.model, dtype=model.dtype, device=_device(model))
        cmd.loaded[model.model] = MediaModel(adapter, cmd.common.modality, metadata)
    return cmd.loaded[model.model]


def _device(model: Model) -> str:
    """--device, else this process's GPU (LOCAL_RANK under a launcher), else the CPU."""
    import torch

    if model.device:
        return model.device
    return f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}" if torch.cuda.is_available() else "cpu"


def do_prepare(cmd: Command) -> dict:
    from .extract import make_extractor
    from .prepare import prepare
    from .textdata import load_pairs

    p, out = _need(cmd.prepare), cmd.common.out
    pairs = load_pairs(p.data, split=p.split, fields=p.fields, limit=p.limit)
    extractor = make_extractor(
        p.extractor, base_url=p.base_url, api_key_env=p.api_key_env, cache_dir=out / "extract_cache"
    )
    return prepare(pairs, extractor, cmd.common.settings(), out / "prepared.jsonl")


def _optim_config(cmd: Command):
    from .optimize import OptimConfig

    o = _need(cmd.optimize)
    return OptimConfig(k=_need(o.k), max_steps=_need(o.max_steps), lr=_need(o.lr))


def do_optimize(cmd: Command) -> dict:
    from .optimize import optimize
    from .prepare import read_prepared

    out = cmd.common.out
    items = read_prepared(out / "prepared.jsonl")
    rank, world = _launch_rank()
    return optimize(_media_model(cmd), items, out, _optim_config(cmd), rank=rank, world=world)


def _launch_rank() -> tuple[int, int]:
    """(rank, world size) as `torchrun` or `accelerate launch` put them in each process's environment; (0, 1)
    for a plain run. Sharding needs nothing more: the processes never talk to each other."""
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


def do_verify(cmd: Command) -> dict:
    from .verify import verify

    return verify(_media_model(cmd), cmd.common.out, cmd.common.settings())


def do_dataset(cmd: Command) -> dict:
    from .dataset import build
    from .prepare import read_prepared

    out, d = cmd.common.out, _need(cmd.dataset)
    method = cmd.method_name or "dpo"
    n = build(
        read_prepared(out / "prepared.jsonl"),
        out,
        cmd.common.settings(),
        method,
        out / "dataset.jsonl",
        only_success=d.only_success,
        mix=d.mix,
    )
    return {"records": n, "method": method}


def _train_records(cmd: Command) -> tuple[list[dict], str, Path]:
    """(records, method, the file they come from): the dataset stage's, or the text-only baseline's."""
    out = cmd.common.out
    if _need(cmd.train).text_only:
        from .dataset import text_only_records
        from .prepare import read_prepared

        path = out / "prepared.jsonl"
        method = cmd.method_name or "dpo"
        return text_only_records(read_prepared(path), method), method, path
    path = out / "dataset.jsonl"
    if not path.is_file():
        raise InputError(f"{path}: no dataset (run `sea-align dataset` first)")
    from va_safetybench.fileio import read_jsonl

    records = read_jsonl(path)  # every line an object; a bad byte, JSON or line is named
    if not records:
        raise InputError(f"{path}: no records to train on")
    method = "dpo" if "chosen" in records[0] else "sft"
    if cmd.method_name and cmd.method_name != method:
        raise InputError(
            f"--method {cmd.method_name}: {path} holds {method} records (rebuild it with `sea-align dataset`)"
        )
    return records, method, path


def _train_config(train: Train, method: str):
    from .train import TrainConfig

    return TrainConfig(
        method=method,
        epochs=train.epochs,
        batch_size=train.batch_size,
        grad_accum=train.grad_accum,
        lr=train.train_lr,
        beta=train.beta,
        lora_r=train.lora_r,
        lora_alpha=2 * train.lora_r,
        full=train.full,
        activation_checkpointing=train.activation_checkpointing,
        max_response_tokens=_need(train.max_response_tokens),
        text_only=train.text_only,
    )


def do_train(cmd: Command) -> dict:
    from .train import fit, save

    train, out = _need(cmd.train), cmd.common.out
    records, method, path = _train_records(cmd)
    cfg = _train_config(train, method)
    mm = _media_model(cmd)
    trainer_dir = out / ("trainer-text-only" if train.text_only else "trainer")
    model, losses = fit(mm, records, cfg, trainer_dir, save_every=train.save_every)
    ckpt = train.checkpoint or out / (TEXT_ONLY_DIR if train.text_only else "checkpoint")
    if _launch_rank()[0] == 0:  # data-parallel processes hold the same weights: one writes them
        save(
            model,
            mm,
            ckpt,
            {
                "method": f"{'Text-only' if train.text_only else 'SEA'}-{method.upper()}",
                "trainer": f"trl {_trl_version()}",
                "base": str(_need(cmd.model).model),  # as the base model's own runs name it
                "modality": None if train.text_only else cmd.common.modality,
                "data": str(path.resolve()),
                "n": len(records),
                "lora": None if train.full else {"r": train.lora_r},
                "lr": train.train_lr,
                "epochs": train.epochs,
                "preset": cmd.common.preset,
            },
        )
    return {
        "checkpoint": str(ckpt),
        "steps": len(losses),
        "first_loss": losses[0] if losses else None,
        "last_loss": losses[-1] if losses else None,
    }


def _trl_version() -> str:
    from importlib.metadata import version

    return version("trl")


ACTIONS: dict[str, Callable[[Command], dict]] = {
    "prepare": do_prepare,
    "optimize": do_optimize,
    "verify": do_verify,
    "dataset": do_dataset,
    "train": do_train,
}


def log_estimate(cmd: Command) -> None:
    """Before `run` spends time on the model: how long the rest will take, measured on this model and device."""
    from .estimate import estimate_run
    from .prepare import read_prepared

    items = read_prepared(cmd.common.out / "prepared.jsonl")
    if not items:
        return
    train = _need(cmd.train)
    mm = _media_model(cmd)
    log.info(
        "%s (%d items, preset %s)",
        estimate_run(
            mm, items, _optim_config(cmd), _train_config(train, cmd.method_name or "dpo"), text_only=train.text_only
        ).line(),
        len(items),
        cmd.common.preset,
    )


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    def run_stages() -> None:
        cmd = read_command(args)  # inside the guard: a value a field's parse refuses is one line, exit 2
        stages: tuple[str, ...] = (cmd.name,)
        if cmd.name == "run":
            stages = TEXT_ONLY_STAGES if _need(cmd.train).text_only else STAGES
        if _launch_rank()[1] > 1 and set(stages) - LAUNCHABLE:
            raise InputError(
                f"sea-align {cmd.name}: under a launcher only {' and '.join(sorted(LAUNCHABLE))} "
                "run (the other stages would write the same files from every process)"
            )
        for n, stage in enumerate(stages, 1):
            if cmd.name == "run" and n == 2:
                log_estimate(cmd)
            log.info("sea-align: stage %d/%d, %s", n, len(stages), stage)
            started = time.perf_counter()
            result = ACTIONS[stage](cmd)
            log.info("sea-align: %s done in %.1f s", stage, time.perf_counter() - started)
            print(json.dumps({stage: result}), flush=True)

    return run_guarded(run_stages, prog="sea-align")


if __name__ == "__main__":
    raise SystemExit(main())
