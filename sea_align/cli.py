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
from pathlib import Path

from va_safetybench.cli import run_guarded
from va_safetybench.errors import InputError

from .presets import DEFAULT, PRESETS, apply_preset

STAGES = ("prepare", "optimize", "verify", "dataset", "train")
TEXT_ONLY_STAGES = ("prepare", "train")
LAUNCHABLE = {"optimize", "train"}  # the stages that split their work across launched processes
TEXT_ONLY_DIR = "checkpoint-text-only"
log = logging.getLogger("sea_align")


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", type=Path, required=True, help="work directory shared by all stages")
    p.add_argument("--modality", default="image", choices=("image", "video", "audio"))
    p.add_argument(
        "--preset",
        default=DEFAULT,
        choices=tuple(PRESETS),
        help="defaults for the options left unset: paper (K=16, 300 steps, 256 answer tokens: real models on a "
        "GPU) or quick (8 items, K=4, 8 steps, 32 answer tokens: a first try, a tiny model, a CPU)",
    )
    p.add_argument("--response-prefix", default="The {modality} shows", help="start of every control target")
    p.add_argument("--styles", default=None, help="style set, '|'-separated (default: per modality)")


def _add_stage(p: argparse.ArgumentParser, stage: str) -> None:
    if stage == "prepare":
        p.add_argument(
            "--data",
            required=True,
            help="pku (the hub's PKU-SafeRLHF), a hub dataset id, .jsonl/.parquet, or demo (the built-in demo "
            "questions with a written refusal and compliance opening: offline, for trying the pipeline)",
        )
        p.add_argument("--split", default="train")
        p.add_argument("--fields", default=None, help="field mapping OURS=THEIRS,.. for other schemas")
        p.add_argument("--limit", type=int, default=None, help="first N usable items (preset: paper all, quick 8)")
        p.add_argument("--extractor", default="offline", help="offline | llm:MODEL (OpenAI-compatible)")
        p.add_argument("--base-url", default=None)
        p.add_argument("--api-key-env", default="OPENAI_API_KEY")
    if stage in ("optimize", "verify", "train"):
        p.add_argument("--model", required=True, help="tiny:NAME | hf:PATH")
        p.add_argument("--device", default=None, help="default: this process's GPU if there is one, else cpu")
        p.add_argument("--dtype", default="auto", help="hf: weights' dtype (auto = the checkpoint's)")
    if stage == "optimize":
        p.add_argument("--k", type=int, default=None, help="embeddings optimised together in one batch (16, quick 4)")
        p.add_argument("--max-steps", type=int, default=None, help="Adam steps per embedding at most (300, quick 8)")
        p.add_argument("--lr", type=float, default=None, help="Adam's step size (0.01)")
    if stage in ("dataset", "train"):
        p.add_argument(
            "--method",
            default=None,
            choices=("dpo", "sft"),
            help="dpo (default) or sft; train reads it from the dataset",
        )
    if stage == "dataset":
        p.add_argument("--only-success", action="store_true", help="keep only embeddings that reached OSR")
        p.add_argument(
            "--mix",
            type=Path,
            default=None,
            help="real multimodal records to mix in: jsonl of prompt, chosen+rejected or response, "
            "media (the file), optionally embedding (its precomputed encoder output, safetensors)",
        )
    if stage == "train":
        p.add_argument("--epochs", type=int, default=1)
        p.add_argument("--train-lr", type=float, default=1e-4)
        p.add_argument("--batch-size", type=int, default=2, help="records per device per step")
        p.add_argument("--grad-accum", type=int, default=1, help="gradient accumulation steps")
        p.add_argument("--beta", type=float, default=0.1)
        p.add_argument("--lora-r", type=int, default=8)
        p.add_argument("--full", action="store_true", help="full fine-tuning of the language model instead of LoRA")
        p.add_argument(
            "--activation-checkpointing",
            action="store_true",
            help="recompute activations in the backward pass: less memory for a slower step",
        )
        p.add_argument("--max-response-tokens", type=int, default=None, help="answer tokens trained on (256, quick 32)")
        p.add_argument(
            "--text-only",
            action="store_true",
            help="the text-only baseline: the same SFT/DPO on the prepared items' own instructions, no medium",
        )
        p.add_argument(
            "--checkpoint", type=Path, default=None, help=f"default: OUT/checkpoint (--text-only: OUT/{TEXT_ONLY_DIR})"
        )
        p.add_argument(
            "--save-every",
            type=int,
            default=50,
            help="steps between resumable checkpoints in OUT/trainer (a rerun resumes from the newest)",
        )


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="sea-align", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True)
    for stage in STAGES:
        p = sub.add_parser(stage)
        _add_common(p)
        _add_stage(p, stage)
    run = sub.add_parser("run", help="all stages in order")
    _add_common(run)
    seen: set[str] = set()
    for stage in STAGES:  # every stage's options, once
        tmp = argparse.ArgumentParser(add_help=False)
        _add_stage(tmp, stage)
        for action in tmp._actions:
            if action.dest not in seen:
                seen.add(action.dest)
                run._add_action(action)
    return ap


