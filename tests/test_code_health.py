"""The package layout stays findable and acyclic: no folder that tools skip as build output, and no
import circle among the project's modules (lazy imports inside functions count too: a circle there
still couples the two modules and breaks as soon as someone moves the import to the top)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("va_safetybench", "sea_align", "judges", "leaderboard")
SKIPPED_BY_TOOLS = {"build", "dist"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path, modules: set[str]) -> set[str]:
    """The project modules `path` imports, resolved to the longest existing module name."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
        for target in targets:
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def _graph() -> dict[str, set[str]]:
    files = [p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")]
    modules = {_module_name(p) for p in files}
    graph = {_module_name(p): _imports(p, modules) for p in files}
    # importing a.b.c runs a/__init__ and a/b/__init__ first: that is not an edge worth flagging
    return {m: {t for t in deps if not m.startswith(t + ".")} for m, deps in graph.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_circle_among_project_modules():
    assert _cycles(_graph()) == []


def test_the_cycle_finder_sees_a_circle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_package_folder_named_like_build_output():
    offenders = [
        str(p.relative_to(ROOT))
        for pkg in PACKAGES + ("tasks",)
        for p in (ROOT / pkg).rglob("*")
        if p.is_dir() and p.name in SKIPPED_BY_TOOLS
    ]
    assert offenders == []


# ---- the seams (ARCHITECTURE.md) ---------------------------------------------------------------------------------
def _is_command_line(module: str) -> bool:
    return module.startswith("va_safetybench.commands") or module.endswith(".cli") or module == "va_safetybench.cli"


def test_only_the_command_line_imports_the_commands():
    """Library code is called by the commands, never the other way round: nothing but a command line (cli.py,
    commands/, sea_align's cli) imports a command module or the CLI."""
    offenders = sorted(
        f"{module} -> {target}"
        for module, targets in _graph().items()
        if not _is_command_line(module)
        for target in targets
        if _is_command_line(target)
    )
    assert offenders == []


MUTABLE_CALLS = {"dict", "list", "set", "defaultdict", "OrderedDict", "Counter", "deque", "WeakValueDictionary"}
# module-level caches that hold no run's data, with why (anything else in the harness is run state, which belongs in
# the run's RunContext)
HARNESS_CACHES = {
    ("media_paths.py", "_parsed"): "the verified-media record's parse, keyed by the file's stat signature",
    ("lm_eval_audiolm.py", "_repaired_class"): "a repaired lm-eval model class, built once",
    ("lm_eval_mixed.py", "_text_and_media_multimodal"): "an lm-eval model class taking mixed requests, built once",
}


def _module_level_state(path: Path) -> list[str]:
    """Module-level bindings of mutable containers (lower-case names: an UPPER_CASE one is a constant table),
    function caches (@cache, @lru_cache) and `global` statements."""
    found = []
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
            names = [
                t.id
                for t in (node.targets if isinstance(node, ast.Assign) else [node.target])
                if isinstance(t, ast.Name)
            ]
            value = node.value
            mutable = isinstance(value, (ast.Dict, ast.List, ast.Set, ast.DictComp, ast.ListComp, ast.SetComp)) or (
                isinstance(value, ast.Call)
                and getattr(value.func, "id", getattr(value.func, "attr", "")) in MUTABLE_CALLS
            )
            found += [n for n in names if mutable and not n.isupper()]
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            if any("cache" in ast.unparse(d) for d in node.decorator_list):
                found.append(node.name)
    found += [name for node in ast.walk(tree) if isinstance(node, ast.Global) for name in node.names]
    return found


def test_the_harness_keeps_no_module_level_mutable_state():
    """Run state (judges, failed generations, per-task choices) lives in the run's RunContext: two runs in one
    process must not see each other's (tests/test_run_context.py)."""
    found = {
        (path.name, name)
        for path in sorted((ROOT / "va_safetybench" / "harness").glob("*.py"))
        for name in _module_level_state(path)
    }
    assert found - set(HARNESS_CACHES) == set()


def test_the_state_finder_sees_state(tmp_path):
    source = "import functools\nX = {}\nseen = {}\ncache: dict = dict()\n@functools.cache\ndef f(): ...\n"
    (tmp_path / "m.py").write_text(source + "def g():\n    global seen\n")
    assert _module_level_state(tmp_path / "m.py") == ["seen", "cache", "f", "seen"]


def test_every_record_written_has_a_format_version():
    """Each record names its format and version, writes the version, and reads a file written without one as
    version 1 (the demo's own files are checked in tests/test_demo_golden.py)."""
    from va_safetybench.records import FORMAT_FIELD, RECORDS

    for name, record in RECORDS.items():
        assert record.FORMAT == name and isinstance(record.VERSION, int) and record.VERSION >= 1
        schema = record.json_schema()
        assert FORMAT_FIELD in schema["properties"] and schema["$id"].endswith(f"/v{record.VERSION}")


# Where bytes are written that are not a format of ours, and why; every other file goes through a writer that takes
# the FileFormat of what it writes (fileio.write_json / write_jsonl / append_jsonl / open_sqlite, Record.save).
UNVERSIONED_WRITERS = {
    "va_safetybench.fileio": "the versioned writers themselves, and atomic_write for the callers below",
    "va_safetybench.capability.demo_set:write_demo_mme": "the demo MME set in upstream's layout",
    "va_safetybench.harness.lm_eval_run:write_lm_eval_outputs": "lm-eval's results and samples, in lm-eval's format",
    "va_safetybench.harness.lm_eval_models:_scratch_file": "media bytes handed to a backend",
    "va_safetybench.commands.regress:_append_step_summary": "Markdown for GitHub's job summary",
    "va_safetybench.commands.schema:run": "JSON Schema documents",
    "va_safetybench.media.release:_copy_capped": "the official release's media, as they came",
    "va_safetybench.media.release:_unpack_one": "the official release's images, as they came",
    "va_safetybench.media.typo_image:render": "a rendered image",
    "va_safetybench.media.sd_typo_image:render": "a rendered image",
    "va_safetybench.media.video_io:write_video": "a rendered video",
    "va_safetybench.sources.builtin:builtin_source_dir": "the demo questions in upstream's layout",
    "va_safetybench.sources.official:fetch_official": "upstream's question file, as it came",
    "sea_align.media:_write_blank": "a blank image, video or audio file",
    "sea_align.store:write_embedding": "a tensor file (the index beside it is versioned)",
    "judges.human_sets:fetch_files": "a public judge set, as it came",
    "judges.lexical_train:write_npz": "the lexical judge's weights (its manifest is versioned)",
    "leaderboard.samples:write_samples": "the site's JavaScript",
    "leaderboard.site:build_site": "the site's HTML (its marker is versioned)",
    "leaderboard.site:render": "the site's HTML (its marker is versioned)",
}
RAW_WRITERS = {"atomic_write", "atomic_writer", "write_text", "write_bytes", "dump", "connect"}


def _raw_writes(path: Path, module: str) -> list[str]:
    """`module:function` of each call in `path` that writes a file without naming its format: the raw writers
    above (json.dump, sqlite3.connect among them), and open / ZipFile for writing."""
    found = []
    for function in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for call in ast.walk(function):
            if not isinstance(call, ast.Call):
                continue
            name = getattr(call.func, "attr", None) or getattr(call.func, "id", None)
            modes = [
                getattr(a, "value", None) for a in call.args[1:2] + [k.value for k in call.keywords if k.arg == "mode"]
            ]
            opens = name in ("open", "ZipFile") and any(isinstance(m, str) and set(m) & set("wax") for m in modes)
            if name in RAW_WRITERS or opens:
                found.append(f"{module}:{function.name}")
    return found


def test_every_file_format_written_has_a_version():
    """A file of ours is written by a writer that takes its FileFormat, which stamps the version (a new writer
    elsewhere fails here until it declares its format, or is listed as writing bytes that are not ours)."""
    unlisted = set()
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            for site in _raw_writes(path, _module_name(path)):
                if site not in UNVERSIONED_WRITERS and site.partition(":")[0] not in UNVERSIONED_WRITERS:
                    unlisted.add(site)
    assert not unlisted, f"write these through a versioned writer (fileio.FileFormat), or list why not: {unlisted}"


def test_the_writer_finder_sees_raw_writes(tmp_path):
    source = (
        "import json, sqlite3\ndef a(p):\n    p.write_text('x')\ndef b(p):\n    open(p, 'a')\n"
        "def c(p):\n    open(p)\ndef d(p, v):\n    json.dump(v, p)\ndef e(p):\n    sqlite3.connect(p)\n"
    )
    (tmp_path / "m.py").write_text(source)
    assert [s.partition(":")[2] for s in _raw_writes(tmp_path / "m.py", "m")] == ["a", "b", "d", "e"]
