"""Throughput of the openai backend: concurrent (default 32) vs sequential (concurrency 1).

Both runs send the same image+text requests (a 1024x270 typography PNG, the size of an MM-SafetyBench
key-phrase image; --noise-image sends a 256x256 random-noise PNG, ~200 KB, instead) through the real
`openai` client to a local FakeOpenAI server that holds every reply for the injected latency (200 ms, a
fast hosted endpoint), and check that every reply came back. The server runs in its own process, as a
real endpoint would, so its request parsing does not compete with the client for this process's GIL.
Prints samples/s of each and the ratio. Usage:
    python bench/openai_throughput.py [--requests 64] [--concurrency 32] [--latency 0.2] [--noise-image]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import tempfile
import time
from multiprocessing.synchronize import Event as EventType
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.fake_openai import FakeOpenAI, chat_completion
from tests.media_fixtures import write_png
from va_safetybench.media.fonts import load_font, resolve_font
from va_safetybench.models.base import GenerationRequest, GenerationSettings, Media
from va_safetybench.models.openai_backend import OpenAIBackend


def samples_per_second(base_url: str, requests: list[GenerationRequest], concurrency: int) -> float:
    backend = OpenAIBackend("fake", base_url=base_url, api_key_env="VA_BENCH_FAKE_KEY", concurrency=concurrency)
    start = time.perf_counter()
    results = backend.generate(requests, GenerationSettings())
    elapsed = time.perf_counter() - start
    expected = [f"reply to {r.prompt}" for r in requests]
    if results != expected:
        raise SystemExit(f"concurrency {concurrency}: wrong or failed replies: {results[:3]}...")
    return len(requests) / elapsed


def write_typography(path: Path) -> Path:
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (1024, 270), "white")
    ImageDraw.Draw(image).text((0, 45), "an example key\n phrase", font=load_font(resolve_font(None), 90), fill="black")
    image.save(path, format="PNG")
    return path


def reply(body: dict) -> tuple[int, dict]:
    return 200, chat_completion(f"reply to {body['messages'][0]['content'][-1]['text']}")


def serve(latency: float, urls: multiprocessing.Queue[str], stop: EventType) -> None:
    with FakeOpenAI(reply=reply, latency=latency) as server:
        urls.put(server.base_url)
        stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=64)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--noise-image", action="store_true")
    args = parser.parse_args()
    os.environ["VA_BENCH_FAKE_KEY"] = "sk-local-fake"

    urls: multiprocessing.Queue[str] = multiprocessing.Queue()
    stop = multiprocessing.Event()
    server = multiprocessing.Process(target=serve, args=(args.latency, urls, stop), daemon=True)
    server.start()
    try:
        base_url = urls.get(timeout=60)
        with tempfile.TemporaryDirectory() as tmp:
            image = (
                write_png(Path(tmp) / "q.png", size=(256, 256))
                if args.noise_image
                else write_typography(Path(tmp) / "q.png")
            )
            print(
                f"{args.requests} image+text requests ({image.stat().st_size // 1024} KB PNG), "
                f"{args.latency * 1000:.0f} ms server latency"
            )
            requests = [GenerationRequest(f"question {i}", (Media("image", image),)) for i in range(args.requests)]
            sequential = samples_per_second(base_url, requests, 1)
            concurrent = samples_per_second(base_url, requests, args.concurrency)
    finally:
        stop.set()
        server.join(timeout=10)
    print(f"sequential (concurrency 1):   {sequential:8.2f} samples/s")
    print(f"concurrent (concurrency {args.concurrency}): {concurrent:8.2f} samples/s")
    print(f"ratio: {concurrent / sequential:.1f}x")


if __name__ == "__main__":
    main()
