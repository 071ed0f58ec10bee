"""The generic transformers path: any checkpoint whose processor takes `images=`, `videos=` and `audio=`.

What the checkpoint can take is read from its processor (an image processor, a video processor, a feature
extractor, each with its placeholder token) before any weight is loaded. The model class is the family's
own where transformers' auto classes have none, else `AutoModelForImageTextToText` or
`AutoModelForMultimodalLM`. Videos are sampled by media_loading (the project's sampler: `fps`, or a family's
fixed frame count) and handed to the processor with their metadata and `do_sample_frames=False`; audio is
decoded at the feature extractor's rate. SEA's hooks use transformers' `get_<modality>_features` and the
`mm_encoder_outputs` forward/generate argument, so injection is the model's own code path.

A family file subclasses this only for what the checkpoint cannot say (its model class, frame count,
chat-template quirks) and is registered by model_type in adapters/__init__.py.
"""

from __future__ import annotations

import inspect
from typing import Any, ClassVar

from ...errors import require_extra
from ..base import Media, MediaKind
from ..media_loading import Video, load_audio, load_image, load_video
from .base import Adapter, MediaOptions

# the processor part that must be present for each modality
_PARTS: dict[MediaKind, str] = {"image": "image_processor", "video": "video_processor", "audio": "feature_extractor"}
ALL_FRAMES_FPS = 1e9  # asks media_loading for every frame (up to its cap); a fixed count is then picked


def placeholder_token_id(processor: Any, kind: str) -> int | None:
    """The token a processor expands for one medium of `kind`, or None when it has none."""
    tokenizer = getattr(processor, "tokenizer", processor)
    for owner in (processor, tokenizer):
        token_id = getattr(owner, f"{kind}_token_id", None)
        if isinstance(token_id, int):
            return token_id
    for owner in (processor, tokenizer):
        token = getattr(owner, f"{kind}_token", None)
        if isinstance(token, str):
            token_id = tokenizer.convert_tokens_to_ids(token)
            if isinstance(token_id, int) and token_id != getattr(tokenizer, "unk_token_id", None):
                return token_id
    return None


def adopt_tokenizer_template(processor: Any) -> None:
    """A processor without a chat template takes its tokenizer's (Phi-4-multimodal keeps it there)."""
    template = getattr(getattr(processor, "tokenizer", None), "chat_template", None)
    if getattr(processor, "chat_template", None) is None and template:
        processor.chat_template = template


def auto_model_class(model_type: str) -> type | None:
    """The transformers auto class that loads `model_type` (image-text-to-text first), None when neither does."""
    from transformers import AutoModelForImageTextToText, AutoModelForMultimodalLM
    from transformers.models.auto.modeling_auto import (
        MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES,
        MODEL_FOR_MULTIMODAL_LM_MAPPING_NAMES,
    )

    if model_type in MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES:
        return AutoModelForImageTextToText
    if model_type in MODEL_FOR_MULTIMODAL_LM_MAPPING_NAMES:
        return AutoModelForMultimodalLM
    return None


