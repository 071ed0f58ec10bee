"""Judge throughput, each measured in one run against the naive way.

1. gpt judge: responses/s at concurrency 32 vs sequential (concurrency 1), through the real openai
   client against the local FakeOpenAI server answering after 200 ms (target >= 20x).
2. keyword judge: responses/s on 100,000 responses of realistic length (target > 50,000/s),
   against the naive way upstream scorers use (`any(phrase in response for phrase in phrases)`).
3. lexical judge (the default): responses/s on 10,000 of those responses, against the keyword judge's rate in the
   same run (what the better default costs per response).
4. the same two judges through the command a user runs, `va-bench judge-agreement --human FILE --judges J`, on
   --n-command labelled responses: wall time of each whole command (start-up, reading, judging, report) and their
   ratio, which is what choosing the default over `keyword` costs a user.

Usage: .venv/bin/python bench/judge_throughput.py [--n-gpt 64] [--latency 0.2] [--n-keyword 100000] [--n-lexical 10000]
       [--n-command 10000]
No cache is used; every response is distinct, so every gpt response is one request.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from judges.base import JudgeInput
from judges.gpt import GPTJudge
from judges.keyword import KeywordJudge
from judges.lexical import LexicalJudge
from tests.fake_openai import FakeOpenAI, chat_completion

WORDS = (
    "the",
    "model",
    "answer",
    "step",
    "first",
    "then",
    "video",
    "audio",
    "shows",
    "text",
    "because",
    "people",
    "should",
    "example",
    "careful",
    "information",
    "general",
    "process",
    "result",
    "different",
)


def responses(n: int, seed: int = 0) -> list[str]:
    """Made-up responses of 40-250 words; a quarter open with a refusal phrase, like real model output."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        body = " ".join(rng.choice(WORDS) for _ in range(rng.randint(40, 250)))
        out.append((f"I'm sorry, but {body}" if i % 4 == 0 else f"Sure. {body}") + f" #{i}")
    return out


def gpt_rate(server: FakeOpenAI, texts: list[str], concurrency: int) -> float:
    judge = GPTJudge(base_url=server.base_url, concurrency=concurrency, use_cache=False, max_retries=0)
    batch = [JudgeInput("bench", "1-IllegalActivitiy", None, t) for t in texts]
    start = time.perf_counter()
    verdicts = judge.judge(batch)
    elapsed = time.perf_counter() - start
    assert all(v.label == "unsafe" for v in verdicts), {v.raw for v in verdicts if v.label != "unsafe"}
    return len(batch) / elapsed


def command_seconds(human_file: Path, judge: str) -> float:
    """Wall time of one `va-bench judge-agreement` run, as a user starts it."""
    command = [sys.executable, "-m", "va_safetybench.cli", "judge-agreement", "--human", str(human_file)]
    start = time.perf_counter()
    subprocess.run([*command, "--judges", judge], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n-gpt", type=int, default=128, help="responses per gpt measurement")
    p.add_argument("--latency", type=float, default=0.2, help="fake server latency (s)")
    p.add_argument("--n-keyword", type=int, default=100_000)
    p.add_argument("--n-lexical", type=int, default=10_000)
    p.add_argument("--n-command", type=int, default=10_000, help="labelled responses for the command-level timing")
    args = p.parse_args()

    texts = responses(args.n_gpt, seed=1)
    with FakeOpenAI(lambda body: (200, chat_completion("unsafe")), latency=args.latency) as server:
        server._httpd.socket.listen(256)  # socketserver's default backlog of 5 would stall concurrent connects
        seq = gpt_rate(server, texts[: max(8, args.n_gpt // 4)], concurrency=1)
        conc = gpt_rate(server, texts, concurrency=32)
    print(
        f"gpt judge, {args.latency * 1000:.0f} ms server latency: sequential {seq:.1f} responses/s, "
        f"concurrency 32 {conc:.1f} responses/s, speed-up {conc / seq:.1f}x (target >= 20x)"
    )

    texts = responses(args.n_keyword)
    batch = [JudgeInput("bench", "1-IllegalActivitiy", None, t) for t in texts]
    judge = KeywordJudge()
    start = time.perf_counter()
    verdicts = judge.judge(batch)
    kw_rate = len(batch) / (time.perf_counter() - start)
    phrases = judge.phrases
    start = time.perf_counter()
    naive_labels = ["safe" if any(p in t for p in phrases) else "unsafe" for t in texts]
    naive_rate = len(texts) / (time.perf_counter() - start)
    assert naive_labels == [v.label for v in verdicts]
    mean_len = sum(map(len, texts)) / len(texts)
    print(
        f"keyword judge (jailbreakbench list), {len(texts):,} responses of {mean_len:.0f} chars on average: "
        f"{kw_rate:,.0f} responses/s (target > 50,000/s); upstream's any(p in s): {naive_rate:,.0f}/s, "
        f"ratio {kw_rate / naive_rate:.1f}x"
    )
    batch = batch[: args.n_lexical]
    start = time.perf_counter()
    LexicalJudge().judge(batch)  # weights loaded and hash-checked inside the timing, as a command does
    lex_rate = len(batch) / (time.perf_counter() - start)
    print(
        f"lexical judge (the default), {len(batch):,} of those responses: {lex_rate:,.0f} responses/s, "
        f"{kw_rate / lex_rate:.0f}x the keyword judge's time per response"
    )

    with tempfile.TemporaryDirectory() as tmp:
        human_file = Path(tmp) / "labelled.jsonl"
        rows = (
            {"prompt": "bench", "response": t, "human_label": "safe" if t.startswith("I'm sorry") else "unsafe"}
            for t in texts[: args.n_command]
        )
        human_file.write_text("".join(json.dumps(row) + "\n" for row in rows))
        keyword_s, lexical_s = command_seconds(human_file, "keyword"), command_seconds(human_file, "lexical")
    print(
        f"va-bench judge-agreement on {args.n_command:,} responses: keyword {keyword_s:.1f} s, lexical {lexical_s:.1f} s "
        f"(whole commands), ratio {lexical_s / keyword_s:.1f}x"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
