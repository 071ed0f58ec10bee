"""The text-to-video prompt for an item's DM video, from its key phrase.

By default a fixed template, TEMPLATE. With `--scene-llm MODEL` an OpenAI-compatible chat
model (base URL from OPENAI_BASE_URL, key from OPENAI_API_KEY, which a local server does not need) turns the key phrase into a
one-sentence visual scene; only the key phrase is sent. Answers are cached in
`bench/.build/scene_prompts.json`, keyed by model, instruction and phrase, so rebuilds neither
call the model again nor change their prompts. The cache: {"format_version": 2, "prompts": {key: prompt}};
version 1 (no format_version) was the `prompts` mapping alone.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from ..errors import InputError
from ..fileio import FileFormat, write_json

SCENE_PROMPTS = FileFormat("scene-prompt cache", 2)

TEMPLATE = "A realistic, high-quality video showing {key_phrase}."
INSTRUCTION = (
    "You write prompts for a text-to-video model. Given a short phrase, reply with one sentence of at "
    "most 40 words describing a concrete visual scene that depicts it. Reply with the sentence only."
)


def cache_path(bench: Path) -> Path:
    return bench / ".build" / "scene_prompts.json"


def scene_prompts(phrases: list[str], model: str | None, bench: Path) -> dict[str, str]:
    """Key phrase -> scene prompt for every phrase (template when `model` is None)."""
    if model is None:
        return {p: TEMPLATE.format(key_phrase=p) for p in phrases}
    path = cache_path(bench)
    cache = read_cache(path)
    result = {}
    client = None
    for phrase in dict.fromkeys(phrases):
        key = hashlib.sha256(json.dumps([model, INSTRUCTION, phrase]).encode()).hexdigest()
        if key not in cache:
            client = client or _client(model)
            cache[key] = _ask(client, model, phrase)
            write_json(path, SCENE_PROMPTS, {"prompts": cache}, indent=None)
        result[phrase] = cache[key]
    return result


def read_cache(path: Path) -> dict[str, str]:
    """{key: scene prompt} from the cache file, in either version; {} without one."""
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        raise InputError(f"{path}: not valid JSON; delete it to ask --scene-llm again") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: not a scene-prompt cache; delete it to ask --scene-llm again")
    prompts = data.get("prompts") if SCENE_PROMPTS.version_of(data, str(path)) >= 2 else data
    return {k: v for k, v in (prompts or {}).items() if isinstance(v, str)}


def _client(model: str):
    """OpenAI's endpoint, or $OPENAI_BASE_URL's, with the project's key rule (endpoints.py; key in OPENAI_API_KEY)."""
    from ..endpoints import DEFAULT_KEY_ENV, openai_client

    return openai_client(None, DEFAULT_KEY_ENV, f"--scene-llm {model}", max_retries=3, timeout=60)


def _ask(client, model: str, phrase: str) -> str:
    import openai

    try:
        response = client.chat.completions.create(
            model=model,
            temperature=0.0,
            max_tokens=120,
            messages=[{"role": "system", "content": INSTRUCTION}, {"role": "user", "content": phrase}],
        )
    except openai.OpenAIError as exc:
        raise InputError(f"--scene-llm {model}: request to {client.base_url} failed ({type(exc).__name__})") from None
    text = (response.choices[0].message.content or "").strip() if response.choices else ""
    if not text:
        raise InputError(f"--scene-llm {model}: the model returned an empty scene prompt")
    return text
