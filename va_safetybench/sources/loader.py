"""Read question files into validated `Item`s and join VA items to their MM key phrase."""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

from ..errors import InputError
from ..items import Item
from ..scenarios import MM_SCENARIOS, VA_SCENARIOS, VA_TO_MM
from ..taskspec import TASKS
from .builtin import BUNDLES, builtin_source_dir
from .layout import MM_ROOT, VA_KINDS, VA_ROOT, mm_file, va_file

MM_FIELDS = ("Question", "Key Phrase", "Phrase Type", "Rephrased Question", "Rephrased Question(SD)")
VA_FIELDS = {
    "Video_questions": ("Text_only", "DM", "TYPO", "DM_TYPO"),
    "Audio_questions": ("Text_only", "Audio_only", "KPT", "KPT_noise"),
}
# task name -> (question file kind, official field)
VA_TASK_FIELDS = {
    t.name: ("Video_questions" if t.name.startswith("va_video") else "Audio_questions", t.official_field)
    for t in TASKS.values()
    if t.benchmark == "va"
}
MM_TASK_FIELDS = {t.name: t.official_field for t in TASKS.values() if t.benchmark == "mmsb"}
# fields the build renders into media -> (max words, max characters). The official files' longest key
# phrase has 13 words / 91 characters, the longest question (spoken for Audio_only) 24 words / 141.
RENDERED_TEXT = {"Key Phrase": (40, 300), "Text_only": (200, 1500), "Question": (200, 1500)}


def resolve_source_dir(source: str, cache: Path | None = None) -> Path:
    """'official' | 'demo' | 'benign' | a directory -> the directory holding the question files."""
    if source in BUNDLES:
        return builtin_source_dir(source)
    if source == "official":
        from .official import fetch_official

        return fetch_official(cache)
    root = Path(source)
    if not root.is_dir():
        raise InputError(f"--source {source!r}: not 'official', 'demo', 'benign' or an existing directory")
    if not (root / VA_ROOT).is_dir() and not (root / MM_ROOT).is_dir():
        raise InputError(f"--source {source!r}: holds neither {VA_ROOT}/ nor {MM_ROOT}/ (see shared/data layout)")
    return root


def _reject_duplicate_keys(path: Path):
    def hook(pairs: list[tuple[str, object]]) -> dict:
        seen: dict[str, object] = {}
        for key, value in pairs:
            if key in seen:
                raise InputError(f"{path}: duplicate item id {key!r}")
            seen[key] = value
        return seen

    return hook


def read_question_file(path: Path) -> dict[str, dict]:
    """One official JSON file: {id: {field: value}}; malformed JSON or shape names the file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"), object_pairs_hook=_reject_duplicate_keys(path))
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: malformed JSON ({exc.msg} at line {exc.lineno})") from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: not UTF-8 text") from None
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise InputError(f"{path}: expected an object of items keyed by id")
    return data


def _require(path: Path, item_id: str, entry: dict, fields: tuple[str, ...], nullable: tuple[str, ...] = ()) -> None:
    for name in fields:
        if name not in entry:
            raise InputError(f"{path}: item {item_id!r} lacks field {name!r}")
        value = entry[name]
        if value is None and name in nullable:
            continue
        if not isinstance(value, str) or not value.strip():
            raise InputError(f"{path}: item {item_id!r} has an empty or non-text {name!r}")
        _check_rendered(path, item_id, name, value)


def _check_rendered(path: Path, item_id: str, name: str, value: str) -> None:
    """Limits on the texts the build renders into media (RENDERED_TEXT): a 10,000-word key phrase makes a
    typography image the JPEG encoder rejects, a WAV of hundreds of MB and a video that renders for
    minutes; a NUL cuts the speech synthesiser's text short while the manifest records all of it."""
    limits = RENDERED_TEXT.get(name)
    if limits is None:
        return
    words, chars = limits
    bad = next((c for c in value if _forbidden(c, name)), None)
    if bad is not None:
        raise InputError(f"{path}: item {item_id!r} has the control character U+{ord(bad):04X} in {name!r}")
    if len(value.split()) > words or len(value) > chars:
        raise InputError(
            f"{path}: item {item_id!r} has a {name!r} of {len(value.split())} words / {len(value)} characters; "
            f"the build renders at most {words} words / {chars} characters"
        )


