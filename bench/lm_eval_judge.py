"""GPT judging inside lm-eval: the `judge` filter's one batch per task vs judging document by document.

lm-eval calls `process_results` once per document, one after another; a judge called there would wait
for one HTTP round trip per response. The filter (va_safetybench/harness/metrics.py) gets the task's
whole response list and judges it in one call, which the GPT judge sends concurrently. Both ways are
measured here through the real filter, the real openai client and the local FakeOpenAI server
answering after --latency seconds; no verdict cache, every response distinct.

Usage: .venv/bin/python bench/lm_eval_judge.py [--n 64] [--latency 0.1]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.judge_throughput import responses  # noqa: E402
from tests.fake_openai import FakeOpenAI, chat_completion  # noqa: E402
from va_safetybench.harness.metrics import JudgeFilter, configure  # noqa: E402

TASK = "va_video_typo"


def judged(resps: list[list[str]], docs: list[dict], one_by_one: bool) -> tuple[list[str], float]:
    start = time.perf_counter()
    if one_by_one:
        verdicts = [v for r, d in zip(resps, docs) for v in JudgeFilter().apply([r], [d])]
    else:
        verdicts = JudgeFilter().apply(resps, docs)
    return verdicts, time.perf_counter() - start


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=64, help="responses in the task")
    p.add_argument("--latency", type=float, default=0.1, help="fake server latency (s)")
    args = p.parse_args()

    texts = responses(args.n, seed=2)
    docs = [
        {"task": TASK, "scenario": "1-IllegalActivitiy", "id": str(i), "prompt": "p", "question": "q"}
        for i in range(args.n)
    ]
    resps = [[t] for t in texts]
    with FakeOpenAI(lambda body: (200, chat_completion("unsafe")), latency=args.latency) as server:
        server._httpd.socket.listen(256)  # socketserver's default backlog of 5 would stall concurrent connects
        options = {"base_url": server.base_url, "use_cache": False, "max_retries": 0}
        configure(TASK, {"judge": "gpt:bench", "judge_args": options})
        single, t_single = judged(resps, docs, one_by_one=True)
        batch, t_batch = judged(resps, docs, one_by_one=False)
        sent = len(server.requests)
    assert single == batch and {json.loads(v)["label"] for v in batch} == {"unsafe"}
    assert sent == 2 * args.n
    print(
        f"{args.n} responses, {args.latency * 1000:.0f} ms server latency: document by document {t_single:.2f} s, "
        f"the filter's one batch {t_batch:.2f} s, speed-up {t_single / t_batch:.1f}x"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
