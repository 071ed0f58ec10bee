"""Per-embedding optimisation time at K=1 (one embedding per forward/backward, the naive way) vs K=16
(sixteen in one batch), on the ~20M-parameter tiny Qwen2-VL, with each run's peak memory. Same items,
same fixed step count (targets never decode on a random model, so no early stops skew it). Each K runs
in its own process so that its peak memory is its own.

Threads default to 1: on a shared 2-core machine OpenMP threads spin-waiting for each other slow small
batches far more than big ones, which inflates the ratio without any batching win (measured: K=1 at
6.6 s/step with 2 threads vs 0.45 s with 1). On a GPU, pass --device cuda.
Usage: python bench/sea_optimize.py [--items 16] [--steps 3] [--threads 1] [--device cpu|cuda]
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import tempfile
import time
from pathlib import Path


def _items(n: int) -> list[dict]:
    return [{"id": f"i{i}", "phrase": "p", "type": "activity",
             "controls": [{"question": "Please briefly describe the activity in the image.",
                           "target": f"The image shows someone does thing number {i}."},
                          {"question": "What is the style of the image?", "target": "The image shows an oil painting."}]}
            for i in range(n)]


def _run(k: int, args: argparse.Namespace, out: "multiprocessing.Queue") -> None:
    import torch

    from sea_align.media import MediaModel, load
    from sea_align.optimize import OptimConfig, optimize

    torch.set_num_threads(args.threads)
    adapter, _ = load("tiny:qwen2-vl", device=args.device)
    mm = MediaModel(adapter, "image")
    cuda = args.device.startswith("cuda")
    with tempfile.TemporaryDirectory() as d:
        optimize(mm, _items(1), Path(d) / "warm", OptimConfig(k=1, max_steps=1))  # first-call costs out of the timing
        if cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        start = time.perf_counter()
        optimize(mm, _items(args.items), Path(d) / "run", OptimConfig(k=k, max_steps=args.steps))
        if cuda:
            torch.cuda.synchronize()
        seconds = time.perf_counter() - start
    peak = torch.cuda.max_memory_allocated() / 2**20 if cuda else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out.put((seconds / args.items, peak))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=16)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    ctx = multiprocessing.get_context("spawn")
    per = {}
    for k in (1, 16):
        queue = ctx.Queue()
        proc = ctx.Process(target=_run, args=(k, args, queue))
        proc.start()
        per[k], peak = queue.get()
        proc.join()
        memory = "peak GPU memory allocated" if args.device.startswith("cuda") else "peak RSS"
        print(f"K={k:2d}: {per[k]:.3f} s per embedding ({args.steps} steps each), {memory} {peak:.0f} MiB")
    print(f"speed-up K=16 vs K=1: {per[1] / per[16]:.2f}x per embedding (target >= 4x); "
          f"device {args.device}, {args.threads} torch thread(s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
