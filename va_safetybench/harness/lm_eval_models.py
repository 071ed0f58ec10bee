"""lm-eval model class `va-bench`: any of our ModelBackends behind lm-eval's LM interface.

    lm-eval run --model va-bench --model_args model=tiny:qwen2-vl,cache=runs/x/cache.jsonl,KEY=VAL ...

model_args: `model` is our BACKEND:NAME spec (hf:PATH, vllm:PATH, openai:MODEL, tiny:FAMILY); `cache`
(optional) a response-cache file that makes the run resumable (see cache.py); `max_new_tokens`
(default 300) applies when a task sets no max_gen_toks; `decode_workers` (default min(4, cores); 0: decode in
the generating thread) and `prefetch` (default 32) size the pool that prepares requests ahead of generation
(models/base.py: the stream), and change no answer; `batch_size` is hf's forward batch; `bench` is task
metadata (lm-eval merges model_args into it) and is ignored here; every other key goes to the
backend. lm-eval's `--device` is ignored: pass `device=` in model_args where the backend takes one.

generate_until turns each Instance (context, gen_kwargs, aux {"visual": [...], "audio": [...]})
into a GenerationRequest: visual entries are our tasks' images (their bench file, or a capability data set's
encoded bytes written to a scratch file as they are; never decoded here), image paths, {"type": "video"|"image",
"path": ...}, video paths (by extension) or other PIL images (lm-eval's own image tasks; written to a scratch
PNG); audio entries are our tasks' audio (their bench file, or encoded bytes as for images), paths,
{"path": ...} or {"array", "sampling_rate"} (written to a scratch WAV). The context's
leading media placeholders (`<image>`, `<audio>`: lm-eval's, for its own model classes) are dropped, since
our backends place the media themselves. An empty prompt with media means the media carry the whole
question (prompt None). The class takes video (`ACCEPTS_VIDEO`), which our video tasks check.
A failed generation returns "" to lm-eval and is kept, with its error, in `outcomes`, so that the
caller (va-bench eval) counts it as an error rather than as a response.
"""

from __future__ import annotations

import hashlib
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lm_eval.models  # noqa: F401  (lm-eval's own model names; its registry adds them only while it is empty)
from lm_eval.api.model import LM
from lm_eval.api.registry import register_model

from ..models.base import (
    DEFAULT_PREFETCH,
    GenerationError,
    GenerationRequest,
    GenerationSettings,
    JobFeed,
    Media,
    completions,
)
from ..models.registry import ModelSpec
from . import lm_eval_git
from .cache import ResponseCache, cache_key
from .distributed import ProcessGroup, launched
from .docs import VIDEO_EXTS
from .media_inputs import BenchAudio, BenchImage, EncodedAudio, EncodedImage, strip_placeholders
from .run_context import current_run

lm_eval_git.install()  # every lm-eval run with our model: no `fatal: not a git repository` on stderr

DEFAULT_MAX_NEW_TOKENS = 300  # the papers' setting


@dataclass
class Outcome:
    """One answered lm-eval request, in request order."""

    task: str
    doc_id: int
    doc: dict
    prompt: str | None
    media: list[str]
    response: str | None
    error: str | None
    cached: bool


@dataclass
class _Pending:
    index: int
    task: str
    doc_id: int
    doc: dict
    request: GenerationRequest
    settings: GenerationSettings
    key: str
    media_names: list[str] = field(default_factory=list)


def settings_from_gen_kwargs(
    gen_kwargs: dict | None, default_max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS
) -> GenerationSettings:
    """lm-eval generation kwargs (until, max_gen_toks, do_sample, temperature, top_p) -> our settings."""
    kw = dict(gen_kwargs or {})
    until = kw.get("until") or ()
    stop = (until,) if isinstance(until, str) else tuple(until)
    sample = bool(kw.get("do_sample", False)) and float(kw.get("temperature", 1.0)) > 0
    return GenerationSettings(
        max_new_tokens=int(kw.get("max_gen_toks", default_max_new_tokens)),
        temperature=float(kw.get("temperature", 1.0)) if sample else 0.0,
        top_p=float(kw.get("top_p", 1.0)) if sample else 1.0,
        seed=int(kw.get("seed", 0)),
        stop=stop,
    )


