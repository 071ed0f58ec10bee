"""Human-labelled judge sets: responses that people labelled jailbroken ("unsafe") or not ("safe").

A set is a JSONL file of {"prompt", "response", "human_label": "safe"|"unsafe", ...} (extra fields are kept; an
"intent", the plain request behind a jailbreak prompt, is the question the judges see, else the prompt is), or
the name of a public set (PUBLIC_SETS) that is downloaded from its upstream GitHub repository at a pinned commit,
checked against the sha256 recorded here, and converted to that schema. Downloads are cached under
$VA_BENCH_CACHE/judge_sets (default ~/.cache/va-safetybench/judge_sets) and re-verified on every load.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from va_safetybench.errors import InputError
from va_safetybench.fileio import atomic_write, jsonl_lines

HUMAN_LABELS = ("safe", "unsafe")
REQUIRED = ("prompt", "response", "human_label")
RAW_BASE = "https://raw.githubusercontent.com"
RAW_BASE_ENV = "VA_BENCH_GITHUB_RAW"  # another base URL serving {repo}/{commit}/{path} (a mirror, a test server)

Row = dict


@dataclass(frozen=True)
class PublicSet:
    """One public human-labelled set: where its files are upstream, what they hash to, how its rows convert."""

    name: str
    repo: str
    commit: str
    files: dict[str, str]  # upstream path -> sha256 at `commit`
    convert: Callable[[PublicSet, dict[str, bytes]], list[Row]]
    group: str | None  # the field naming the source model, for per-model figures
    labels: str  # how the set's own labels map to safe / unsafe
    licence: str


def read_human_file(path: Path) -> list[Row]:
    """The rows of a JSONL set; an InputError naming the file and line for a bad one, or for an empty file."""
    rows = []
    for line in jsonl_lines(path, torn_tail_ok=False):  # a person's file: every line must be a JSON object
        row, number = line.value, line.number
        missing = [k for k in REQUIRED if k not in row]
        if missing:
            raise InputError(f"{path}:{number}: missing field {missing[0]!r}")
        if row["human_label"] not in HUMAN_LABELS:
            raise InputError(f"{path}:{number}: human_label must be 'safe' or 'unsafe', not {row['human_label']!r}")
        for key in ("prompt", "response", "intent"):
            if key in row and not isinstance(row[key], str):
                raise InputError(f"{path}:{number}: {key!r} must be a string")
        rows.append(row)
    if not rows:
        raise InputError(f"{path}: no labelled responses (an empty file)")
    return rows


def load_human_set(spec: str, cache: Path | None = None) -> tuple[str, list[Row], str | None]:
    """(set name, rows, the field naming each row's source model or None) for a JSONL path or a public set name,
    optionally narrowed to the rows where a field has a value: `gptfuzz#split=evaluate`.

    A JSONL names its source models in `model` when its rows carry that field."""
    source, _, subset = spec.partition("#")
    if source in PUBLIC_SETS:
        public = PUBLIC_SETS[source]
        name, rows, group = public.name, public.convert(public, fetch_files(public, cache)), public.group
    else:
        path = Path(source)
        if not path.exists():
            raise InputError(f"--human {spec!r}: no such file, and not a public set ({', '.join(PUBLIC_SETS)})")
        rows = read_human_file(path)
        name, group = path.stem, "model" if all("model" in r for r in rows) else None
    if not subset:
        return name, rows, group
    field, eq, value = subset.partition("=")
    if not eq or not field:
        raise InputError(f"--human {spec!r}: write a subset as SET#FIELD=VALUE (e.g. gptfuzz#split=evaluate)")
    kept = [r for r in rows if str(r.get(field)) == value]
    if not kept:
        raise InputError(f"--human {spec!r}: no row has {field} = {value!r}")
    return f"{name}#{subset}", kept, group


def raw_url(public: PublicSet, upstream_path: str) -> str:
    base = os.environ.get(RAW_BASE_ENV) or RAW_BASE
    return f"{base.rstrip('/')}/{public.repo}/{public.commit}/{upstream_path}"


def default_cache() -> Path:
    from va_safetybench.sources.official import cache_base

    return cache_base() / "judge_sets"


def fetch_files(public: PublicSet, cache: Path | None = None, timeout: float = 60.0) -> dict[str, bytes]:
    """{upstream path: bytes} of a public set, from the cache when its sha256 still matches, else downloaded.

    A download whose sha256 differs from the recorded one is refused (upstream moved, or the transfer broke)."""
    from va_safetybench.netlimits import download

    folder = (cache or default_cache()) / public.name / public.commit[:12]
    out = {}
    for upstream_path, sha in public.files.items():
        local = folder / upstream_path
        if local.is_file() and hashlib.sha256(local.read_bytes()).hexdigest() == sha:
            out[upstream_path] = local.read_bytes()
            continue
        url = raw_url(public, upstream_path)
        offline = "without network pass --human FILE.jsonl (prompt, response, human_label per line)"
        data = download(url, deadline=timeout, offline=offline)  # bounded in time and size: netlimits
        got = hashlib.sha256(data).hexdigest()
        if got != sha:
            raise InputError(f"{url}: sha256 {got} is not the recorded {sha}; not used")
        atomic_write(local, data)
        out[upstream_path] = data
    return out


def _csv_rows(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"), newline="")))


def _provenance(public: PublicSet, upstream_path: str, row: int) -> dict:
    return {"source": f"github:{public.repo}/{upstream_path}", "source_commit": public.commit, "row": row}


XSTEST_MODELS = ("gpt4", "llama2new", "llama2orig", "mistralinstruct", "mistralguard")
XSTEST_FILE = "model_completions/xstest_v2_completions_{model}.csv"


def xstest_rows(public: PublicSet, upstream_path: str, model: str, data: bytes) -> list[Row]:
    """XSTest v2 completions of one model: its unsafe (`contrast_*`) prompts; a full compliance is a jailbreak.

    `human_label_alt` also counts a partial refusal as unsafe (XSTest itself counts it as a refusal)."""
    rows = []
    for i, r in enumerate(_csv_rows(data)):
        if not r["type"].startswith("contrast_"):
            continue
        label = r["final_label"]
        rows.append(
            {
                "prompt": r["prompt"],
                "response": r["completion"],
                "human_label": "unsafe" if label == "1_full_compliance" else "safe",
                "human_label_alt": "safe" if label == "2_full_refusal" else "unsafe",
                **_provenance(public, upstream_path, i),
                "set_label": label,
                "model": model,
                "id": r["id"],
                "type": r["type"],
                "annotators_agree": r["annotation_1"] == r["annotation_2"],
            }
        )
    return rows


def _convert_xstest(public: PublicSet, files: dict[str, bytes]) -> list[Row]:
    rows = []
    for model in XSTEST_MODELS:
        path = XSTEST_FILE.format(model=model)
        rows.extend(xstest_rows(public, path, model, files[path]))
    return rows


GPTFUZZ_SPLITS = ("train", "evaluate")
GPTFUZZ_QUESTIONS = "datasets/questions/question_list.csv"


def _convert_gptfuzz(public: PublicSet, files: dict[str, bytes]) -> list[Row]:
    """GPTFuzz's hand-labelled responses (1 = jailbroken), the prompt looked up in its question list; `split` keeps
    GPTFuzz's own train / evaluate split (by question), so a judge trained on train is measured on evaluate."""
    questions = {int(r["index"]): r["text"] for r in _csv_rows(files[GPTFUZZ_QUESTIONS])}
    rows = []
    for split in GPTFUZZ_SPLITS:
        path = f"datasets/responses_labeled/{split}.csv"
        for i, r in enumerate(_csv_rows(files[path])):
            index, label = int(r["question"]), int(r["label"])
            rows.append(
                {
                    "prompt": questions[index],
                    "response": r["Response"],
                    "human_label": "unsafe" if label == 1 else "safe",
                    **_provenance(public, path, i),
                    "set_label": label,
                    "split": split,
                    "question_index": index,
                }
            )
    return rows


PURSECLAB_FILE = "raw-data/manual_data.csv"
PURSECLAB_MODELS = {"0": "Llama-2-7b-chat-hf", "1": "gpt-3.5-turbo"}
PURSECLAB_ATTACKS = {"0": "GCG (Zou et al.)", "1": "Catastrophic jailbreak (Huang et al.)", "2": "PAIR (Chao et al.)"}


def _convert_purseclab(public: PublicSet, files: dict[str, bytes]) -> list[Row]:
    """purseclab's manual labels: a safeguard violation is a jailbreak (`human_label_alt`: violation AND
    informative, their stricter reading)."""
    rows = []
    for i, r in enumerate(_csv_rows(files[PURSECLAB_FILE])):
        violation = r["manual_safeguard_violation_label"] == "True"
        informative = r["manual_informativeness_label"] == "True"
        rows.append(
            {
                "prompt": r["prompt"],
                "response": r["response"],
                "human_label": "unsafe" if violation else "safe",
                "human_label_alt": "unsafe" if violation and informative else "safe",
                **_provenance(public, PURSECLAB_FILE, i),
                "set_label": {
                    "safeguard_violation": violation,
                    "informativeness": informative,
                    "relative_truthfulness": r["manual_relative_truthfulness_label"] == "True",
                },
                "intent": r["intent"],
                "model": PURSECLAB_MODELS.get(r["model_id"], r["model_id"]),
                "publication": PURSECLAB_ATTACKS.get(r["publication_id"], r["publication_id"]),
                "upstream_zou_keyword_label": r["automatic_zou_none_label"],
            }
        )
    return rows


PUBLIC_SETS: dict[str, PublicSet] = {
    s.name: s
    for s in (
        PublicSet(
            name="xstest-v2",
            repo="paul-rottger/exaggerated-safety",
            commit="d7bb5bd738c1fcbc36edd83d5e7d1b71a3e2d84d",
            files={
                XSTEST_FILE.format(model="gpt4"): "71af323af8ecdec0efae23992317721441d2cfedddedeef3248f842f4e15c9ca",
                XSTEST_FILE.format(
                    model="llama2new"
                ): "6365cc55ce0a593c7ab8785853d02784be027d97199d4077912b4313cd010099",
                XSTEST_FILE.format(
                    model="llama2orig"
                ): "cbc52550e8ba8197a3e3d97a5af078d27bae4766737cd62df80270126a87ffc6",
                XSTEST_FILE.format(
                    model="mistralinstruct"
                ): "6a146b65a5b96ec8249729bc2db459697175125998d7cbbcc88f7688ecf31dad",
                XSTEST_FILE.format(
                    model="mistralguard"
                ): "0ac03817b65e019a8f5b4b3eed805086f9f7fafe538ac9ebd156f80210af6903",
            },
            convert=_convert_xstest,
            group="model",
            labels="the 200 unsafe (contrast_) prompts x 5 models; final_label 1_full_compliance -> unsafe",
            licence="CC-BY-4.0 (prompts); completions under the models' terms",
        ),
        PublicSet(
            name="gptfuzz",
            repo="sherdencooper/GPTFuzz",
            commit="1eddeb565740ae311b5f4950492b011a6f866fe7",
            files={
                "datasets/responses_labeled/train.csv": "e25fe2a06d2085af260927164364524628c8b5c1dd1bab1b58ddbd917c3f7cb0",
                "datasets/responses_labeled/evaluate.csv": "ca9e460c7fbcf3bc7c028c9e29297dd58cfbd54050f7729fbc635a6880a62a02",
                GPTFUZZ_QUESTIONS: "18531eb6bc1c8fc0b8f66822b366b872202b852bf28826cef590ad0d7a81c749",
            },
            convert=_convert_gptfuzz,
            group=None,  # GPTFuzz does not say which model wrote each response
            labels="hand labels: 1 -> unsafe, 0 -> safe",
            licence="MIT",
        ),
        PublicSet(
            name="purseclab",
            repo="purseclab/jailbreak-evaluation",
            commit="b5be0cd5eedf8cfe92605ddb84180c398d2415b3",
            files={PURSECLAB_FILE: "93d21030803ba55b53046513fb984a240a99c12573f23685d261c563804a98d5"},
            convert=_convert_purseclab,
            group="model",
            labels="manual_safeguard_violation_label True -> unsafe",
            licence="Apache-2.0",
        ),
    )
}
