"""GPU: the whole VA-SafetyBench (972 items x 8 tasks) through `vllm:` on 7B-shaped models; wall time, GPU busy share.

The video tasks run on a random Qwen2-VL-7B-shaped checkpoint, the audio tasks on a random Qwen2-Audio-7B-shaped one
(the released dimensions and vocabulary sizes; weights drawn on the GPU, saved in bfloat16 as the released ones are),
each through one `va-bench eval --model vllm:CKPT` command, as a user runs it. While each runs, nvidia-smi is read
every 200 ms: the GPU busy share is the mean `utilization.gpu` over the run (the harness's start-up included, so
that the share is what a user gets). Needs a GPU, vLLM (`pip install 'va-safetybench[vllm]'`) and a bench with
every VA task:

    va-bench build --source official --media hub --out bench_official
    python bench/vllm_full_gpu.py --bench bench_official

The CPU path of this script (no nvidia-smi: no busy share) runs in the vLLM test venv on the tiny shapes:
    python bench/vllm_full_gpu.py --bench BENCH --shape tiny --device cpu --limit 1 \\
        --model-args enforce_eager=true,dtype=float32,max_model_len=4096
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

FAMILIES = {  # model family -> the VA tasks it runs
    "qwen2-vl": "va_video",
    "qwen2-audio": "va_audio",
}


def save_checkpoint(family: str, shape: str, out: Path, device: str) -> Path:
    """A random checkpoint of `family` at `shape`, built on `device`; released shapes get the released vocabulary."""
    import torch

    from va_safetybench.fileio import write_json
    from va_safetybench.models.base import CHECKPOINT_METADATA, METADATA_FILE
    from va_safetybench.models.tiny import RELEASED_AUDIO_VOCAB, RELEASED_VOCAB, build_tiny

    model, processor = build_tiny(family, shape=shape, device=device)
    vocab = {"qwen2-vl": RELEASED_VOCAB.get(shape), "qwen2-audio": RELEASED_AUDIO_VOCAB if shape == "7b" else None}
    if vocab[family]:
        model.resize_token_embeddings(vocab[family], mean_resizing=False)
    if shape == "7b":
        model.to(torch.bfloat16)
    model.save_pretrained(out)
    processor.save_pretrained(out)
    write_json(
        out / METADATA_FILE, CHECKPOINT_METADATA, {"random_weights": True, "tiny": {"name": family, "shape": shape}}
    )
    return out


class GpuSampler:
    """nvidia-smi's utilization.gpu every `interval` s on a thread, until stopped; None without nvidia-smi."""

    def __init__(self, interval: float = 0.2) -> None:
        self.interval = interval
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        query = ["nvidia-smi", "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits"]
        while not self._stop.wait(self.interval):
            done = subprocess.run(query, capture_output=True, text=True)
            values = [float(v) for v in done.stdout.split() if v.strip()]
            if values:
                self.samples.append(sum(values) / len(values))

    def __enter__(self) -> GpuSampler:
        if shutil.which("nvidia-smi"):
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def busy_share(self) -> float | None:
        return sum(self.samples) / len(self.samples) / 100 if self.samples else None


def run_family(family: str, checkpoint: Path, args: argparse.Namespace, out: Path) -> None:
    command = [sys.executable, "-m", "va_safetybench.cli", "eval", "--model", f"vllm:{checkpoint}"]
    command += ["--tasks", FAMILIES[family], "--bench", str(args.bench), "--out", str(out)]
    if args.model_args:
        command += ["--model-args", args.model_args]
    if args.limit:
        command += ["--limit", str(args.limit)]
    start = time.perf_counter()
    with GpuSampler() as sampler:
        done = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{family}: va-bench eval failed:\n{done.stderr[-3000:]}")
    summary = json.loads((out / "summary.json").read_text())
    items = sum(row["n"] for row in summary["tasks"].values())
    share = sampler.busy_share()
    busy = "n/a (no nvidia-smi)" if share is None else f"{100 * share:.0f}%"
    print(
        f"{FAMILIES[family]:9s} {args.shape}-shaped {family}: {items} items in {wall:.0f} s "
        f"({items / wall:.2f} items/s), GPU busy {busy}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bench", type=Path, required=True, help="a built bench with the eight VA tasks")
    parser.add_argument("--shape", default="7b", choices=("7b", "tiny"))
    parser.add_argument("--device", default="cuda", help="where the random weights are drawn")
    parser.add_argument("--limit", type=int, help="first N items per scenario (a short check)")
    parser.add_argument("--model-args", default="", help="vllm model args, e.g. max_model_len=32768")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="va-bench-gpu-") as tmp:
        for family in FAMILIES:
            checkpoint = save_checkpoint(family, args.shape, Path(tmp) / family, args.device)
            run_family(family, checkpoint, args, Path(tmp) / f"run-{family}")


if __name__ == "__main__":
    main()