def truncate_at_stop(text: str, stop: tuple[str, ...]) -> str:
    for s in stop:
        if s:
            text = text.split(s, 1)[0]
    return text


@register_model("va-bench")
class VABenchLM(LM):
    MULTIMODAL = True  # lm-eval only sends doc_to_image / doc_to_audio tasks to models that say so
    ACCEPTS_VIDEO = True  # our video tasks refuse any model class that does not say so (model_checks)

    def __init__(
        self,
        model: ModelSpec | str | None = None,
        cache: str | None = None,
        batch_size: int | str | None = 1,
        max_batch_size: int | None = None,
        device: str | None = None,
        bench: str | None = None,
        max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
        decode_workers: int | str | None = None,
        prefetch: int | str = DEFAULT_PREFETCH,
        **backend_args: Any,
    ) -> None:
        super().__init__()
        from ..errors import InputError
        from ..models.registry import answer_options, make_backend

        if not model:
            raise InputError("--model_args: model=BACKEND:NAME is required (e.g. model=tiny:qwen2-vl)")
        self.spec = ModelSpec.of(model)  # lm-eval hands us text
        self.batch_size = _batch_size(batch_size, max_batch_size)
        if "batch_size" not in backend_args and _factory_accepts(self.spec, "batch_size"):
            backend_args["batch_size"] = self.batch_size  # hf/tiny: also the forward-pass batch
        ranks = launched()  # under accelerate launch / torchrun: this process's share of a data-parallel run
        self._rank, self._world_size = ranks.rank, ranks.world_size
        if ranks.distributed and "device" not in backend_args and _factory_accepts(self.spec, "device"):
            import torch

            if torch.cuda.is_available():
                backend_args["device"] = f"cuda:{ranks.local_rank}"  # one GPU per process
        self._device = str(backend_args.get("device") or "cpu")
        self._group = ProcessGroup(ranks, self._device) if ranks.distributed else None
        self.backend_args = backend_args
        self.answer_args = answer_options(self.spec, backend_args)  # what keys the response cache (models.registry)
        self.backend = make_backend(self.spec, self.backend_args)
        self.max_new_tokens = int(max_new_tokens)
        self.decode_workers = _count("decode_workers", decode_workers, 0) if decode_workers is not None else None
        self.prefetch = _count("prefetch", prefetch, 1)
        shard = ranks.rank if ranks.distributed else None
        self.cache = ResponseCache(Path(cache), shard) if cache else None
        self.outcomes: list[Outcome] = []
        self.run = current_run()  # where this run's failed generations are kept for the judge filter
        self.generated = 0  # requests sent to the backend in this process
        self._scratch: tempfile.TemporaryDirectory | None = None
        self._file_sha: dict[str, str] = {}

    # ---- lm-eval interface -------------------------------------------------------------
    def loglikelihood(self, requests, disable_tqdm: bool = False):
        raise NotImplementedError(
            "model 'va-bench' only generates (our backends expose no token log-probabilities); "
            "run loglikelihood / multiple-choice tasks with lm-eval's own `hf` model"
        )

    def loglikelihood_rolling(self, requests, disable_tqdm: bool = False):
        return self.loglikelihood(requests, disable_tqdm)

    def generate_until(self, requests, disable_tqdm: bool = False) -> list[str]:
        from tqdm import tqdm

        texts: list[str] = [""] * len(requests)
        pending: list[_Pending] = []
        self.run.failed.clear()  # lm-eval filters what this call returns: only its failures count
        first: dict[int, int] = {}  # a request lm-eval repeats (data-parallel padding) is answered once
        for i, inst in enumerate(requests):
            if first.setdefault(id(inst), i) != i:
                continue
            item = self._prepare(i, inst)
            hit = self.cache.get(item.key) if self.cache is not None else None
            if hit is not None:
                texts[i] = hit
                self._record(item, hit, None, cached=True)
            else:
                pending.append(item)
        bar = tqdm(
            total=len(requests),
            initial=len(requests) - len(pending),
            desc=f"generate {self.spec}",
            unit="req",
            file=sys.stderr,
            mininterval=1.0,
            disable=disable_tqdm,
        )
        items = ((n, p.request, p.settings) for n, p in enumerate(pending))
        with bar, JobFeed(self.backend.prepare, items, self.decode_workers, self.prefetch) as feed:
            for done in completions(self.backend, feed):  # as they complete: cached now, lost at most in flight
                fresh = []
                for n, result in done:
                    p = pending[n]
                    if isinstance(result, GenerationError):
                        self._record(p, None, result.message, cached=False)
                        continue
                    text = truncate_at_stop(result, p.settings.stop)
                    texts[p.index] = text
                    self._record(p, text, None, cached=False)
                    fresh.append({"key": p.key, "task": p.task, "item": p.doc.get("key", p.doc_id), "response": text})
                self.generated += len(done)
                if self.cache is not None:
                    self.cache.append(fresh)
                bar.update(len(done))
        self.outcomes.sort(key=lambda o: (o.task, o.doc_id))
        return [texts[first[id(inst)]] for inst in requests]

    # ---- data parallelism (harness/distributed.py): lm-eval's evaluator shards, gathers and syncs through these
    def all_gather(self, tensor):
        return tensor if self._group is None else self._group.all_gather(tensor)

    def gather_object(self, obj, dst=0):
        return [obj] if self._group is None else self._group.gather_object(obj, dst)

    def barrier(self) -> None:
        if self._group is not None:
            self._group.barrier()

    def gather_outcomes(self) -> None:
        """Rank 0 takes every rank's outcomes (and generation count), in (task, document) order; the others
        keep their own. One process: nothing to do."""
        if self._group is None:
            return
        gathered = self._group.gather_object((self.outcomes, self.generated))
        if gathered is not None:
            self.outcomes = sorted((o for outcomes, _ in gathered for o in outcomes), key=lambda o: (o.task, o.doc_id))
            self.generated = sum(count for _, count in gathered)

    def close(self) -> None:
        self.backend.close()
        if self._scratch is not None:
            self._scratch.cleanup()
            self._scratch = None
        if self._group is not None:
            self._group.close()
            self._group = None

    # ---- internals ---------------------------------------------------------------------
    def _prepare(self, index: int, inst) -> _Pending:
        context, gen_kwargs, *aux = inst.args
        aux = aux[0] if aux else {}
        media = tuple(self._visual(v) for v in _as_list(aux.get("visual"))) + tuple(
            self._audio(a) for a in _as_list(aux.get("audio"))
        )
        context = strip_placeholders(context, [m.kind for m in media])
        prompt = context if (context or not media) else None
        settings = settings_from_gen_kwargs(gen_kwargs, self.max_new_tokens)
        doc = inst.doc if isinstance(inst.doc, dict) else {}
        fields = {
            "model": str(self.spec),  # the text: response cache keys stay those of earlier runs
            "model_args": {k: str(v) for k, v in sorted(self.answer_args.items())},
            "task": inst.task_name,
            "item": doc.get("key", inst.doc_id),
            "prompt": prompt,
            "media": [[m.kind, self._sha(m.path, doc)] for m in media],
            "settings": settings.cache_fields(),
        }
        return _Pending(
            index,
            inst.task_name,
            inst.doc_id,
            doc,
            GenerationRequest(prompt, media),
            settings,
            cache_key(fields),
            [str(m.path) for m in media],
        )

    def _record(self, p: _Pending, response: str | None, error: str | None, cached: bool) -> None:
        if error is not None:
            self.run.failed.add((p.task, str(p.doc.get("key", p.doc_id))))
        self.outcomes.append(Outcome(p.task, p.doc_id, p.doc, p.request.prompt, p.media_names, response, error, cached))

    def _sha(self, path: Path, doc: dict) -> str:
        """Content hash for the cache key (a rebuilt file gets a new key); unreadable files key by path.

        A bench document's own medium was checked against its manifest sha256 when the task loaded
        (media_paths), so that hash is taken as it is rather than reading the file once more."""
        name = str(path)
        if doc.get("media") is not None and str(doc["media"]) == name and doc.get("media_sha256"):
            return str(doc["media_sha256"])
        if name not in self._file_sha:
            try:
                h = hashlib.sha256()
                with open(path, "rb") as fh:
                    for chunk in iter(lambda: fh.read(1 << 20), b""):
                        h.update(chunk)
                self._file_sha[name] = h.hexdigest()
            except OSError:
                self._file_sha[name] = "missing:" + name
        return self._file_sha[name]

    def _scratch_dir(self) -> Path:
        if self._scratch is None:
            self._scratch = tempfile.TemporaryDirectory(prefix="va-bench-media-")
        return Path(self._scratch.name)

    def _scratch_file(self, data: bytes, suffix: str) -> Path:
        """An encoded medium (a capability data set's image or audio bytes) as a file named by its content."""
        path = self._scratch_dir() / f"{hashlib.sha256(data).hexdigest()[:32]}{suffix}"
        if not path.exists():
            path.write_bytes(data)
        return path

    def _visual(self, entry: Any) -> Media:
        if isinstance(entry, dict):
            kind = entry.get("type", "image")
            if kind not in ("image", "video") or "path" not in entry:
                raise ValueError(f"visual entry needs type image|video and a path, got keys {sorted(entry)}")
            return Media(kind, Path(entry["path"]))
        if isinstance(entry, (str, Path)):
            path = Path(entry)
            return Media("video" if path.suffix.lower() in VIDEO_EXTS else "image", path)
        if isinstance(entry, BenchImage):
            return Media("image", entry.path)
        if isinstance(entry, EncodedImage):
            return Media("image", self._scratch_file(entry.data, entry.suffix))
        if hasattr(entry, "save") and hasattr(entry, "tobytes"):  # a PIL image from an lm-eval task
            digest = hashlib.sha256(entry.tobytes() + repr((entry.mode, entry.size)).encode()).hexdigest()[:32]
            path = self._scratch_dir() / f"{digest}.png"
            if not path.exists():
                entry.convert("RGB").save(path)
            return Media("image", path)
        raise TypeError(f"unsupported visual entry of type {type(entry).__name__}")

    def _audio(self, entry: Any) -> Media:
        if isinstance(entry, (str, Path)):
            return Media("audio", Path(entry))
        if isinstance(entry, BenchAudio):
            return Media("audio", entry.path)
        if isinstance(entry, EncodedAudio):
            return Media("audio", self._scratch_file(entry.data, entry.suffix))
        if not isinstance(entry, Mapping):
            raise TypeError(f"unsupported audio entry of type {type(entry).__name__}")
        if entry.get("path") and (entry.get("array") is None or Path(entry["path"]).is_file()):
            return Media("audio", Path(entry["path"]))
        if entry.get("array") is not None and "sampling_rate" in entry:  # lm-eval's HF audio datasets
            import numpy as np
            import soundfile

            array = np.asarray(entry["array"], dtype=np.float32)
            digest = hashlib.sha256(array.tobytes() + str(entry["sampling_rate"]).encode()).hexdigest()[:32]
            path = self._scratch_dir() / f"{digest}.wav"
            if not path.exists():
                soundfile.write(path, array, int(entry["sampling_rate"]))
            return Media("audio", path)
        raise TypeError(f"audio entry needs a path or an array with sampling_rate, got keys {sorted(entry)}")


def _as_list(value: Any) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _factory_accepts(spec: ModelSpec, parameter: str) -> bool:
    """Whether the backend named by `spec` takes `parameter` (batch_size: hf and tiny do)."""
    import inspect

    from ..models.registry import BACKENDS

    try:
        factory = BACKENDS.get(spec.backend).load()
    except ImportError:
        return False
    return parameter in inspect.signature(factory).parameters


def _count(name: str, value: int | str, minimum: int) -> int:
    from ..errors import InputError

    try:
        number = int(value)
    except (TypeError, ValueError):
        number = minimum - 1
    if number < minimum:
        raise InputError(f"model arg {name}={value!r}: expected an integer of at least {minimum}")
    return number


def _batch_size(batch_size: int | str | None, max_batch_size: int | None) -> int:
    """lm-eval passes an int, a digit string or 'auto[:N]'; auto means max_batch_size (or 8)."""
    text = str(batch_size if batch_size is not None else 1)
    if text.startswith("auto"):
        return int(max_batch_size or 8)
    return max(1, int(text))