def resolve_options(args: argparse.Namespace) -> argparse.Namespace:
    """The preset's values for the options this command has and the user left unset."""
    mine = {k: v for k, v in vars(args).items() if k in PRESETS[args.preset]}
    vars(args).update(apply_preset(mine, args.preset))
    return args


def _settings(args: argparse.Namespace):
    from .settings import SeaSettings

    styles = tuple(s.strip() for s in args.styles.split("|") if s.strip()) if args.styles else ()
    return SeaSettings(args.modality, args.response_prefix, styles)


def _media_model(args: argparse.Namespace, spec: str):
    """The model for `spec`, loaded once per command: `run` hands the same one from optimize to
    verify to train (train is last, so its LoRA layers never reach an earlier stage)."""
    from .media import MediaModel, load

    cache = vars(args).setdefault("_loaded_models", {})
    if spec not in cache:
        adapter, metadata = load(spec, dtype=args.dtype, device=_device(args))
        cache[spec] = MediaModel(adapter, args.modality, metadata)
    return cache[spec]


def _device(args: argparse.Namespace) -> str:
    """--device, else this process's GPU (LOCAL_RANK under a launcher), else the CPU."""
    import torch

    if args.device:
        return args.device
    return f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}" if torch.cuda.is_available() else "cpu"


def do_prepare(args: argparse.Namespace) -> dict:
    from .extract import make_extractor
    from .prepare import prepare
    from .textdata import load_pairs

    pairs = load_pairs(args.data, split=args.split, fields=args.fields, limit=args.limit)
    extractor = make_extractor(
        args.extractor, base_url=args.base_url, api_key_env=args.api_key_env, cache_dir=args.out / "extract_cache"
    )
    return prepare(pairs, extractor, _settings(args), args.out / "prepared.jsonl")


def do_optimize(args: argparse.Namespace) -> dict:
    from .optimize import OptimConfig, optimize
    from .prepare import read_prepared

    items = read_prepared(args.out / "prepared.jsonl")
    rank, world = _launch_rank()
    return optimize(
        _media_model(args, args.model),
        items,
        args.out,
        OptimConfig(k=args.k, max_steps=args.max_steps, lr=args.lr),
        rank=rank,
        world=world,
    )


def _launch_rank() -> tuple[int, int]:
    """(rank, world size) as `torchrun` or `accelerate launch` put them in each process's environment; (0, 1)
    for a plain run. Sharding needs nothing more: the processes never talk to each other."""
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


def do_verify(args: argparse.Namespace) -> dict:
    from .verify import verify

    return verify(_media_model(args, args.model), args.out, _settings(args))


def do_dataset(args: argparse.Namespace) -> dict:
    from .dataset import build
    from .prepare import read_prepared

    method = args.method or "dpo"
    n = build(
        read_prepared(args.out / "prepared.jsonl"),
        args.out,
        _settings(args),
        method,
        args.out / "dataset.jsonl",
        only_success=args.only_success,
        mix=args.mix,
    )
    return {"records": n, "method": method}


