"""What decides whether a built file is up to date, reduced to one JSON value that a restructuring of the build
settings must leave as it is: for a few `va-bench build` command lines, each media task's recipe hash per item (the
journal's key: a different hash re-renders the file on every user's next build), what it writes into the manifest
lines (`describe`) or why it is unavailable, and the settings bench.json records.

Recipes are computed, not rendered (no diffusion model is needed to know a DM video's recipe). The TTS engine's
version is part of a speech recipe and differs between machines; it is replaced by a constant here, so that the
golden pins what comes from the command line. tests/test_build_settings.py compares; regenerate only on purpose:
    .venv/bin/python -m tests.recipe_golden > tests/golden/recipes.json
(The committed one was made by commit c5a9ece's build settings, plain strings, before they became typed values.)
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

GOLDEN = Path(__file__).resolve().parent / "golden" / "recipes.json"
HUB_DIR = "HUB_DIR"  # stands for a folder of the official release in the command lines below
# name -> `va-bench build` options that decide what the media are
VARIANTS: dict[str, list[str]] = {
    "defaults": [],
    "diffusers": ["--dm", "diffusers:org/dm-model,steps=4,guidance=6.5", "--sd", "diffusers:org/sd-model"]
    + ["--seed", "3", "--voice", "en-us", "--device", "cpu"],
    "hub": ["--dm", "hub", "--sd", "hub"],
    "hub_dir": ["--dm", f"hub:{HUB_DIR}", "--sd", f"hub:{HUB_DIR}"],
    "media_hub": ["--media", "hub"],
    "media_hub_dir": ["--media", f"hub:{HUB_DIR}"],
}


def demo_items() -> list:
    """The first demo item of two scenarios of each benchmark."""
    from va_safetybench.sources import load_items

    items = load_items("demo", ("va", "mmsb"))
    scenarios = {b: sorted({i.scenario for i in items if i.benchmark == b})[:2] for b in ("va", "mmsb")}
    seen: set[tuple[str, str]] = set()
    kept = []
    for item in items:
        key = (item.benchmark, item.scenario)
        if item.scenario in scenarios[item.benchmark] and key not in seen:
            seen.add(key)
            kept.append(item)
    return kept


def settings_for(argv: list[str]):
    """The build settings `va-bench build ARGV` makes, through the command's own options and function."""
    from va_safetybench.commands import build
    from va_safetybench.options import typed_options

    (options,) = typed_options(build_parser().parse_args(argv))
    return build.build_settings(options)


def build_parser():
    from va_safetybench.cli import make_parser

    parser = make_parser()
    return parser._subparsers._group_actions[0].choices["build"]  # type: ignore[union-attr]


def bench_settings(settings) -> dict[str, Any]:
    """The `settings` bench.json records."""
    from dataclasses import asdict

    return settings.to_json() if hasattr(settings, "to_json") else asdict(settings)


def _normalised(value: Any, hub: str) -> Any:
    return json.loads(json.dumps(value).replace(hub, HUB_DIR))


def task_recipes(settings, items: list, bench: Path) -> dict[str, Any]:
    from va_safetybench.materialize.hashing import recipe_hash
    from va_safetybench.materialize.renderer import task_renderer
    from va_safetybench.taskspec import TASKS

    found: dict[str, Any] = {}
    for task, spec in TASKS.items():
        if spec.media is None:
            continue
        renderer = task_renderer(task, settings)
        reason = renderer.unavailable_reason()
        if reason:
            found[task] = {"unavailable": reason}
            continue
        entry: dict[str, Any] = {"describe": renderer.describe()}
        if renderer.stage != 0:  # an official copy's recipe is the release member's, not the settings'
            mine = [i for i in items if i.benchmark == spec.benchmark and task in i.prompts]
            renderer.prepare(bench, mine)
            recipes = {}
            for item in mine:
                recipe = renderer.recipe(item, lambda rel: "0" * 64)
                if "engine" in recipe:
                    recipe["engine"] = "ENGINE"
                recipes[item.key] = recipe_hash(spec.media.renderer, renderer.version, recipe)
            entry["recipes"] = recipes
        found[task] = entry
    return found


def recipes() -> dict[str, Any]:
    items = demo_items()
    with tempfile.TemporaryDirectory() as tmp:
        hub = Path(tmp) / "release"
        hub.mkdir()
        result = {}
        for name, argv in VARIANTS.items():
            settings = settings_for([a.replace(HUB_DIR, str(hub)) for a in argv])
            result[name] = _normalised(
                {"bench_settings": bench_settings(settings), "tasks": task_recipes(settings, items, Path(tmp) / name)},
                str(hub),
            )
        return result


if __name__ == "__main__":
    json.dump(recipes(), sys.stdout, indent=1, ensure_ascii=False)
    sys.stdout.write("\n")