class GenericAdapter(Adapter):
    """Images, videos and audio through the standard processor arguments and the model's own encoders."""

    positions_from_mask = False  # unknown position scheme: let the model derive positions itself
    # The transformers class name for families the auto classes do not load (or load with parts we do not want).
    transformers_class: ClassVar[str | None] = None
    # A family's official number of frames per video; None: the project's sampler at MediaOptions.fps.
    video_frames: ClassVar[int | None] = None
    # Extra processor arguments a family's processor wants for videos.
    video_kwargs: ClassVar[dict[str, Any]] = {}
    # Families whose model can hear a video's audio track, interleaved with its frames (MediaOptions.audio_in_video).
    hears_video_audio: ClassVar[bool] = False
    # The attention implementation gradients through this family need (None: the loaded one serves).
    gradient_attention: ClassVar[str | None] = None
    # Where the language model's parameters are (regex on parameter and module names): SEA trains only them.
    language_model_pattern: ClassVar[str] = r".*language_model\."
    # Modalities whose forward reads mm_encoder_outputs' pooled output as one tensor rather than a per-medium tuple.
    pooled_as_tensor: ClassVar[frozenset[str]] = frozenset()
    # (pyproject extra, modules it installs) for families whose processor or model needs an optional package.
    extra: ClassVar[tuple[str, tuple[str, ...]] | None] = None

    def __init__(self, model: Any, processor: Any, options: MediaOptions | None = None) -> None:
        super().__init__(model, processor, options)
        self.modalities = self.checkpoint_modalities(model.config, processor)
        adopt_tokenizer_template(processor)

    # ---- what the checkpoint is, before weights ---------------------------------------------

    @classmethod
    def checkpoint_modalities(cls, config: Any, processor: Any) -> frozenset[MediaKind]:
        """The media kinds the processor can turn into placeholder tokens (read before weights load)."""
        return frozenset(
            kind
            for kind, part in _PARTS.items()
            if getattr(processor, part, None) is not None and placeholder_token_id(processor, kind) is not None
        )

    @classmethod
    def check_extra(cls, model_type: str) -> None:
        """A missing optional package is MissingExtra naming the extra to install."""
        if cls.extra is None:
            return
        name, modules = cls.extra
        for module in modules:
            require_extra(module, name, f"{model_type} models")

    @classmethod
    def model_class(cls, model_type: str = "") -> Any:
        if cls.transformers_class is not None:
            import transformers

            return getattr(transformers, cls.transformers_class)
        from transformers import AutoModelForImageTextToText

        # a model type no auto class maps is remote code here (adapter_class refuses it otherwise): its auto_map
        return auto_model_class(model_type) or AutoModelForImageTextToText

    @classmethod
    def load_model(cls, path: str, config: Any, trust_remote_code: bool, **from_pretrained: Any) -> Any:
        """The weights (families override to load a part of a checkpoint)."""
        model_class = cls.model_class(config.model_type)
        return model_class.from_pretrained(path, trust_remote_code=trust_remote_code, **from_pretrained)

    @classmethod
    def load(
        cls,
        path: str,
        config: Any,
        processor: Any,
        options: MediaOptions,
        trust_remote_code: bool,
        **from_pretrained: Any,
    ) -> GenericAdapter:
        """The adapter around the checkpoint's weights (config and processor were read before)."""
        model = cls.load_model(path, config, trust_remote_code, **from_pretrained)
        return cls(model.eval(), processor, options)

    # ---- media ---------------------------------------------------------------------------------

    @classmethod
    def audio_rate(cls, processor: Any) -> int | None:
        """The sampling rate the processor's audio part expects (None: it has none)."""
        rate = getattr(getattr(processor, "feature_extractor", None), "sampling_rate", None)
        return int(rate) if rate else None

    @property
    def sampling_rate(self) -> int:
        rate = self.audio_rate(self.processor)
        if rate is None:
            raise ValueError(f"{type(self).__name__}: the processor has no audio part")
        return rate

    @classmethod
    def sample_video(cls, path: Any, options: MediaOptions) -> Video:
        """Frames sampled by the project's sampler at options.fps, or the family's count spread evenly over the
        clip, resized within the options' pixel budget; with their sampling metadata."""
        o = options
        if cls.video_frames is None:
            return load_video(path, fps=o.fps, max_pixels=o.max_pixels, min_pixels=o.min_pixels)
        video = load_video(path, fps=ALL_FRAMES_FPS, max_pixels=o.max_pixels, min_pixels=o.min_pixels)
        return pick_frames(video, cls.video_frames)

    def load_media(self, media: Media) -> tuple[str, Any]:
        if media.kind == "video":
            return "videos", self.sample_video(media.path, self.options)
        if media.kind == "audio":
            return "audio", load_audio(media.path, self.sampling_rate)
        return "images", load_image(media.path)

    def processor_media(self, media: dict[str, list]) -> dict[str, Any]:
        kwargs: dict[str, Any] = dict(media)
        videos = kwargs.pop("videos", None)
        if videos:
            kwargs.update(
                videos=[v.frames for v in videos],
                video_metadata=[v.metadata() for v in videos],
                do_sample_frames=False,  # sampled already
                **self.video_kwargs,
            )
        if "audio" in kwargs:
            kwargs["sampling_rate"] = self.sampling_rate
        return kwargs

    # ---- vLLM: the same family knowledge for request building ------------------------------------

    # Whether vLLM wants each video with its sampling metadata ((frames, metadata) pairs: timestamps).
    vllm_video_metadata: ClassVar[bool] = False

    @classmethod
    def vllm_input(cls, processor: Any, request: Any) -> dict | None:
        """A whole vLLM input for families whose prompt is not chat-template text (None: the generic one)."""
        return None

    # ---- SEA hooks: the model's own encoders and mm_encoder_outputs ------------------------------
    #
    # The encoder output of a medium is one row per placeholder token: what the language model receives at that
    # token. Families whose encoder also feeds later layers (DeepStack) put those per-layer features in the same
    # row, side by side (row_width), so that they are injected, and optimised, together.

    def placeholder_ids(self) -> dict[str, int]:
        """Placeholder token id per modality this checkpoint takes, in a fixed order."""
        ids = {kind: placeholder_token_id(self.processor, kind) for kind in _PARTS if kind in self.modalities}
        return {kind: i for kind, i in ids.items() if i is not None}

    @property
    def hidden_size(self) -> int:
        """The width of the language model's token embeddings."""
        return int(self.model.get_input_embeddings().weight.shape[1])

    def row_width(self, modality: str) -> int:
        """The width of one encoder-output row of `modality` (the hidden size, times the number of layers the
        encoder feeds for DeepStack families)."""
        return self.hidden_size

    def _encoder_call(self, modality: str, inputs: Any) -> tuple[Any, dict[str, Any]]:
        """The model's get_<modality>_features and the arguments for it found in `inputs`."""
        fn = getattr(self.model, f"get_{modality}_features")
        params = inspect.signature(fn).parameters
        return fn, {k: v for k, v in inputs.items() if k in params}

    def raw_input_keys(self, modality: str, inputs: Any) -> set[str]:
        """Inputs that carry raw pixels (replaced on injection); grids and sizes stay."""
        _, kw = self._encoder_call(modality, inputs)
        return {k for k in kw if k.startswith("pixel_values")}

    def _present(self, inputs: Any) -> list[str]:
        ids = inputs["input_ids"]
        return [m for m, tok in self.placeholder_ids().items() if bool((ids == tok).any())]

    def _kinds(self, inputs: Any) -> Any:
        """Modality index (position in placeholder_ids) of each placeholder token, flattened order."""
        import torch

        ids = inputs["input_ids"]
        kinds = torch.full_like(ids, -1)
        for i, tok in enumerate(self.placeholder_ids().values()):
            kinds[ids == tok] = i
        return kinds[kinds >= 0]

    def encoder_parts(self, modality: str, output: Any) -> list[Any]:
        """The tensors of a get_<modality>_features output that reach the language model (the pooled output;
        DeepStack families add their per-layer features), each a tensor or a per-medium tuple of them."""
        return [output.pooler_output]

    def modality_features(self, modality: str, inputs: Any) -> Any:
        """One modality's encoder output after the projector, rows in placeholder order, row_width wide."""
        import torch

        fn, kw = self._encoder_call(modality, inputs)
        parts = self.encoder_parts(modality, fn(**kw, return_dict=True))
        return torch.cat([_rows(part, self.hidden_size) for part in parts], dim=-1)

    def encode_media(self, inputs: Any) -> Any:
        """Rows of every placeholder in the batch; in a batch mixing modalities of different row widths, the
        narrower rows are zero-padded on the right (inject reads each modality's own width)."""
        import torch

        kinds = self._kinds(inputs)
        present = self._present(inputs)
        features = {m: self.modality_features(m, inputs) for m in present}
        width = max((self.row_width(m) for m in present), default=self.hidden_size)
        rows = torch.zeros(len(kinds), width, dtype=self.model.dtype, device=self.model.device)
        for i, modality in enumerate(self.placeholder_ids()):
            if modality in features:
                feats = features[modality].to(rows.dtype)
                rows[kinds == i, : feats.shape[-1]] = feats
        return rows

    def encoder_output(self, modality: str, rows: Any) -> Any:
        """What the model's forward takes in mm_encoder_outputs for `rows` (one modality's, row_width wide): the
        pooled output as a one-medium tuple, or as one [1, rows, hidden] tensor for the modalities in
        pooled_as_tensor."""
        from transformers.modeling_outputs import BaseModelOutputWithPooling

        pooled = rows[None] if modality in self.pooled_as_tensor else (rows,)
        return BaseModelOutputWithPooling(pooler_output=pooled)  # type: ignore[arg-type]

    def _modality_rows(self, inputs: Any, media_embeds: Any) -> dict[str, Any]:
        """The injected rows of each modality present in the batch, each cut to that modality's row width."""
        kinds = self._kinds(inputs)
        if len(kinds) != media_embeds.shape[0]:
            raise ValueError(f"{media_embeds.shape[0]} injected rows for {len(kinds)} placeholder tokens")
        present = self._present(inputs)
        return {
            modality: media_embeds[kinds == i, : self.row_width(modality)]
            for i, modality in enumerate(self.placeholder_ids())
            if modality in present
        }

    def inject(self, inputs: Any, media_embeds: Any) -> dict[str, Any]:
        kw = dict(inputs)
        outputs = {}
        for modality, rows in self._modality_rows(inputs, media_embeds).items():
            for key in self.raw_input_keys(modality, inputs):
                kw.pop(key)
            outputs[modality] = self.encoder_output(modality, rows)
        kw["mm_encoder_outputs"] = outputs
        return kw

    def inject_embeds(self, inputs: Any, media_embeds: Any) -> dict[str, Any]:
        """Injection for families whose forward takes an encoder output only through `inputs_embeds`: the rows in
        place of the placeholder token embeddings, raw media inputs dropped; input_ids stay so that generate()
        returns them as the prompt part (the model reads inputs_embeds)."""
        import torch

        ids = inputs["input_ids"]
        placeholders = torch.isin(ids, torch.tensor(list(self.placeholder_ids().values()), device=ids.device))
        if int(placeholders.sum()) != media_embeds.shape[0]:
            raise ValueError(f"{media_embeds.shape[0]} injected rows for {int(placeholders.sum())} placeholder tokens")
        embeds = self.model.get_input_embeddings()(ids)
        embeds = embeds.masked_scatter(placeholders[..., None], media_embeds[:, : embeds.shape[-1]].to(embeds.dtype))
        return {"input_ids": ids, "inputs_embeds": embeds, "attention_mask": inputs["attention_mask"]}


