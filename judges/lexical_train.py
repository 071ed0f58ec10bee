"""Rebuild the `lexical` judge's weights from public human labels: `python -m judges.lexical_train`.

Training data: GPTFuzz's hand-labelled responses (GitHub sherdencooper/GPTFuzz, MIT licence), its own `train` split
only (80 of its 100 questions, 6,160 responses of Vicuna-7B, ChatGPT and Llama-2-7B-chat to jailbreak templates;
1 = jailbroken -> unsafe), downloaded at the commit and sha256 recorded in judges/human_sets.py. GPTFuzz's
`evaluate` split (the other 20 questions), XSTest v2 and purseclab are never trained on: they measure it.
`--from-jsonl FILE` trains on a local copy in the judge-set schema instead (its `split` field selects the rows).

Model: L2-regularised logistic regression on judges.lexical.features, fitted by full-batch L-BFGS in torch (float64,
one thread, so that a rebuild on the same versions gives the same bytes). Writes judges/data/lexical.npz (weights as
float16) and judges/data/lexical.json (their sha256, the data's provenance, the settings), which the judge checks.
"""

from __future__ import annotations

import argparse
import io
import sys
import zipfile
from pathlib import Path

import numpy as np

from va_safetybench.fileio import write_json

from .human_sets import PUBLIC_SETS, fetch_files, read_human_file
from .lexical import DIMENSION, FEATURE_VERSION, LEXICAL_MANIFEST, MANIFEST, WEIGHTS, features, sha256_file

L2 = 1e-4
MAX_ITER = 300
TRAIN_SPLIT = "train"


def training_rows(from_jsonl: Path | None) -> tuple[list[dict], dict]:
    """(GPTFuzz train rows, their provenance) from upstream, or from a local JSONL copy."""
    public = PUBLIC_SETS["gptfuzz"]
    if from_jsonl is None:
        rows = public.convert(public, fetch_files(public))
    else:
        rows = read_human_file(from_jsonl)
    rows = [r for r in rows if r.get("split") == TRAIN_SPLIT]
    if not rows:
        raise SystemExit(f"no rows with split={TRAIN_SPLIT!r} to train on")
    provenance = {
        "set": public.name,
        "repo": public.repo,
        "commit": public.commit,
        "files": public.files,
        "licence": public.licence,
        "labels": public.labels,
        "split": TRAIN_SPLIT,
        "rows": len(rows),
        "unsafe": sum(r["human_label"] == "unsafe" for r in rows),
    }
    return rows, provenance


def fit(rows: list[dict], l2: float = L2, max_iter: int = MAX_ITER) -> tuple[np.ndarray, float]:
    """Weights and bias of the logistic regression, by L-BFGS on the mean log-loss plus l2 * |w|^2."""
    import torch

    torch.set_num_threads(1)
    slots: list[int] = []
    values: list[float] = []
    offsets = [0]
    for r in rows:
        f = features(r["prompt"], r["response"])
        slots.extend(f.keys())
        values.extend(f.values())
        offsets.append(len(slots))
    index = torch.tensor(slots)
    value = torch.tensor(values, dtype=torch.float64)
    row_of = torch.repeat_interleave(torch.arange(len(rows)), torch.tensor(np.diff(offsets)))
    y = torch.tensor([r["human_label"] == "unsafe" for r in rows], dtype=torch.float64)
    w = torch.zeros(DIMENSION, dtype=torch.float64, requires_grad=True)
    b = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], max_iter=max_iter, history_size=20, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        z = torch.zeros(len(rows), dtype=torch.float64).index_add(0, row_of, w[index] * value) + b
        loss = torch.nn.functional.binary_cross_entropy_with_logits(z, y) + l2 * (w * w).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return w.detach().numpy(), float(b.detach())


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """An .npz that np.load reads, with fixed member timestamps (np.savez stamps the time): same weights, same bytes,
    so a rebuild can be checked against the recorded sha256."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, array in arrays.items():
            member = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            member.compress_type = zipfile.ZIP_DEFLATED
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, array, allow_pickle=False)
            archive.writestr(member, buffer.getvalue())


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m judges.lexical_train", description=__doc__.split("\n\n")[0])
    p.add_argument("--from-jsonl", type=Path, help="a local GPTFuzz copy in the judge-set schema (with `split`)")
    p.add_argument("--out", type=Path, default=WEIGHTS, help=f"weights file (default {WEIGHTS})")
    args = p.parse_args(argv)
    rows, provenance = training_rows(args.from_jsonl)
    weights, bias = fit(rows)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_npz(args.out, {"weights": weights.astype(np.float16), "bias": np.array(bias, dtype=np.float32)})
    manifest = {
        "sha256": sha256_file(args.out),
        "feature_version": FEATURE_VERSION,
        "dimension": DIMENSION,
        "model": "logistic regression (L-BFGS, float64), weights stored as float16",
        "l2": L2,
        "max_iter": MAX_ITER,
        "training_data": provenance,
        "rebuild": "python -m judges.lexical_train",
    }
    manifest_path = args.out.with_suffix(".json") if args.out != WEIGHTS else MANIFEST
    write_json(manifest_path, LEXICAL_MANIFEST, manifest)
    print(f"trained on {provenance['rows']} rows; wrote {args.out} (sha256 {manifest['sha256']}) and {manifest_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