def _forbidden(char: str, name: str) -> bool:
    """Control characters (NUL included) and lone surrogates; a question may hold tabs and line breaks."""
    category = unicodedata.category(char)
    if category == "Cs":
        return True
    return category == "Cc" and not (name != "Key Phrase" and char in "\t\n\r")


def _check_unknown_scenarios(folder: Path, known: tuple[str, ...]) -> None:
    if not folder.is_dir():
        return
    for f in sorted(folder.glob("*.json")):
        if f.stem not in known:
            raise InputError(f"{f}: unknown scenario {f.stem!r}; expected one of {', '.join(known)}")


def _load_mm(root: Path, scenario: str) -> dict[str, dict]:
    path = mm_file(root, scenario)
    data = read_question_file(path)
    for item_id, entry in data.items():
        _require(path, item_id, entry, MM_FIELDS)
    return data


def load_items(
    source: str | Path,
    benchmarks: tuple[str, ...] = ("va", "mmsb"),
    scenarios: set[str] | None = None,
    cache: Path | None = None,
) -> list[Item]:
    """All items of the chosen benchmarks and scenarios, validated, in a stable order."""
    root = resolve_source_dir(str(source), cache)
    _check_unknown_scenarios(root / MM_ROOT / "processed_questions", MM_SCENARIOS)
    for kind in VA_KINDS:
        _check_unknown_scenarios(root / VA_ROOT / kind, VA_SCENARIOS)

    mm_cache: dict[str, dict[str, dict]] = {}

    def mm(scenario: str) -> dict[str, dict]:
        if scenario not in mm_cache:
            if not mm_file(root, scenario).exists():
                raise InputError(f"{mm_file(root, scenario)}: missing (VA items take their key phrase from it)")
            mm_cache[scenario] = _load_mm(root, scenario)
        return mm_cache[scenario]

    items: list[Item] = []
    if "va" in benchmarks:
        for scenario in VA_SCENARIOS:
            if scenarios is not None and scenario not in scenarios:
                continue
            paths = {k: va_file(root, k, scenario) for k in VA_KINDS}
            present = [p for p in paths.values() if p.exists()]
            if not present:
                continue
            if len(present) != len(paths):
                missing = [str(p) for p in paths.values() if not p.exists()]
                raise InputError(f"{missing[0]}: missing (the video and audio question files come in pairs)")
            items.extend(_va_items(scenario, paths, mm(VA_TO_MM[scenario])))
    if "mmsb" in benchmarks:
        for scenario in MM_SCENARIOS:
            if scenarios is not None and scenario not in scenarios:
                continue
            if mm_file(root, scenario).exists():
                items.extend(_mm_items(scenario, mm(scenario)))
    if not items:
        raise InputError(f"{root}: no question files for the chosen benchmarks and scenarios")
    return sorted(items, key=Item.sort_key)


def _va_items(scenario: str, paths: dict[str, Path], mm_entries: dict[str, dict]) -> list[Item]:
    files = {kind: read_question_file(p) for kind, p in paths.items()}
    for kind, data in files.items():
        for item_id, entry in data.items():
            _require(paths[kind], item_id, entry, VA_FIELDS[kind], nullable=("Audio_only",))
    video, audio = files["Video_questions"], files["Audio_questions"]
    if set(video) != set(audio):
        odd = sorted(set(video) ^ set(audio))[0]
        raise InputError(f"{paths['Audio_questions']}: item {odd!r} is not in both the video and audio files")
    items = []
    for item_id in video:
        mm_entry = mm_entries.get(item_id)
        if mm_entry is None:
            raise InputError(
                f"{paths['Video_questions']}: item {item_id!r} has no MM-SafetyBench key phrase "
                f"(no such id in {VA_TO_MM[scenario]})"
            )
        prompts = {task: files[kind][item_id][field] for task, (kind, field) in VA_TASK_FIELDS.items()}
        items.append(
            Item(
                "va",
                scenario,
                item_id,
                video[item_id]["Text_only"],
                mm_entry["Key Phrase"],
                mm_entry["Phrase Type"],
                prompts,
            )
        )
    return items


def _mm_items(scenario: str, entries: dict[str, dict]) -> list[Item]:
    return [
        Item(
            "mmsb",
            scenario,
            item_id,
            e["Question"],
            e["Key Phrase"],
            e["Phrase Type"],
            {task: e[field] for task, field in MM_TASK_FIELDS.items()},
        )
        for item_id, e in entries.items()
    ]
