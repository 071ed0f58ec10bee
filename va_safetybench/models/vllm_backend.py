"""`vllm:` backend: vLLM's offline engine with `multi_modal_data` for image, video and audio.

vLLM is an optional extra and is imported only when the backend is constructed. Everything that turns
our requests and settings into vLLM's inputs is a pure function here (engine arguments, the chat-templated
prompt with its media, sampling parameters, data-parallel sharding), so it is tested without vLLM.

Requests are prepared (media decoded, prompt built: `prepare`) by the harness's decode workers and fed to the
engine one by one as they are ready, up to `max_in_flight` at once, with the engine stepped in between
(`_Engine`): its continuous batch stays full and each result is handed on as it finishes. An input the engine
refuses fails alone; one that kills it (EngineDeadError) costs a restart, and only that request fails.

Data parallelism: `data_parallel_size` > 1 starts that many worker processes, each owning a whole engine
(with `tensor_parallel_size` GPUs of its own, assigned through CUDA_VISIBLE_DEVICES); each job goes to the
rank holding the fewest.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
from collections.abc import Iterator
from typing import Any

from va_safetybench.errors import InputError, require_extra
from va_safetybench.models.adapters.generic import GenericAdapter
from va_safetybench.models.base import (
    GenerationError,
    GenerationRequest,
    GenerationResult,
    GenerationSettings,
    JobFeed,
    Media,
    MediaKind,
    ModelBackend,
    ModelInfo,
)

log = logging.getLogger(__name__)

DEFAULT_VIDEO_FPS = 2.0  # media_loading's default, the official Qwen-VL evaluation's rate
DEFAULT_SAMPLE_RATE = 16000
# Requests held by the engine (or by all data-parallel ranks together): enough to keep a GPU's continuous batch
# full (vLLM schedules up to max_num_seqs, 256 by default, at once); each holds its processed media in host memory.
DEFAULT_MAX_IN_FLIGHT = 256
_POLL_S = 0.005  # with room in the engines and nothing decoded yet, how often to look at the feed again
_MODALITIES: tuple[MediaKind, ...] = ("image", "video", "audio")


def _flag(value: bool | str) -> bool:
    return str(value).lower() in ("1", "true", "yes")


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
    pipeline_parallel_size: int = 1,
    distributed_executor_backend: str | None = None,
    max_model_len: int | None = None,
    limit_mm_per_prompt: dict[str, int] | None = None,
    dtype: str = "auto",
    gpu_memory_utilization: float = 0.9,
    enforce_eager: bool = False,
    seed: int = 0,
    trust_remote_code: bool = False,
) -> dict:
    """Keyword arguments for `vllm.LLM(...)` of one engine (one data-parallel rank). Several machines: one engine
    over a Ray cluster, `distributed_executor_backend="ray"` with tensor (within a node) x pipeline (across nodes)
    parallelism."""
    kwargs: dict[str, Any] = {
        "model": model,
        "tensor_parallel_size": tensor_parallel_size,
        "dtype": dtype,
        "gpu_memory_utilization": gpu_memory_utilization,
        "enforce_eager": enforce_eager,
        "seed": seed,
        "trust_remote_code": trust_remote_code,
    }
    if pipeline_parallel_size != 1:
        kwargs["pipeline_parallel_size"] = pipeline_parallel_size
    if distributed_executor_backend is not None:
        kwargs["distributed_executor_backend"] = distributed_executor_backend
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


def _engine_died(exc: BaseException) -> bool:
    """Whether vLLM says its engine is gone (its core process exited): every request in it is lost."""
    return type(exc).__name__ == "EngineDeadError"


class _Engine:
    """One vLLM engine, fed request by request and stepped, so that its continuous batch always holds everything
    in flight. An input the engine refuses fails alone. An input that kills the engine (EngineDeadError: its core
    process died) takes down every request in flight, and which one did it is unknown: the engine is restarted
    and each of those requests is run alone, so that only the killer fails."""

    def __init__(self, kwargs: dict, tokenizer: Any) -> None:
        self._vllm = _import_vllm()
        self._kwargs = kwargs
        self._tokenizer = tokenizer
        self.llm: Any = self._vllm.LLM(**kwargs)
        self.restarts = 0
        self._in_flight: dict[str, tuple[int, dict, dict]] = {}  # vLLM's request id -> (job id, input, sampling)
        self._suspects: list[tuple[int, dict, dict]] = []  # in flight when the engine died

    @property
    def busy(self) -> int:
        return len(self._in_flight) + len(self._suspects)

    @property
    def accepting(self) -> bool:
        """False while requests lost with a dead engine wait to be run alone (nothing may share the engine)."""
        return not self._suspects

    def add(self, job_id: int, prompt: dict, sampling: dict) -> GenerationError | None:
        """Queue one request; its error when vLLM refuses it (longer than max_model_len, media its processor
        rejects), None when queued."""
        if self.llm is None:
            self._restart()
        try:
            (request_id,) = self.llm.enqueue([prompt], self._vllm.SamplingParams(**sampling), use_tqdm=False)
        except Exception as exc:
            if not _engine_died(exc):
                return GenerationError(f"vllm refused the request: {type(exc).__name__}: {str(exc)[:200]}")
            self._lose_engine()
            self._suspects.append((job_id, prompt, sampling))
            return None
        # enqueue returns the engine's id, outputs carry the id it was given (the part before the random suffix)
        self._in_flight[request_id.partition("-")[0]] = (job_id, prompt, sampling)
        return None

    def step(self) -> list[tuple[int, GenerationResult]]:
        """One engine step: the requests that finished in it (after a death: each suspect's result)."""
        if not self._suspects:
            try:
                outputs = self.llm.llm_engine.step()
            except Exception as exc:
                if not _engine_died(exc):
                    raise
                self._lose_engine()
            else:
                return [(self._in_flight.pop(out.request_id)[0], self._text(out)) for out in outputs if out.finished]
        suspects, self._suspects = self._suspects, []
        return [(job_id, self._alone(prompt, sampling)) for job_id, prompt, sampling in suspects]

    def _alone(self, prompt: dict, sampling: dict) -> GenerationResult:
        if self.llm is None:
            self._restart()
        try:
            (out,) = self.llm.generate([prompt], self._vllm.SamplingParams(**sampling), use_tqdm=False)
        except Exception as exc:
            if _engine_died(exc):
                self._lose_engine()  # restarted when there is more to do
                return GenerationError("vllm: this request killed the engine (its log is above)")
            return GenerationError(f"vllm: {type(exc).__name__}: {str(exc)[:200]}")
        return self._text(out)

    def _text(self, output: Any) -> str:
        """The continuation decoded as the hf backend decodes it, so that equal token ids give equal texts."""
        return self._tokenizer.decode(list(output.outputs[0].token_ids), skip_special_tokens=True)

    def _lose_engine(self) -> None:
        held = len(self._in_flight)
        if held:
            log.warning("vllm: the engine died (EngineDeadError); restarting it, its %d request(s) one at a time", held)
        self._suspects.extend(self._in_flight.values())
        self._in_flight.clear()
        self.shutdown()

    def _restart(self) -> None:
        self.restarts += 1
        self.llm = self._vllm.LLM(**self._kwargs)

    def shutdown(self) -> None:
        """Stop the engine's processes now (not whenever the garbage collector gets to them)."""
        llm, self.llm = self.llm, None
        if llm is not None:
            try:
                llm.llm_engine.engine_core.shutdown()
            except Exception:  # noqa: BLE001  # a dead engine may fail to say goodbye; its processes are gone
                pass


def _drive(engine: _Engine, take: Any, window: int) -> Iterator[list[tuple[int, GenerationResult]]]:
    """Keep up to `window` requests in `engine`, taking jobs from `take(wait)` -> (id, input, sampling) | None
    (None: no more, or with wait=False none ready yet), and yield what completes."""
    exhausted = False
    while True:
        while not exhausted and engine.accepting and engine.busy < window:
            job = take(not engine.busy)  # with requests in the engine, never wait for a decoder
            if job is None:
                exhausted = not engine.busy
                break
            refused = engine.add(*job)
            if refused is not None:
                yield [(job[0], refused)]
        if not engine.busy:
            if exhausted:
                return
            continue
        done = engine.step()
        if done:
            yield done


def _dp_worker(devices: str, kwargs: dict, tokenizer: Any, conn: Any) -> None:
    """A data-parallel rank: owns one engine on its own GPUs, takes (id, input, sampling) jobs from `conn`
    (None: stop) and sends back what completes, stepping whenever it holds work."""
    os.environ["CUDA_VISIBLE_DEVICES"] = devices
    engine = _Engine(kwargs, tokenizer)
    conn.send("ready")
    stopping = False

    def take(wait: bool) -> tuple | None:
        nonlocal stopping
        if stopping or not conn.poll(None if wait else 0):
            return None
        message = conn.recv()
        stopping = message is None
        return message

    for done in _drive(engine, take, window=1 << 30):  # the parent bounds what each rank holds
        conn.send(done)
    engine.shutdown()


class VLLMBackend(ModelBackend):
    def __init__(
        self,
        name: str,
        tensor_parallel_size: int | str = 1,
        data_parallel_size: int | str = 1,
        pipeline_parallel_size: int | str = 1,
        distributed_executor_backend: str | None = None,
        max_model_len: int | str | None = None,
        limit_mm_per_prompt: dict | str | None = None,
        dtype: str = "auto",
        gpu_memory_utilization: float | str = 0.9,
        enforce_eager: bool | str = False,
        max_in_flight: int | str = DEFAULT_MAX_IN_FLIGHT,
        video_fps: float | str = DEFAULT_VIDEO_FPS,
        trust_remote_code: bool | str = False,
        seed: int | str = 0,
    ) -> None:
        _import_vllm()  # fail fast with the install hint, before loading anything large
        trust = _flag(trust_remote_code)
        self.processor = load_processor(name, trust)
        self.family = family_of(name)
        self.video_fps = float(video_fps)
        self.sample_rate = processor_sample_rate(self.processor, self.family)
        self.max_in_flight = int(max_in_flight)
        if self.max_in_flight < 1:
            raise InputError(f"model arg max_in_flight={max_in_flight!r}: must be at least 1")
        tp, dp = int(tensor_parallel_size), int(data_parallel_size)
        kwargs = engine_kwargs(
            name,
            tensor_parallel_size=tp,
            pipeline_parallel_size=int(pipeline_parallel_size),
            distributed_executor_backend=distributed_executor_backend,
            max_model_len=int(max_model_len) if max_model_len is not None else None,
            limit_mm_per_prompt=parse_limit_mm(limit_mm_per_prompt),
            dtype=dtype,
            gpu_memory_utilization=float(gpu_memory_utilization),
            enforce_eager=_flag(enforce_eager),
            seed=int(seed),
            trust_remote_code=trust,
        )
        from va_safetybench.models.hf import read_metadata

        metadata = read_metadata(name)  # a local checkpoint's va_safetybench.json: random weights, alignment
        self.info = ModelInfo(
            backend="vllm",
            name=name,
            modalities=self.family.checkpoint_modalities(None, self.processor),
            random_weights=bool(metadata.get("random_weights")),
            metadata={**metadata, "tensor_parallel_size": tp, "data_parallel_size": dp, "video_fps": self.video_fps},
        )
        self._engine: _Engine | None = None
        self._workers: list[tuple[Any, Any]] = []
        if dp == 1:
            self._engine = _Engine(kwargs, self.processor.tokenizer)
        else:
            self._start_workers(dp, tp, kwargs)

    def _start_workers(self, dp: int, tp: int, kwargs: dict) -> None:
        import torch

        groups = dp_device_groups(dp, tp, os.environ.get("CUDA_VISIBLE_DEVICES"), torch.cuda.device_count())
        context = multiprocessing.get_context("spawn")  # CUDA cannot be forked
        for devices in groups:
            parent, child = context.Pipe()
            process = context.Process(
                target=_dp_worker, args=(devices, kwargs, self.processor.tokenizer, child), daemon=True
            )
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

    def prepare(self, request: GenerationRequest) -> dict:
        return build_vllm_input(self.processor, request, self.video_fps, self.sample_rate, self.family)

    def stream(self, feed: JobFeed) -> Iterator[list[tuple[int, GenerationResult]]]:
        """Up to `max_in_flight` requests in the engine (or across the data-parallel ranks, each rank given the
        next job when it holds the fewest), results as they finish."""

        def take(wait: bool) -> tuple[int, dict, dict] | None:
            job = feed.next(wait)
            return None if job is None else (job.id, job.work, sampling_kwargs(job.settings))

        if self._engine is not None:
            yield from _drive(self._engine, take, self.max_in_flight)
            return
        yield from self._stream_ranks(take)

    def _stream_ranks(self, take: Any) -> Iterator[list[tuple[int, GenerationResult]]]:
        from multiprocessing.connection import wait

        conn: Any  # a rank's end of its pipe
        live = {conn: rank for rank, (_, conn) in enumerate(self._workers)}
        owner: dict[int, Any] = {}  # job id -> the connection of the rank holding it
        load = dict.fromkeys(live, 0)
        exhausted = False
        while True:
            while not exhausted and sum(load.values()) < self.max_in_flight:
                job = take(not owner)
                if job is None:
                    exhausted = not owner
                    break
                if not live:
                    yield [(job[0], GenerationError("vllm: every data-parallel rank has died"))]
                    continue
                conn = min(live, key=load.__getitem__)
                conn.send(job)
                owner[job[0]] = conn
                load[conn] += 1
            if not owner:
                if exhausted:
                    return
                continue
            room = sum(load.values()) < self.max_in_flight and not exhausted
            for conn in wait(list(live), timeout=_POLL_S if room else None):
                done: list[tuple[int, GenerationResult]]
                try:
                    done = conn.recv()
                except EOFError:  # the rank's process died: what it held fails, the other ranks go on
                    rank = live.pop(conn)
                    message = f"vllm: data-parallel rank {rank} died"
                    done = [(i, GenerationError(message)) for i, c in owner.items() if c is conn]
                for job_id, _ in done:
                    load[owner.pop(job_id)] -= 1
                if done:
                    yield done

    def close(self) -> None:
        for process, conn in self._workers:
            if process.is_alive():
                conn.send(None)
            process.join(timeout=60)
        self._workers.clear()
        if self._engine is not None:
            self._engine.shutdown()
            self._engine = None
