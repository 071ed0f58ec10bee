"""Per-embedding optimisation time at K=1 (one embedding per forward/backward, the naive way) vs K=16
(sixteen in one batch), on the ~20M-parameter tiny Qwen2-VL, with each run's peak memory. Same items,
same fixed step count (targets never decode on a random model, so no early stops skew it). Each K runs
in its own process so that its peak memory is its own.

Threads default to 1: on a shared 2-core machine OpenMP threads spin-waiting for each other slow small
batches far more than big ones, which inflates the ratio without any batching win (measured: K=1 at
6.6 s/step with 2 threads vs 0.45 s with 1). On a GPU, pass --device cuda.
Second part: one K=16 loss + gradient step with the LM head over every position (the naive way)
vs over the answer positions only (MediaModel.answer_logits), on the same model with its
vocabulary resized to Qwen2-VL's 151,936 tokens, where the [rows, positions, vocab] logits matter:
time and peak memory of each, each in its own process.
The paper's figure (an embedding in at most 24 s on one RTX 3090, 7B models): on a GPU,
  python bench/sea_optimize.py --device cuda --shape 7b --dtype bfloat16
times the same K=1 / K=16 runs on a random model of Qwen2-VL-7B-Instruct's dimensions and vocabulary
(8.29B parameters); the seconds per step per embedding scale to any step count.
Usage: python bench/sea_optimize.py [--items 16] [--steps 3] [--threads 1] [--device cpu|cuda]
                                    [--shape tiny|2b|7b] [--dtype float32|bfloat16] [--vocab 151936] [--skip-head]
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import tempfile
import time
from pathlib import Path


def _items(n: int) -> list[dict]:
    return [
        {
            "id": f"i{i}",
            "phrase": "p",
            "type": "activity",
            "controls": [
                {
                    "question": "Please briefly describe the activity in the image.",
                    "target": f"The image shows someone does thing number {i}.",
                },
                {"question": "What is the style of the image?", "target": "The image shows an oil painting."},
            ],
        }
        for i in range(n)
    ]


def _media_model(args: argparse.Namespace, vocab: int | None):
    """The random Qwen2-VL of --shape on --device in --dtype, its vocabulary resized to `vocab` if given."""
    import torch

    from sea_align.media import MediaModel
    from va_safetybench.models.hf import HFBackend
    from va_safetybench.models.registry import make_backend

    torch.set_num_threads(args.threads)
    backend = make_backend("tiny:qwen2-vl", {"shape": args.shape, "device": args.device})
    assert isinstance(backend, HFBackend)  # tiny models run through the hf backend
    adapter = backend.adapter
    adapter.model.to(getattr(torch, args.dtype))
    if vocab:
        adapter.model.resize_token_embeddings(vocab, mean_resizing=False)
    return MediaModel(adapter, "image")


def _run(k: int, args: argparse.Namespace, out: multiprocessing.Queue) -> None:
    import torch

    from sea_align.optimize import OptimConfig, optimize
    from va_safetybench.models.tiny import RELEASED_VOCAB

    mm = _media_model(args, RELEASED_VOCAB.get(args.shape))  # a released shape gets its real vocabulary
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
    out.put((seconds / args.items, _peak_mib(cuda)))


def _peak_mib(cuda: bool) -> float:
    import torch

    return (
        torch.cuda.max_memory_allocated() / 2**20 if cuda else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    )


def _head_step(answer_only: bool, args: argparse.Namespace, out: multiprocessing.Queue) -> None:
    """One K=16 loss + gradient w.r.t. E, the LM head over the answer positions or over all of them."""
    import torch

    from sea_align.optimize import _row_losses

    mm = _media_model(args, args.vocab)
    controls = [c for item in _items(16) for c in item["controls"]]
    batch, labels = mm.batch([c["question"] for c in controls], [mm.answer_ids(c["target"]) for c in controls])
    E = mm.encode_blank().unsqueeze(0).repeat(len(controls), 1, 1).requires_grad_(True)
    cuda = args.device.startswith("cuda")
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    if answer_only:
        logits, kept = mm.answer_logits(batch, E, labels)
    else:
        flat = E.reshape(-1, E.shape[-1])
        logits, kept = mm.adapter.forward(batch, media_embeds=flat).logits[:, :-1].float(), labels[:, 1:]
    per_row, _ = _row_losses(logits, kept)
    torch.autograd.grad(per_row.sum(), E)
    if cuda:
        torch.cuda.synchronize()
    out.put((time.perf_counter() - start, _peak_mib(cuda), tuple(batch["input_ids"].shape), logits.shape[1]))


def _child(target, *args):
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=target, args=(*args, queue))
    proc.start()
    result = queue.get()
    proc.join()
    return result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=16)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cpu")
    ap.add_argument(
        "--shape",
        default="tiny",
        choices=("tiny", "2b", "7b"),
        help="random Qwen2-VL dimensions (2b/7b: the released models', with their vocabularies)",
    )
    ap.add_argument("--dtype", default="float32")
    ap.add_argument("--vocab", type=int, default=151936, help="vocabulary for the LM-head comparison")
    ap.add_argument("--skip-head", action="store_true", help="the K=1 / K=16 part only (bench/sea_gpu_check.py)")
    args = ap.parse_args()
    memory = "peak GPU memory allocated" if args.device.startswith("cuda") else "peak RSS"
    per = {}
    for k in (1, 16):
        per[k], peak = _child(_run, k, args)
        print(
            f"K={k:2d}: {per[k]:.3f} s per embedding ({args.steps} steps each, {per[k] / args.steps:.3f} s per "
            f"step), {memory} {peak:.0f} MiB"
        )
    print(
        f"speed-up K=16 vs K=1: {per[1] / per[16]:.2f}x per embedding (target >= 4x); shape {args.shape}, "
        f"{args.dtype}, device {args.device}, {args.threads} torch thread(s)"
    )
    if args.skip_head:
        return 0
    head = {}
    for answer_only in (False, True):
        seconds, peak, shape, positions = head[answer_only] = _child(_head_step, answer_only, args)
        what = "answer positions only" if answer_only else "every position (naive)"
        print(
            f"LM head over {what}: {positions} of {shape[1]} positions x {shape[0]} rows, vocab {args.vocab}: "
            f"{seconds:.2f} s per step, {memory} {peak:.0f} MiB"
        )
    print(
        f"answer-only vs every position: {head[False][0] / head[True][0]:.2f}x faster, "
        f"peak memory {head[True][1] / head[False][1]:.2f} of the naive way's"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