def _rows(part: Any, hidden: int) -> Any:
    """A tensor or a per-medium tuple of tensors as [rows, hidden], media in order."""
    import torch

    flat = torch.cat([p.reshape(-1, hidden) for p in part]) if isinstance(part, (list, tuple)) else part
    return flat.reshape(-1, hidden)


def pick_frames(video: Video, count: int) -> Video:
    """`count` frames spread evenly over a sampled video (all of them when it has fewer)."""
    import torch

    n = len(video.indices)
    if n <= count:
        return video
    keep = torch.linspace(0, n - 1, count).round().long().tolist()
    return Video(video.frames[keep], video.total_frames, video.video_fps, [video.indices[i] for i in keep])


def embeds_with(model: Any, ids: Any, token_id: int, rows: Any) -> Any:
    """The token embeddings of `ids` with `rows` in place of the `token_id` placeholders, in order (for families
    whose forward takes an encoder output only through `inputs_embeds`)."""
    placeholders = ids == token_id
    if int(placeholders.sum()) != rows.shape[0]:
        raise ValueError(f"{rows.shape[0]} injected rows for {int(placeholders.sum())} placeholder tokens")
    embeds = model.get_input_embeddings()(ids)
    return embeds.masked_scatter(placeholders[..., None], rows.to(embeds.dtype))
