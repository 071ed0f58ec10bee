"""`vllm:` backend: vLLM's offline engine with `multi_modal_data` for image, video and audio.

vLLM is an optional extra and is imported only when the backend is constructed. Everything that turns
our requests and settings into vLLM's inputs is a pure function here (engine arguments, the chat-templated
prompt with its media, sampling parameters, data-parallel sharding), so it is tested without vLLM.

Data parallelism: `data_parallel_size` > 1 starts that many worker processes, each owning a whole engine
(with `tensor_parallel_size` GPUs of its own, assigned through CUDA_VISIBLE_DEVICES) and a contiguous
shard of every batch; results come back in request order.
"""

from __future__ import annotations

import json
import multiprocessing
import os
from typing import Any

from va_safetybench.errors import InputError, require_extra
from va_safetybench.models.adapters.generic import GenericAdapter
from va_safetybench.models.base import (
    GenerationError,
    GenerationRequest,
    GenerationResult,
    GenerationSettings,
    Media,
    MediaKind,
    ModelBackend,
    ModelInfo,
)

DEFAULT_VIDEO_FPS = 2.0  # media_loading's default, the official Qwen-VL evaluation's rate
DEFAULT_SAMPLE_RATE = 16000
_MODALITIES: tuple[MediaKind, ...] = ("image", "video", "audio")


def parse_limit_mm(value: dict | str | None) -> dict[str, int] | None:
    """`limit_mm_per_prompt` from a dict or a JSON object string such as '{"image": 1, "video": 1}'."""
    if value is None or isinstance(value, dict):
        limits = value
    else:
        try:
            limits = json.loads(value)
        except json.JSONDecodeError:
            raise InputError(
                f'model arg limit_mm_per_prompt={value!r}: expected a JSON object such as {{"image": 1, "video": 1}}'
            ) from None
    if limits is None:
        return None
    if not isinstance(limits, dict) or any(
        k not in _MODALITIES or not isinstance(v, int) or v < 0 for k, v in limits.items()
    ):
        raise InputError(f"model arg limit_mm_per_prompt={value!r}: expected counts for image/video/audio")
    return limits


def engine_kwargs(
    model: str,
    *,
    tensor_parallel_size: int = 1,
    max_model_len: int | None = None,
    limit_mm_per_prompt: dict[str, int] | None = None,
    dtype: str = "auto",
    gpu_memory_utilization: float = 0.9,
    seed: int = 0,
    trust_remote_code: bool = False,
) -> dict:
    """Keyword arguments for `vllm.LLM(...)` of one engine (one data-parallel rank)."""
    kwargs: dict[str, Any] = {
        "model": model,
        "tensor_parallel_size": tensor_parallel_size,
        "dtype": dtype,
        "gpu_memory_utilization": gpu_memory_utilization,
        "seed": seed,
        "trust_remote_code": trust_remote_code,
    }
    if max_model_len is not None:
        kwargs["max_model_len"] = max_model_len
    if limit_mm_per_prompt is not None:
        kwargs["limit_mm_per_prompt"] = limit_mm_per_prompt
    return kwargs


def sampling_kwargs(settings: GenerationSettings) -> dict:
    """Keyword arguments for `vllm.SamplingParams(...)`: temperature 0 is greedy in vLLM."""
    kwargs: dict[str, Any] = {
        "temperature": settings.temperature,
        "top_p": settings.top_p,
        "max_tokens": settings.max_new_tokens,
        "seed": settings.seed,
    }
    if settings.stop:
        kwargs["stop"] = list(settings.stop)
    return kwargs


def dp_device_groups(
    data_parallel_size: int, tensor_parallel_size: int, visible: str | None, device_count: int
) -> list[str]:
    """CUDA_VISIBLE_DEVICES for each data-parallel rank: consecutive groups of `tensor_parallel_size`
    devices taken from the devices this process may see."""
    devices = [d.strip() for d in visible.split(",") if d.strip()] if visible else [str(i) for i in range(device_count)]
    needed = data_parallel_size * tensor_parallel_size
    if needed > len(devices):
        raise InputError(
            f"vllm: data_parallel_size={data_parallel_size} x tensor_parallel_size="
            f"{tensor_parallel_size} needs {needed} GPUs, {len(devices)} visible"
        )
    return [
        ",".join(devices[r * tensor_parallel_size : (r + 1) * tensor_parallel_size]) for r in range(data_parallel_size)
    ]


def shard_bounds(n: int, parts: int) -> list[tuple[int, int]]:
    """Contiguous [start, end) slices of n items, sizes differing by at most one, in order."""
    base, extra = divmod(n, parts)
    bounds, start = [], 0
    for rank in range(parts):
        end = start + base + (1 if rank < extra else 0)
        bounds.append((start, end))
        start = end
    return bounds


