"""Per-embedding optimisation time at K=1 (one embedding per forward/backward, the naive way) vs K=16
(sixteen in one batch), on the ~20M-parameter tiny Qwen2-VL, with peak memory. Same items, same fixed
step count (targets never decode on a random model, so no early stops skew it).
Usage: python bench/sea_optimize.py [N_ITEMS=16] [STEPS=3]
"""

from __future__ import annotations

import resource
import sys
import tempfile
import time
from pathlib import Path

from sea_align.media import MediaModel, load
from sea_align.optimize import OptimConfig, optimize


def main() -> int:
    n, steps = (int(a) for a in (sys.argv[1:] + ["16", "3"][len(sys.argv) - 1:])[:2])
    model, processor, _ = load("tiny:qwen2-vl")
    mm = MediaModel(model, processor, "image")
    items = [{"id": f"i{i}", "phrase": "p", "type": "activity",
              "controls": [{"question": "Please briefly describe the activity in the image.",
                            "target": f"The image shows someone does thing number {i}."},
                           {"question": "What is the style of the image?", "target": "The image shows an oil painting."}]}
             for i in range(n)]
    per = {}
    for k in (1, 16):
        with tempfile.TemporaryDirectory() as d:
            start = time.perf_counter()
            optimize(mm, items, Path(d), OptimConfig(k=k, max_steps=steps))
            per[k] = (time.perf_counter() - start) / n
        print(f"K={k:2d}: {per[k]:.3f} s per embedding ({steps} steps each)")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"speed-up K=16 vs K=1: {per[1] / per[16]:.2f}x (target >= 4x); peak RSS {peak:.0f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
