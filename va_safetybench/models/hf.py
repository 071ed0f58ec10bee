"""`hf:PATH_OR_HUB_ID`: transformers models through a family adapter, batched greedy generation.

Each request's media are decoded on their own first (`prepare`, in the harness's decode workers), so a
corrupt file becomes a GenerationError for that request only; the rest are generated in left-padded batches
of `batch_size`, sorted by length within a window of a few batches. If a batch still fails (a processor or
model error for one odd input), its requests are retried one by one so that only the offending request fails.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import InputError
from .adapters import GenericAdapter, MediaOptions, Prepared, adapter_class
from .base import (
    METADATA_FILE,
    GenerationError,
    GenerationRequest,
    GenerationResult,
    GenerationSettings,
    Job,
    JobFeed,
    ModelBackend,
    ModelInfo,
)

SORT_WINDOW = 4  # batches whose requests are sorted by length together


def _dtype(name: str) -> Any:
    import torch

    if name == "auto":
        return "auto"
    value = getattr(torch, name, None)
    if not isinstance(value, torch.dtype):
        raise InputError(f"model arg dtype={name!r} is not a torch dtype (float32, bfloat16, float16, auto)")
    return value


def read_metadata(path: str) -> dict:
    """The checkpoint's va_safetybench.json (alignment recipe etc.), {} for hub ids or plain checkpoints."""
    file = Path(path) / METADATA_FILE
    if not file.is_file():
        return {}
    try:
        return json.loads(file.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"cannot read {file}: {exc}") from exc


class HFBackend(ModelBackend):
    def __init__(
        self,
        name: str,
        dtype: str = "auto",
        device: str | None = None,
        device_map: str | None = None,
        attn_implementation: str | None = None,
        batch_size: int = 8,
        max_pixels: int | None = None,
        min_pixels: int | None = None,
        fps: float | None = None,
        trust_remote_code: bool = False,
        audio_in_video: bool = False,
    ) -> None:
        trust = bool(trust_remote_code)
        config, processor, cls = inspect_checkpoint(name, trust)
        load_kwargs: dict[str, Any] = {"dtype": _dtype(dtype)}
        if device_map is not None:
            load_kwargs["device_map"] = device_map
        if attn_implementation is not None:
            load_kwargs["attn_implementation"] = attn_implementation
        options = media_options(max_pixels, min_pixels, fps, audio_in_video=audio_in_video)
        if options.audio_in_video and not cls.hears_video_audio:
            raise InputError(f"model arg audio_in_video: a {config.model_type} model takes no audio with its videos")
        try:
            adapter = cls.load(name, config, processor, options, trust, **load_kwargs)
        except OSError as exc:  # missing or unreadable weight files
            raise InputError(f"cannot load the weights of hf:{name}: {str(exc).splitlines()[0]}") from exc
        if device is not None and device_map is None:
            adapter.model.to(device)
        metadata = read_metadata(name)
        info = ModelInfo(
            "hf", name, adapter.modalities, random_weights=bool(metadata.get("random_weights")), metadata=metadata
        )
        self._setup(adapter, info, batch_size)

    @classmethod
    def from_adapter(cls, adapter: GenericAdapter, info: ModelInfo, batch_size: int = 8) -> HFBackend:
        """A backend around an already loaded model (the tiny models are built in memory)."""
        backend = cls.__new__(cls)
        backend._setup(adapter, info, batch_size)
        return backend

    def _setup(self, adapter: GenericAdapter, info: ModelInfo, batch_size: int) -> None:
        if batch_size < 1:
            raise InputError(f"model arg batch_size must be at least 1, got {batch_size}")
        self.adapter = adapter
        self.info = info
        self.batch_size = batch_size

    def prepare(self, request: GenerationRequest) -> Prepared:
        return self.adapter.prepare(request)

    def stream(self, feed: JobFeed) -> Iterator[list[tuple[int, GenerationResult]]]:
        """Forward batches of `batch_size`, formed in windows of SORT_WINDOW batches sorted by media and length
        (less padding); the feed decodes the next window's media while these batches run."""
        window: list[Job] = []
        for job in feed:
            window.append(job)
            if len(window) >= self.batch_size * SORT_WINDOW:
                yield from self._generate_window(window)
                window = []
        yield from self._generate_window(window)

    def _generate_window(self, jobs: list[Job]) -> Iterator[list[tuple[int, GenerationResult]]]:
        by_settings: dict[GenerationSettings, list[Job]] = {}
        for job in jobs:
            by_settings.setdefault(job.settings, []).append(job)
        for settings, group in by_settings.items():
            group.sort(key=lambda job: (sorted(job.work.media), len(job.work.text)))
            for start in range(0, len(group), self.batch_size):
                chunk = group[start : start + self.batch_size]
                results = self._generate_chunk([job.work for job in chunk], settings)
                yield [(job.id, result) for job, result in zip(chunk, results)]

    def _generate_chunk(self, prepared: list[Prepared], settings: GenerationSettings) -> list[GenerationResult]:
        try:
            return list(self.adapter.generate(self.adapter.collate(prepared), settings))
        except Exception as exc:  # noqa: BLE001  # any processor/model failure: isolate it per request
            if len(prepared) == 1:
                return [GenerationError(f"{type(exc).__name__}: {exc}")]
        return [r for p in prepared for r in self._generate_chunk([p], settings)]

    def close(self) -> None:
        import gc

        import torch

        del self.adapter
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()