def _chat_entry(media: Media) -> dict:
    # `type` serves templates that test content['type'] (Qwen2-VL, LLaVA); the path under the kind's own key
    # serves those that test `'audio' in content` (Qwen2-Audio). Nothing is loaded: tokenize=False.
    return {"type": media.kind, media.kind: str(media.path)}


def chat_prompt(processor: Any, request: GenerationRequest) -> str:
    """The user turn (media placeholders in request order, then the prompt) through the model's chat template."""
    content = [_chat_entry(m) for m in request.media]
    if request.prompt is not None:
        content.append({"type": "text", "text": request.prompt})
    return processor.apply_chat_template(
        [{"role": "user", "content": content}], tokenize=False, add_generation_prompt=True
    )


def family_of(name: str) -> type[GenericAdapter]:
    """The family adapter class of a checkpoint, from its raw config alone (no weights, no processor); model
    types this project has no file for take the generic one (vLLM may still serve them)."""
    from transformers import PretrainedConfig

    from va_safetybench.models.adapters import adapter_class

    try:
        return adapter_class(str(PretrainedConfig.get_config_dict(name)[0].get("model_type")))
    except (InputError, OSError, ValueError):
        return GenericAdapter


def load_processor(name: str, trust_remote_code: bool = False) -> Any:
    """The checkpoint's processor, with its tokenizer's chat template when it keeps none of its own."""
    from transformers import AutoProcessor

    from va_safetybench.models.adapters.generic import adopt_tokenizer_template

    processor = AutoProcessor.from_pretrained(name, trust_remote_code=trust_remote_code)
    adopt_tokenizer_template(processor)
    return processor


def processor_sample_rate(processor: Any, family: type[GenericAdapter] | None = None) -> int:
    """The audio rate the model's processor expects (vLLM also resamples, but we decode once)."""
    return (family or GenericAdapter).audio_rate(processor) or DEFAULT_SAMPLE_RATE


def load_media(media: Media, video_fps: float, sample_rate: int, family: type[GenericAdapter] | None = None) -> Any:
    """The decoded form vLLM takes, read by media_loading exactly as the hf backend reads it: PIL RGB image,
    (T, H, W, 3) uint8 frames sampled as the family samples them (at `video_fps`, or its fixed count) and
    resized as qwen-vl-utils does, with their metadata where the family's vLLM processor reads it (frame
    timestamps), (float32 mono, rate)."""
    import torch

    from va_safetybench.models import media_loading
    from va_safetybench.models.adapters import MediaOptions

    family = family or GenericAdapter
    if media.kind == "image":
        return media_loading.load_image(media.path)
    if media.kind == "video":
        video = family.sample_video(media.path, MediaOptions(fps=video_fps))
        frames = video.frames.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()
        return (frames, dict(video.metadata())) if family.vllm_video_metadata else frames
    return media_loading.load_audio(media.path, sample_rate), sample_rate


def build_vllm_input(
    processor: Any,
    request: GenerationRequest,
    video_fps: float = DEFAULT_VIDEO_FPS,
    sample_rate: int | None = None,
    family: type[GenericAdapter] | None = None,
) -> dict:
    """One prompt in vLLM's offline format: {"prompt": text, "multi_modal_data": {kind: data or [data, ..]}}
    (or the family's own form, e.g. Voxtral's {"prompt_token_ids": ..})."""
    special = family.vllm_input(processor, request) if family is not None else None
    if special is not None:
        return special
    rate = sample_rate or processor_sample_rate(processor, family)
    item: dict[str, Any] = {"prompt": chat_prompt(processor, request)}
    data: dict[str, list] = {}
    for media in request.media:
        data.setdefault(media.kind, []).append(load_media(media, video_fps, rate, family))
    if data:
        item["multi_modal_data"] = {kind: items[0] if len(items) == 1 else items for kind, items in data.items()}
    return item


def _import_vllm() -> Any:
    return require_extra("vllm", "vllm", "the vllm backend")


class _Engine:
    """One vLLM engine in this process; generate() isolates a request that makes the whole batch fail."""

    def __init__(self, kwargs: dict) -> None:
        self._vllm = _import_vllm()
        self.llm = self._vllm.LLM(**kwargs)

    def generate(self, inputs: list[dict | GenerationError], sampling: dict) -> list[GenerationResult]:
        params = self._vllm.SamplingParams(**sampling)
        ready = [i for i, x in enumerate(inputs) if not isinstance(x, GenerationError)]
        results: list[GenerationResult] = list(inputs)  # type: ignore[arg-type]
        try:
            outputs = self.llm.generate([inputs[i] for i in ready], params, use_tqdm=False)
            for i, out in zip(ready, outputs):
                results[i] = out.outputs[0].text
        except Exception:  # one bad input (too long, bad media) fails the batch: retry one by one
            for i in ready:
                try:
                    results[i] = self.llm.generate([inputs[i]], params, use_tqdm=False)[0].outputs[0].text
                except Exception as exc:
                    results[i] = GenerationError(f"vllm: {type(exc).__name__}: {str(exc)[:160]}")
        return results


