"""The responses of a plain lm-eval run of our safety tasks, as `va-bench judge` reads a run's responses.

A run made with lm-eval's own model classes (`lm_eval run --model hf-multimodal ... --output_path OUT
--log_samples`) has no responses.jsonl; its responses are in lm-eval's sample logs,
OUT/<model>/samples_<task>_<time>.jsonl, each line holding the task document (ours: task, scenario, id, prompt,
question) and the response in `resps`. `va-bench judge OUT --judge SPEC` judges them again from here, so a run's
ASR can be recomputed with another judge without generating again. Of several logs of one task, the newest is
read; a folder with the logs of several models is refused (name one model's folder).
"""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import InputError
from ..records import ResponseRow
from ..taskspec import TASKS


def sample_logs(out: Path) -> dict[str, Path]:
    """{task: its newest sample log} for our safety tasks under an lm-eval --output_path (or its model folder)."""
    logs: dict[str, Path] = {}
    for path in sorted(out.rglob("samples_*.jsonl")):
        task = path.name.removeprefix("samples_").rsplit("_", 1)[0]  # samples_{task}_{timestamp}.jsonl
        if task in TASKS and (task not in logs or path.name > logs[task].name):
            logs[task] = path
    folders = sorted({str(p.parent) for p in logs.values()})
    if len(folders) > 1:
        raise InputError(f"{out} holds the sample logs of several lm-eval runs ({', '.join(folders)}): name one")
    return logs


def responses_from_samples(out: Path) -> list[ResponseRow]:
    """One `va-bench judge` row per logged sample (task, scenario, id, prompt, question, response, model)."""
    logs = sample_logs(out)
    model = _model_name(next(iter(logs.values())).parent) if logs else "lm-eval"
    rows = []
    for task, path in sorted(logs.items()):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                sample = json.loads(line)
                doc, resps = sample["doc"], sample["resps"]
                fields = {k: doc[k] for k in ("task", "scenario", "id")}
            except (json.JSONDecodeError, KeyError, TypeError):
                raise InputError(f"{path}:{number}: not a logged sample of our task {task}") from None
            fields.update(prompt=doc.get("prompt"), question=doc.get("question"), response=_first(resps), model=model)
            rows.append(ResponseRow.from_json(fields, f"{path}:{number}"))
    return rows


def _first(resps: object) -> str | None:
    """lm-eval logs a request's responses as [[text]]."""
    while isinstance(resps, list) and resps:
        resps = resps[0]
    return resps if isinstance(resps, str) else None


def _model_name(folder: Path) -> str:
    """lm-eval:<model>[:<pretrained>] from the run's results file beside the logs, else lm-eval:<folder>."""
    for results in sorted(folder.glob("results_*.json"), reverse=True):
        try:
            config = json.loads(results.read_text(encoding="utf-8")).get("config", {})
        except (OSError, json.JSONDecodeError):
            continue
        args = config.get("model_args") or {}
        if not isinstance(args, dict):  # "k=v,.." as typed, or a dict
            args = dict(a.split("=", 1) for a in str(args).split(",") if "=" in a)
        pretrained = args.get("pretrained")
        return ":".join(["lm-eval", str(config.get("model", "?")), *([pretrained] if pretrained else [])])
    return f"lm-eval:{folder.name}"