def inspect_checkpoint(name: str, trust_remote_code: bool = False) -> tuple[Any, Any, type[GenericAdapter]]:
    """(config, processor, adapter class) of a checkpoint, read without loading any weight: an unknown
    architecture or a missing optional package fails here, before gigabytes are read."""
    from transformers import AutoConfig, AutoProcessor, PretrainedConfig

    try:  # the raw config first: a family's config class may itself import its optional package
        raw = PretrainedConfig.get_config_dict(name)[0]
        model_type = str(raw.get("model_type"))
        cls = adapter_class(model_type, remote_code=trust_remote_code and "auto_map" in raw)
        cls.check_extra(model_type)
        config = AutoConfig.from_pretrained(name, trust_remote_code=trust_remote_code)
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot load model config for hf:{name}: {str(exc).splitlines()[0]}") from exc
    try:
        processor = AutoProcessor.from_pretrained(name, trust_remote_code=trust_remote_code)
    except (OSError, ValueError, TypeError) as exc:
        raise InputError(f"cannot load the processor of hf:{name}: {str(exc).splitlines()[0]}") from exc
    return config, processor, cls


def checkpoint_modalities(name: str, trust_remote_code: bool = False) -> frozenset[str]:
    """What a checkpoint takes, from its config and processor alone (so a run can be refused before loading)."""
    config, processor, cls = inspect_checkpoint(name, trust_remote_code)
    return cls.checkpoint_modalities(config, processor)


def media_options(
    max_pixels: int | None,
    min_pixels: int | None,
    fps: float | None,
    default: MediaOptions | None = None,
    audio_in_video: bool | None = None,
) -> MediaOptions:
    """Model args over defaults; bad values are input errors naming the option."""
    base = default or MediaOptions()
    options = MediaOptions(
        fps=base.fps if fps is None else float(fps),
        max_pixels=base.max_pixels if max_pixels is None else int(max_pixels),
        min_pixels=base.min_pixels if min_pixels is None else int(min_pixels),
        audio_in_video=base.audio_in_video if audio_in_video is None else bool(audio_in_video),
    )
    if options.fps <= 0 or options.max_pixels <= 0 or options.min_pixels <= 0:
        raise InputError(f"model args fps/max_pixels/min_pixels must be positive, got {options}")
    return options