def _dp_worker(devices: str, kwargs: dict, conn: Any) -> None:
    """A data-parallel rank: owns one engine on its own GPUs and answers shards until told to stop."""
    os.environ["CUDA_VISIBLE_DEVICES"] = devices
    engine = _Engine(kwargs)
    conn.send("ready")
    while (message := conn.recv()) is not None:
        inputs, sampling = message
        conn.send(engine.generate(inputs, sampling))


class VLLMBackend(ModelBackend):
    def __init__(
        self,
        name: str,
        tensor_parallel_size: int | str = 1,
        data_parallel_size: int | str = 1,
        max_model_len: int | str | None = None,
        limit_mm_per_prompt: dict | str | None = None,
        dtype: str = "auto",
        gpu_memory_utilization: float | str = 0.9,
        video_fps: float | str = DEFAULT_VIDEO_FPS,
        trust_remote_code: bool | str = False,
        seed: int | str = 0,
    ) -> None:
        _import_vllm()  # fail fast with the install hint, before loading anything large
        trust = str(trust_remote_code).lower() in ("1", "true", "yes")
        self.processor = load_processor(name, trust)
        self.family = family_of(name)
        self.video_fps = float(video_fps)
        self.sample_rate = processor_sample_rate(self.processor, self.family)
        tp, dp = int(tensor_parallel_size), int(data_parallel_size)
        kwargs = engine_kwargs(
            name,
            tensor_parallel_size=tp,
            max_model_len=int(max_model_len) if max_model_len is not None else None,
            limit_mm_per_prompt=parse_limit_mm(limit_mm_per_prompt),
            dtype=dtype,
            gpu_memory_utilization=float(gpu_memory_utilization),
            seed=int(seed),
            trust_remote_code=trust,
        )
        self.info = ModelInfo(
            backend="vllm",
            name=name,
            modalities=self.family.checkpoint_modalities(None, self.processor),
            metadata={"tensor_parallel_size": tp, "data_parallel_size": dp, "video_fps": self.video_fps},
        )
        self._engine: _Engine | None = None
        self._workers: list[tuple[Any, Any]] = []
        if dp == 1:
            self._engine = _Engine(kwargs)
        else:
            self._start_workers(dp, tp, kwargs)

    def _start_workers(self, dp: int, tp: int, kwargs: dict) -> None:
        import torch

        groups = dp_device_groups(dp, tp, os.environ.get("CUDA_VISIBLE_DEVICES"), torch.cuda.device_count())
        context = multiprocessing.get_context("spawn")  # CUDA cannot be forked
        for devices in groups:
            parent, child = context.Pipe()
            process = context.Process(target=_dp_worker, args=(devices, kwargs, child), daemon=True)
            process.start()
            self._workers.append((process, parent))
        for process, conn in self._workers:
            try:
                conn.recv()
            except EOFError:
                self.close()
                raise RuntimeError(
                    f"vllm data-parallel worker {process.pid} died while starting its engine "
                    f"(its error is printed above)"
                ) from None

    def _inputs(self, requests: list[GenerationRequest]) -> list[dict | GenerationError]:
        inputs: list[dict | GenerationError] = []
        for request in requests:
            try:
                inputs.append(build_vllm_input(self.processor, request, self.video_fps, self.sample_rate, self.family))
            except Exception as exc:  # unreadable media: this request fails, the batch goes on
                inputs.append(GenerationError(f"unreadable media: {type(exc).__name__}: {str(exc)[:160]}"))
        return inputs

    def generate(self, requests: list[GenerationRequest], settings: GenerationSettings) -> list[GenerationResult]:
        inputs, sampling = self._inputs(requests), sampling_kwargs(settings)
        if self._engine is not None:
            return self._engine.generate(inputs, sampling)
        bounds = shard_bounds(len(inputs), len(self._workers))
        for (_, conn), (start, end) in zip(self._workers, bounds):
            conn.send((inputs[start:end], sampling))
        results: list[GenerationResult] = []
        for _, conn in self._workers:
            results.extend(conn.recv())
        return results

    def close(self) -> None:
        for process, conn in self._workers:
            if process.is_alive():
                conn.send(None)
            process.join(timeout=60)
        self._workers.clear()
        self._engine = None
