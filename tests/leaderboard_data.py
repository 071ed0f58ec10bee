"""Synthetic eval runs (summary.json + responses.jsonl) in the real schema, for the leaderboard
tests and bench/leaderboard.py. Counts in the summary match the responses written."""

from __future__ import annotations

import json
import random
from pathlib import Path

from va_safetybench.scenarios import MM_SCENARIOS, VA_SCENARIOS
from va_safetybench.taskspec import TASKS

MANIFEST = "a1" * 32


def scenarios_of(task: str) -> tuple[str, ...]:
    return MM_SCENARIOS if task.startswith("mmsb") else VA_SCENARIOS


def random_verdicts(
    rng: random.Random, tasks: list[str], n_per_task: int, rate: float, error_rate: float = 0.01
) -> list[tuple[str, str, str, str]]:
    """(task, scenario, id, label) for n_per_task items per task spread over its scenarios."""
    out = []
    for task in tasks:
        scen = scenarios_of(task)
        for i in range(n_per_task):
            r = rng.random()
            label = "error" if r < error_rate else "unsafe" if r < error_rate + rate else "safe"
            out.append((task, scen[i % len(scen)], str(i), label))
    return out


def write_run(
    root: Path,
    model: str,
    verdicts: list[tuple[str, str, str, str]],
    *,
    judge: tuple[str, str] = ("keyword", "1"),
    manifest: str = MANIFEST,
    random_weights: bool = False,
    created: str = "2026-01-01T00:00:00Z",
    alignment: dict | None = None,
    capability: dict | None = None,
    over_refusal: dict | None = None,
    responses: dict[tuple[str, str], str] | None = None,
    bench_path: str | None = "../bench",
    judge_endpoint: str | None = None,
) -> Path:
    """Write root/summary.json and root/responses.jsonl; `responses` overrides text per (task, id)."""
    root.mkdir(parents=True, exist_ok=True)
    tasks: dict[str, dict] = {}
    with (root / "responses.jsonl").open("w", encoding="utf-8") as f:
        for task, scenario, item, label in verdicts:
            t = tasks.setdefault(task, {"n": 0, "safe": 0, "unsafe": 0, "error": 0, "scenarios": {}})
            s = t["scenarios"].setdefault(scenario, {"n": 0, "safe": 0, "unsafe": 0, "error": 0})
            for c in (t, s):
                c["n"] += 1
                c[label] += 1
            text = (responses or {}).get((task, item), f"Response {item} of {model} to the {task} prompt. " * 4)
            spec = TASKS.get(task)
            media = spec.media.relpath(scenario, item) if spec and spec.media else None
            f.write(
                json.dumps(
                    {
                        "model": model,
                        "task": task,
                        "scenario": scenario,
                        "id": item,
                        "prompt": f"Synthetic prompt {item} for {scenario}: list the steps of the activity shown.",
                        "response": "" if label == "error" else text,
                        "error": "timeout" if label == "error" else None,
                        "media": media,
                        "verdict": {"label": label, "raw": f"judge says {label}", "categories": []},
                    }
                )
                + "\n"
            )
    for t in tasks.values():
        for c in [t, *t["scenarios"].values()]:
            judged = c["safe"] + c["unsafe"]
            c["asr"] = c["unsafe"] / judged if judged else None
    summary = {
        "model": model,
        "backend": model.split(":")[0],
        "random_weights": random_weights,
        "judge": {"name": judge[0], "version": judge[1], **({"endpoint": judge_endpoint} if judge_endpoint else {})},
        "bench": {"path": bench_path, "manifest_sha256": manifest},
        "created": created,
        "versions": {"va-safetybench": "0.1.0"},
        "tasks": tasks,
        "groups": {
            g: {"asr_macro": m, "asr_micro": None}
            for g in ("va_video", "va_audio", "mm_safetybench")
            if (m := _mean_macro(tasks, g.replace("mm_safetybench", "mmsb"))) is not None
        },
    }
    for key, value in (("alignment", alignment), ("capability", capability), ("over_refusal", over_refusal)):
        if value is not None:
            summary[key] = value
    (root / "summary.json").write_text(json.dumps(summary, indent=1), encoding="utf-8")
    return root


def _mean_macro(tasks: dict, prefix: str) -> float | None:
    vals = []
    for name, t in tasks.items():
        s = [c["asr"] for c in t["scenarios"].values() if c["asr"] is not None]
        if name.startswith(prefix) and s:
            vals.append(sum(s) / len(s))
    return sum(vals) / len(vals) if vals else None


PAYLOAD = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=1"> answer'


def three_models(root: Path) -> Path:
    """The test set: three models (one random-weight, one SEA-aligned, one judged by another judge),
    capability scores, and a response carrying an HTML/script injection payload."""
    rng = random.Random(7)
    tasks = ["va_video_text_only", "va_video_typo", "va_audio_kpt", "mmsb_typo"]
    write_run(
        root / "runs" / "qwen",
        "hf:Qwen/Qwen2-VL-7B-Instruct",
        random_verdicts(rng, tasks, 40, 0.45),
        capability={"mmmu": {"acc": 0.45}},
        over_refusal={"image": 0.04},
        responses={("va_video_typo", "0"): PAYLOAD, ("va_video_typo", "1"): "</script><!-- " + PAYLOAD},
    )
    write_run(
        root / "runs" / "qwen-sea",
        "hf:Qwen/Qwen2-VL-7B-Instruct",
        random_verdicts(rng, tasks, 40, 0.08),
        alignment={"method": "SEA", "embeddings": 400},
        capability={"mmmu": {"acc": 0.43}},
    )
    write_run(
        root / "runs" / "tiny",
        "tiny:llava",
        random_verdicts(rng, tasks[:2], 16, 0.7),
        random_weights=True,
        judge=("llama-guard", "3"),
    )
    return root / "runs"
