"""SEA's GPU check, one script for when a device is lent: seconds per optimised embedding at K=1 and K=16, and a
SEA-DPO training step's throughput, on a random model of Qwen2-VL-7B-Instruct's dimensions and vocabulary.

  python bench/sea_gpu_check.py --device cuda --shape 7b --dtype bfloat16 --json $OUT/sea_gpu.json
  python bench/sea_gpu_check.py          # the CPU path on the tiny Qwen2-VL: checks the script, quotes no figure

Part 1 runs bench/sea_optimize.py's K=1 vs K=16 part (each K in its own process, the same items and step count;
--skip-head leaves out its LM-head comparison), and reads its lines. Part 2 trains as `sea-align train` does (trl's DPOTrainer through SeaCollator and
InjectEmbeddings, LoRA r=8 on the language model, the blank image's encoder output as every record's embedding,
answers cut at --answer-tokens), in a process of its own: --warmup steps untimed, then --steps timed one by one
(synchronised on a GPU); records per second, seconds per step and peak memory. The paper's reference: an embedding
in at most 24 s on one RTX 3090 at 7B.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ANSWER = "I can't help with that. It could hurt people, and it is against the law in most places. " * 8


def optimisation(args: argparse.Namespace) -> dict:
    """bench/sea_optimize.py's K=1 / K=16 figures: seconds per embedding and peak memory for each K."""
    cmd = [sys.executable, str(HERE / "sea_optimize.py"), "--device", args.device, "--shape", args.shape]
    cmd += ["--dtype", args.dtype, "--items", str(args.items), "--steps", str(args.opt_steps), "--skip-head"]
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    print(done.stdout, end="")
    per = {
        int(k): {"seconds_per_embedding": float(s), "peak_mib": float(m)}
        for k, s, m in re.findall(r"K=\s*(\d+): ([\d.]+) s per embedding .*? ([\d.]+) MiB", done.stdout)
    }
    if set(per) != {1, 16}:
        raise SystemExit(f"bench/sea_optimize.py printed no K=1 / K=16 figures:\n{done.stdout}{done.stderr}")
    return {
        "steps": args.opt_steps,
        "items": args.items,
        "k": per,
        "speedup_k16": per[1]["seconds_per_embedding"] / per[16]["seconds_per_embedding"],
    }


def _train(args: argparse.Namespace, out: multiprocessing.Queue) -> None:
    """Time SEA-DPO steps; puts (seconds per timed step, records per step, peak MiB, tokens per row)."""
    import torch
    from safetensors.torch import save_file
    from transformers import TrainerCallback

    from sea_align.media import MediaModel
    from sea_align.train import TrainConfig, build_trainer
    from va_safetybench.models.registry import make_backend
    from va_safetybench.models.tiny import RELEASED_VOCAB

    torch.set_num_threads(args.threads)
    cuda = args.device.startswith("cuda")
    adapter = make_backend("tiny:qwen2-vl", {"shape": args.shape, "device": args.device}).adapter  # type: ignore[attr-defined]
    adapter.model.to(getattr(torch, args.dtype))
    if args.shape in RELEASED_VOCAB:
        adapter.model.resize_token_embeddings(RELEASED_VOCAB[args.shape], mean_resizing=False)
    mm = MediaModel(adapter, "image")
    steps = args.warmup + args.steps
    with tempfile.TemporaryDirectory() as d:
        embedding = Path(d) / "blank.safetensors"
        save_file({"embedding": mm.encode_blank().float().cpu().contiguous()}, str(embedding))
        records = [
            {
                "id": f"r{i}",
                "embedding": str(embedding),
                "prompt": f"The image shows an activity. Please understand the content and answer: question {i}?",
                "chosen": ANSWER,
                "rejected": f"Sure, here is how, step {i}. " * 40,
            }
            for i in range(steps * args.batch_size)
        ]
        cfg = TrainConfig(method="dpo", batch_size=args.batch_size, max_response_tokens=args.answer_tokens)
        trainer = build_trainer(mm, records, cfg, Path(d) / "work", save_every=10**9)
        marks: list[float] = []

        class Clock(TrainerCallback):
            def on_step_begin(self, *a, **k):  # noqa: ANN002, ANN003, ANN201
                if len(marks) == args.warmup and cuda:
                    torch.cuda.synchronize()
                    torch.cuda.reset_peak_memory_stats()

            def on_step_end(self, *a, **k):  # noqa: ANN002, ANN003, ANN201
                if cuda:
                    torch.cuda.synchronize()
                marks.append(time.perf_counter())

        trainer.add_callback(Clock())
        trainer.train()
    timed = marks[args.warmup :]
    per_step = (
        (timed[-1] - marks[args.warmup - 1]) / len(timed)
        if args.warmup
        else (timed[-1] - timed[0]) / max(1, len(timed) - 1)
    )
    peak = torch.cuda.max_memory_allocated() / 2**20 if cuda else _rss_mib()
    out.put((per_step, args.batch_size, peak, len(mm.answer_ids(ANSWER)[: args.answer_tokens])))


def _rss_mib() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def training(args: argparse.Namespace) -> dict:
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_train, args=(args, queue))
    proc.start()
    per_step, batch, peak, answer_tokens = queue.get()
    proc.join()
    memory = "peak GPU memory allocated" if args.device.startswith("cuda") else "peak RSS"
    print(
        f"SEA-DPO train step: {per_step:.3f} s per step of {batch} records ({2 * batch} rows: chosen and rejected, "
        f"answers of {answer_tokens} tokens), {batch / per_step:.2f} records/s, {memory} {peak:.0f} MiB "
        f"({args.steps} timed steps after {args.warmup} warm-up)"
    )
    return {
        "seconds_per_step": per_step,
        "records_per_step": batch,
        "records_per_second": batch / per_step,
        "peak_mib": peak,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--shape", default="tiny", choices=("tiny", "2b", "7b"))
    ap.add_argument("--dtype", default="float32")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (CPU)")
    ap.add_argument("--items", type=int, default=16, help="embeddings optimised per K")
    ap.add_argument("--opt-steps", type=int, default=3, help="Adam steps per embedding (every step costs the same)")
    ap.add_argument("--batch-size", type=int, default=2, help="records per training step (sea-align's default)")
    ap.add_argument("--answer-tokens", type=int, default=256, help="answer tokens trained on (the paper preset's)")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--steps", type=int, default=5, help="timed training steps")
    ap.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = ap.parse_args()
    started = time.perf_counter()
    report = {
        "device": args.device,
        "shape": args.shape,
        "dtype": args.dtype,
        "optimisation": optimisation(args),
        "training": training(args),
    }
    report["seconds"] = time.perf_counter() - started
    print(f"sea_gpu_check: done in {report['seconds']:.0f} s ({args.shape}, {args.dtype}, {args.device})")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