def _train_records(args: argparse.Namespace) -> tuple[list[dict], str, Path]:
    """(records, method, the file they come from): the dataset stage's, or the text-only baseline's."""
    if args.text_only:
        from .dataset import text_only_records
        from .prepare import read_prepared

        path = args.out / "prepared.jsonl"
        method = args.method or "dpo"
        return text_only_records(read_prepared(path), method), method, path
    path = args.out / "dataset.jsonl"
    if not path.is_file():
        raise InputError(f"{path}: no dataset (run `sea-align dataset` first)")
    from va_safetybench.fileio import read_jsonl

    records = read_jsonl(path)  # every line an object; a bad byte, JSON or line is named
    if not records:
        raise InputError(f"{path}: no records to train on")
    method = "dpo" if "chosen" in records[0] else "sft"
    if args.method and args.method != method:
        raise InputError(f"--method {args.method}: {path} holds {method} records (rebuild it with `sea-align dataset`)")
    return records, method, path


def _train_config(args: argparse.Namespace, method: str):
    from .train import TrainConfig

    return TrainConfig(
        method=method,
        epochs=args.epochs,
        batch_size=args.batch_size,
        grad_accum=args.grad_accum,
        lr=args.train_lr,
        beta=args.beta,
        lora_r=args.lora_r,
        lora_alpha=2 * args.lora_r,
        full=args.full,
        activation_checkpointing=args.activation_checkpointing,
        max_response_tokens=args.max_response_tokens,
        text_only=args.text_only,
    )


def do_train(args: argparse.Namespace) -> dict:
    from .media import model_spec
    from .train import fit, save

    records, method, path = _train_records(args)
    cfg = _train_config(args, method)
    mm = _media_model(args, args.model)
    trainer_dir = args.out / ("trainer-text-only" if args.text_only else "trainer")
    model, losses = fit(mm, records, cfg, trainer_dir, save_every=args.save_every)
    ckpt = args.checkpoint or args.out / (TEXT_ONLY_DIR if args.text_only else "checkpoint")
    if _launch_rank()[0] == 0:  # data-parallel processes hold the same weights: one writes them
        save(
            model,
            mm,
            ckpt,
            {
                "method": f"{'Text-only' if args.text_only else 'SEA'}-{method.upper()}",
                "trainer": f"trl {_trl_version()}",
                "base": model_spec(args.model),  # as the base model's own runs name it
                "modality": None if args.text_only else args.modality,
                "data": str(path.resolve()),
                "n": len(records),
                "lora": None if args.full else {"r": args.lora_r},
                "lr": args.train_lr,
                "epochs": args.epochs,
                "preset": args.preset,
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


ACTIONS = {
    "prepare": do_prepare,
    "optimize": do_optimize,
    "verify": do_verify,
    "dataset": do_dataset,
    "train": do_train,
}


def log_estimate(args: argparse.Namespace) -> None:
    """Before `run` spends time on the model: how long the rest will take, measured on this model and device."""
    from .estimate import estimate_run
    from .optimize import OptimConfig
    from .prepare import read_prepared

    items = read_prepared(args.out / "prepared.jsonl")
    if not items:
        return
    train = _train_config(args, args.method or "dpo")
    optim = OptimConfig(k=args.k, max_steps=args.max_steps, lr=args.lr)
    mm = _media_model(args, args.model)
    log.info(
        "%s (%d items, preset %s)",
        estimate_run(mm, items, optim, train, text_only=args.text_only).line(),
        len(items),
        args.preset,
    )


def main(argv: list[str] | None = None) -> int:
    args = resolve_options(parser().parse_args(argv))
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    stages: tuple[str, ...] = (args.command,)
    if args.command == "run":
        stages = TEXT_ONLY_STAGES if args.text_only else STAGES

    def run_stages() -> None:
        if _launch_rank()[1] > 1 and set(stages) - LAUNCHABLE:
            raise InputError(
                f"sea-align {args.command}: under a launcher only {' and '.join(sorted(LAUNCHABLE))} "
                "run (the other stages would write the same files from every process)"
            )
        for n, stage in enumerate(stages, 1):
            if args.command == "run" and n == 2:
                log_estimate(args)
            log.info("sea-align: stage %d/%d, %s", n, len(stages), stage)
            started = time.perf_counter()
            result = ACTIONS[stage](args)
            log.info("sea-align: %s done in %.1f s", stage, time.perf_counter() - started)
            print(json.dumps({stage: result}), flush=True)

    return run_guarded(run_stages, prog="sea-align")


if __name__ == "__main__":
    raise SystemExit(main())
