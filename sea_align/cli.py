"""`sea-align prepare | optimize | verify | dataset | train | run`: SEA from text safety data to a checkpoint.

All stages share one work directory (--out): prepared.jsonl, emb/ + index.jsonl, verify.json,
dataset.jsonl, checkpoint/. Each stage reads what the previous one wrote, so they can be rerun alone.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
from pathlib import Path

from va_safetybench.cli import run_guarded
from va_safetybench.errors import InputError

STAGES = ("prepare", "optimize", "verify", "dataset", "train")
LAUNCHABLE = {"optimize", "train"}  # the stages that split their work across launched processes


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", type=Path, required=True, help="work directory shared by all stages")
    p.add_argument("--modality", default="image", choices=("image", "video", "audio"))
    p.add_argument("--response-prefix", default="The {modality} shows", help="start of every control target")
    p.add_argument("--styles", default=None, help="style set, '|'-separated (default: per modality)")


def _add_stage(p: argparse.ArgumentParser, stage: str) -> None:
    if stage == "prepare":
        p.add_argument(
            "--data", required=True, help="pku (the hub's PKU-SafeRLHF), a hub dataset id, or .jsonl/.parquet"
        )
        p.add_argument("--split", default="train")
        p.add_argument("--fields", default=None, help="field mapping OURS=THEIRS,.. for other schemas")
        p.add_argument("--limit", type=int, default=None)
        p.add_argument("--extractor", default="offline", help="offline | llm:MODEL (OpenAI-compatible)")
        p.add_argument("--base-url", default=None)
        p.add_argument("--api-key-env", default="OPENAI_API_KEY")
    if stage in ("optimize", "verify", "train"):
        p.add_argument("--model", required=True, help="tiny:NAME | hf:PATH")
        p.add_argument("--device", default=None, help="default: this process's GPU if there is one, else cpu")
        p.add_argument("--dtype", default="auto", help="hf: weights' dtype (auto = the checkpoint's)")
    if stage == "optimize":
        p.add_argument("--k", type=int, default=16, help="embeddings optimised together in one batch")
        p.add_argument("--max-steps", type=int, default=300)
        p.add_argument("--lr", type=float, default=0.01)
    if stage == "dataset":
        p.add_argument("--method", default="dpo", choices=("dpo", "sft"))
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
        p.add_argument("--max-response-tokens", type=int, default=256)
        p.add_argument("--checkpoint", type=Path, default=None, help="default: OUT/checkpoint")
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
        adapter, _ = load(spec, dtype=args.dtype, device=_device(args))
        cache[spec] = MediaModel(adapter, args.modality)
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

    n = build(
        read_prepared(args.out / "prepared.jsonl"),
        args.out,
        _settings(args),
        args.method,
        args.out / "dataset.jsonl",
        only_success=args.only_success,
        mix=args.mix,
    )
    return {"records": n, "method": args.method}


def do_train(args: argparse.Namespace) -> dict:
    from .train import TrainConfig, fit, save

    path = args.out / "dataset.jsonl"
    if not path.is_file():
        raise InputError(f"{path}: no dataset (run `sea-align dataset` first)")
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if not records:
        raise InputError(f"{path}: no records to train on")
    method = "dpo" if "chosen" in records[0] else "sft"
    cfg = TrainConfig(
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
    )
    mm = _media_model(args, args.model)
    model, losses = fit(mm, records, cfg, args.out / "trainer", save_every=args.save_every)
    ckpt = args.checkpoint or args.out / "checkpoint"
    if _launch_rank()[0] == 0:  # data-parallel processes hold the same weights: one writes them
        save(
            model,
            mm,
            ckpt,
            {
                "method": f"SEA-{method.upper()}",
                "trainer": f"trl {_trl_version()}",
                "base": args.model,
                "data": str(path.resolve()),
                "n": len(records),
                "lora": None if args.full else {"r": args.lora_r},
                "lr": args.train_lr,
                "epochs": args.epochs,
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


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    stages = STAGES if args.command == "run" else (args.command,)

    def run_stages() -> None:
        if _launch_rank()[1] > 1 and set(stages) - LAUNCHABLE:
            raise InputError(
                f"sea-align {args.command}: under a launcher only {' and '.join(sorted(LAUNCHABLE))} "
                "run (the other stages would write the same files from every process)"
            )
        for stage in stages:
            print(json.dumps({stage: ACTIONS[stage](args)}), flush=True)

    return run_guarded(run_stages, prog="sea-align")


if __name__ == "__main__":
    raise SystemExit(main())
