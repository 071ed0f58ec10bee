"""Tiny randomly initialised models of each supported family, built offline from code.

Why: the demo, the tests and the throughput bench need real forward passes of each
architecture without downloading weights or tokenizers. Every piece (tokenizer, processors,
chat template, config) is constructed here; weights are random but deterministic for a seed.
`save_pretrained` on the result gives a directory that `hf:PATH` loads through the normal path.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import InputError
from ..registry import Registry

# The byte-level alphabet plus each family's special tokens: small, but it tokenizes any text.
_QWEN_SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
_QWEN_VL_SPECIALS = ["<|vision_start|>", "<|vision_end|>", "<|image_pad|>", "<|video_pad|>"]
_QWEN_AUDIO_SPECIALS = ["<|audio_bos|>", "<|audio_eos|>", "<|AUDIO|>"]
_LLAVA_SPECIALS = ["<s>", "</s>", "<unk>", "<pad>", "<image>"]

QWEN2_VL_CHAT_TEMPLATE = (
    "{% set image_count = namespace(value=0) %}{% set video_count = namespace(value=0) %}"
    "{% for message in messages %}{% if loop.first and message['role'] != 'system' %}"
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
    "<|im_start|>{{ message['role'] }}\n{% if message['content'] is string %}{{ message['content'] }}<|im_end|>\n"
    "{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' %}{% set image_count.value = image_count.value + 1 %}"
    "<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif content['type'] == 'video' %}{% set video_count.value = video_count.value + 1 %}"
    "<|vision_start|><|video_pad|><|vision_end|>"
    "{% elif 'text' in content %}{{ content['text'] }}{% endif %}{% endfor %}<|im_end|>\n{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

# llava-hf/llava-1.5-*-hf: "USER: <image>\n{prompt} ASSISTANT:"
LLAVA_CHAT_TEMPLATE = (
    "{% for message in messages %}{% if message['role'] != 'system' %}{{ message['role'].upper() + ': ' }}{% endif %}"
    "{% if message['content'] is string %}{{ message['content'] + ' ' }}{% else %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'image') %}{{ '<image>\n' }}{% endfor %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}{{ content['text'] + ' ' }}"
    "{% endfor %}{% endif %}{% endfor %}{% if add_generation_prompt %}{{ 'ASSISTANT:' }}{% endif %}"
)


def byte_tokenizer(
    specials: list[str],
    eos: str,
    pad: str,
    bos: str | None = None,
    named: dict[str, str] | None = None,
    tail: tuple[str, ...] = (),
) -> Any:
    """A byte-level BPE with no merges (one token per byte) plus the family's special tokens; `named` gives
    some of them the attribute names a family's processor reads (image_token="<|IMAGE|>", ...); `tail` are
    special tokens placed after the byte alphabet (families that reserve the top of the vocabulary)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    vocab = {tok: i for i, tok in enumerate(specials)}
    vocab.update({ch: len(specials) + i for i, ch in enumerate(alphabet)})
    vocab.update({t: len(vocab) + i for i, t in enumerate(tail)})
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens(specials + list(tail))
    kwargs: dict[str, Any] = {"bos_token": bos} if bos else {}
    if named:
        kwargs["extra_special_tokens"] = named
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=eos, pad_token=pad, padding_side="left", **kwargs)


# Qwen2-VL sizes: "tiny" ~20M parameters (the default: demo, throughput bench), "mini" ~1M (unit
# tests on shared CPUs), "2b" and "7b" Qwen/Qwen2-VL-2B-Instruct's and -7B-Instruct's dimensions (GPU
# throughput runs; with RELEASED_VOCAB resized in, each has its checkpoint's parameter count).
def _qwen2_vl_shape(
    hidden: int,
    intermediate: int,
    layers: int,
    heads: int,
    kv_heads: int,
    mrope: list[int],
    vision: tuple[int, int, int],
) -> tuple[dict, dict]:
    """(text config, vision config) fields of one Qwen2-VL size; vision = (depth, embed_dim, num_heads)."""
    text = dict(
        hidden_size=hidden,
        intermediate_size=intermediate,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=kv_heads,
        mrope_section=mrope,
    )
    depth, embed_dim, num_heads = vision
    return text, dict(depth=depth, embed_dim=embed_dim, num_heads=num_heads)


QWEN2_VL_SHAPES: dict[str, tuple[dict, dict]] = {
    "tiny": _qwen2_vl_shape(384, 1664, 8, 6, 2, [8, 12, 12], (4, 128, 4)),
    "mini": _qwen2_vl_shape(128, 512, 2, 4, 2, [4, 6, 6], (2, 64, 2)),
    "2b": _qwen2_vl_shape(1536, 8960, 28, 12, 2, [16, 24, 24], (32, 1280, 16)),
    "7b": _qwen2_vl_shape(3584, 18944, 28, 28, 4, [16, 24, 24], (32, 1280, 16)),
}
RELEASED_VOCAB = {"2b": 151936, "7b": 152064}  # the released checkpoints' (padded) vocabulary sizes
RELEASED_SHAPES = frozenset(RELEASED_VOCAB)  # their processors' pixel budgets apply too


TINY_PIXELS: dict[str, Any] = dict(min_pixels=4 * 28 * 28, max_pixels=16 * 28 * 28)


def _qwen2_vl(shape: str) -> tuple[Any, Any]:
    """Qwen2-VL at one of QWEN2_VL_SHAPES (the vocabulary is always the tiny byte-level one)."""
    from transformers import (
        Qwen2VLConfig,
        Qwen2VLForConditionalGeneration,
        Qwen2VLImageProcessor,
        Qwen2VLProcessor,
        Qwen2VLVideoProcessor,
    )

    tok = byte_tokenizer(_QWEN_SPECIALS + _QWEN_VL_SPECIALS, eos="<|im_end|>", pad="<|endoftext|>")
    ids = tok.convert_tokens_to_ids
    text, vision = (dict(d) for d in QWEN2_VL_SHAPES[shape])
    mrope = text.pop("mrope_section")
    config = Qwen2VLConfig(
        text_config=dict(
            vocab_size=len(tok),
            rms_norm_eps=1e-6,
            max_position_embeddings=32768,
            rope_parameters={"rope_type": "default", "rope_theta": 1000000.0, "mrope_section": mrope},
            bos_token_id=ids("<|endoftext|>"),
            eos_token_id=ids("<|im_end|>"),
            pad_token_id=ids("<|endoftext|>"),
            **text,
        ),
        vision_config=dict(
            hidden_size=text["hidden_size"],
            mlp_ratio=4,
            patch_size=14,
            spatial_merge_size=2,
            temporal_patch_size=2,
            in_channels=3,
            **vision,
        ),
        image_token_id=ids("<|image_pad|>"),
        video_token_id=ids("<|video_pad|>"),
        vision_start_token_id=ids("<|vision_start|>"),
        vision_end_token_id=ids("<|vision_end|>"),
        tie_word_embeddings=shape == "2b",
    )
    # Small pixel budgets keep the tiny shapes fast; released shapes take the released processors' budgets.
    released = shape in RELEASED_SHAPES
    image_px = dict(min_pixels=56 * 56, max_pixels=1280 * 28 * 28) if released else TINY_PIXELS
    video_px = dict(min_pixels=128 * 28 * 28, max_pixels=768 * 28 * 28) if released else TINY_PIXELS
    processor = Qwen2VLProcessor(
        image_processor=Qwen2VLImageProcessor(**image_px),
        tokenizer=tok,
        video_processor=Qwen2VLVideoProcessor(**video_px),
        chat_template=QWEN2_VL_CHAT_TEMPLATE,
    )
    return Qwen2VLForConditionalGeneration(config), processor


# Qwen2-Audio sizes: (Whisper-style encoder, Qwen language model). "7b": Qwen/Qwen2-Audio-7B-Instruct's dimensions
# (Whisper-large-v3 encoder, Qwen-7B), for GPU throughput runs (bench/vllm_full_gpu.py).
QWEN2_AUDIO_SHAPES: dict[str, tuple[dict, dict]] = {
    "tiny": (
        dict(encoder_layers=2, encoder_attention_heads=2, encoder_ffn_dim=256, d_model=64),
        dict(hidden_size=128, intermediate_size=512, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2),
    ),
    "7b": (
        dict(encoder_layers=32, encoder_attention_heads=20, encoder_ffn_dim=5120, d_model=1280),
        dict(
            hidden_size=4096,
            intermediate_size=11008,
            num_hidden_layers=32,
            num_attention_heads=32,
            num_key_value_heads=32,
        ),
    ),
}
RELEASED_AUDIO_VOCAB = 156032  # Qwen2-Audio-7B-Instruct's vocabulary size


def _qwen2_audio(shape: str) -> tuple[Any, Any]:
    """Qwen2-Audio with a 2-layer Whisper-style encoder over 30 s windows of 128-bin log-mel features: the released
    processor's window (Qwen/Qwen2-Audio-7B-Instruct), the only one vLLM's Qwen2-Audio takes."""
    from transformers import (
        Qwen2AudioConfig,
        Qwen2AudioForConditionalGeneration,
        Qwen2AudioProcessor,
        WhisperFeatureExtractor,
    )

    tok = byte_tokenizer(_QWEN_SPECIALS + _QWEN_AUDIO_SPECIALS, eos="<|im_end|>", pad="<|endoftext|>")
    ids = tok.convert_tokens_to_ids
    chunk_seconds = 30
    audio, text = QWEN2_AUDIO_SHAPES[shape]
    config = Qwen2AudioConfig(
        audio_config=dict(num_mel_bins=128, max_source_positions=chunk_seconds * 50, **audio),
        text_config=dict(
            model_type="qwen2",
            vocab_size=len(tok),
            **text,
            bos_token_id=ids("<|endoftext|>"),
            eos_token_id=ids("<|im_end|>"),
            pad_token_id=ids("<|endoftext|>"),
        ),
        audio_token_index=ids("<|AUDIO|>"),
    )
    features = WhisperFeatureExtractor(
        feature_size=128, sampling_rate=16000, hop_length=160, chunk_length=chunk_seconds, n_fft=400, padding_value=0.0
    )
    processor = Qwen2AudioProcessor(feature_extractor=features, tokenizer=tok)
    return Qwen2AudioForConditionalGeneration(config), processor


def _llava(shape: str) -> tuple[Any, Any]:
    """LLaVA-1.5 layout: CLIP vision tower (penultimate layer, CLS dropped), MLP projector, Llama."""
    from transformers import CLIPImageProcessor, LlavaConfig, LlavaForConditionalGeneration, LlavaProcessor

    tok = byte_tokenizer(_LLAVA_SPECIALS, eos="</s>", pad="<pad>", bos="<s>")
    ids = tok.convert_tokens_to_ids
    image_size, patch = 56, 14
    config = LlavaConfig(
        vision_config=dict(
            model_type="clip_vision_model",
            hidden_size=64,
            intermediate_size=128,
            num_hidden_layers=2,
            num_attention_heads=2,
            image_size=image_size,
            patch_size=patch,
            projection_dim=64,
        ),
        text_config=dict(
            model_type="llama",
            vocab_size=len(tok),
            hidden_size=128,
            intermediate_size=512,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=4,
            bos_token_id=ids("<s>"),
            eos_token_id=ids("</s>"),
            pad_token_id=ids("<pad>"),
        ),
        image_token_index=ids("<image>"),  # the config's field; image_token_id is its alias
        vision_feature_layer=-2,
        vision_feature_select_strategy="default",
        projector_hidden_act="gelu",
        image_seq_length=(image_size // patch) ** 2,
    )
    images = CLIPImageProcessor(
        size={"shortest_edge": image_size}, crop_size={"height": image_size, "width": image_size}
    )
    processor = LlavaProcessor(
        image_processor=images,
        tokenizer=tok,
        patch_size=patch,
        vision_feature_select_strategy="default",
        num_additional_image_tokens=1,
        chat_template=LLAVA_CHAT_TEMPLATE,
    )
    return LlavaForConditionalGeneration(config), processor


# Shaped like the released Qwen2.5-Omni / Qwen3-Omni template: a default system turn, one placeholder
# triple per medium recognised by its `type`, the text parts, then the assistant turn.
QWEN_OMNI_CHAT_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and message['role'] != 'system' %}"
    "<|im_start|>system\nYou are Qwen, a virtual human developed by the Qwen Team, Alibaba Group, capable of "
    "perceiving auditory and visual inputs, as well as generating text and speech.<|im_end|>\n{% endif %}"
    "<|im_start|>{{ message['role'] }}\n{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' %}<|vision_bos|><|IMAGE|><|vision_eos|>"
    "{% elif content['type'] == 'video' %}<|vision_bos|><|VIDEO|><|vision_eos|>"
    "{% elif content['type'] == 'audio' %}<|audio_bos|><|AUDIO|><|audio_eos|>"
    "{% elif content['type'] == 'text' %}{{ content['text'] }}{% endif %}{% endfor %}{% endif %}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
_OMNI_TOKENS = {
    "image_token": "<|IMAGE|>",
    "video_token": "<|VIDEO|>",
    "audio_token": "<|AUDIO|>",
    "vision_bos_token": "<|vision_bos|>",
    "vision_eos_token": "<|vision_eos|>",
    "audio_bos_token": "<|audio_bos|>",
    "audio_eos_token": "<|audio_eos|>",
}


def _omni_parts() -> tuple[Any, dict]:
    tok = byte_tokenizer(
        _QWEN_SPECIALS + list(_OMNI_TOKENS.values()), eos="<|im_end|>", pad="<|endoftext|>", named=_OMNI_TOKENS
    )
    ids = tok.convert_tokens_to_ids
    tokens = dict(
        audio_token_id=ids("<|AUDIO|>"),
        image_token_id=ids("<|IMAGE|>"),
        video_token_id=ids("<|VIDEO|>"),
        audio_start_token_id=ids("<|audio_bos|>"),
        audio_end_token_id=ids("<|audio_eos|>"),
        vision_start_token_id=ids("<|vision_bos|>"),
        vision_end_token_id=ids("<|vision_eos|>"),
    )
    return tok, tokens


def qwen2_5_omni_thinker(shape: str) -> tuple[Any, Any]:
    """Qwen2.5-Omni's thinker: window-attention ViT, Whisper-style audio tower, Qwen2 with TMRoPE."""
    from transformers import (
        Qwen2_5OmniProcessor,
        Qwen2_5OmniThinkerConfig,
        Qwen2_5OmniThinkerForConditionalGeneration,
        Qwen2VLImageProcessor,
        Qwen2VLVideoProcessor,
        WhisperFeatureExtractor,
    )

    tok, tokens = _omni_parts()
    config = Qwen2_5OmniThinkerConfig(
        audio_config=dict(
            num_mel_bins=128, encoder_layers=1, encoder_attention_heads=2, encoder_ffn_dim=64, d_model=32, output_dim=64
        ),
        vision_config=dict(
            depth=1, hidden_size=32, intermediate_size=64, num_heads=2, out_hidden_size=64, fullatt_block_indexes=[0]
        ),
        text_config=dict(
            vocab_size=len(tok),
            rope_parameters={"rope_type": "default", "rope_theta": 1e6, "mrope_section": [4, 6, 6]},
            eos_token_id=tok.eos_token_id,
            pad_token_id=tok.pad_token_id,
            hidden_size=64,
            intermediate_size=128,
            num_hidden_layers=1,
            num_attention_heads=2,
            num_key_value_heads=1,
        ),
        audio_token_index=tokens.pop("audio_token_id"),
        image_token_index=tokens.pop("image_token_id"),
        video_token_index=tokens.pop("video_token_id"),
        **tokens,
    )
    processor = Qwen2_5OmniProcessor(
        image_processor=Qwen2VLImageProcessor(**TINY_PIXELS),
        video_processor=Qwen2VLVideoProcessor(**TINY_PIXELS),
        feature_extractor=WhisperFeatureExtractor(feature_size=128),
        tokenizer=tok,
        chat_template=QWEN_OMNI_CHAT_TEMPLATE,
    )
    return Qwen2_5OmniThinkerForConditionalGeneration(config), processor


@dataclass(frozen=True)
class TinySpec:
    build: Callable[[str], tuple[Any, Any]]
    modalities: frozenset
    shapes: tuple[str, ...] = ("tiny",)


TINY_MODELS: Registry[TinySpec] = Registry(
    "tiny model",
    {
        "qwen2-vl": TinySpec(_qwen2_vl, frozenset({"image", "video"}), tuple(QWEN2_VL_SHAPES)),
        "qwen2-audio": TinySpec(_qwen2_audio, frozenset({"audio"}), tuple(QWEN2_AUDIO_SHAPES)),
        "llava": TinySpec(_llava, frozenset({"image"})),
        "qwen2.5-omni": TinySpec(qwen2_5_omni_thinker, frozenset({"image", "video", "audio"})),
    },
)


def build_tiny(name: str, seed: int = 0, shape: str = "tiny", device: str | None = None) -> tuple[Any, Any]:
    """(model, processor) for a tiny family, weights drawn from `seed`; model in eval mode, float32.

    The weights are made on `device` (default cpu), so a 7B-shaped model never passes through host memory;
    the same seed gives the same weights on the same kind of device."""
    import torch

    spec = TINY_MODELS.get(name)
    if shape not in spec.shapes:
        raise InputError(f"tiny:{name} has no shape {shape!r}; valid shapes: {', '.join(spec.shapes)}")
    torch.manual_seed(seed)
    with torch.device(device or "cpu"):
        model, processor = spec.build(shape)
    return model.eval(), processor


def save_tiny(name: str, path: str, seed: int = 0, shape: str = "tiny") -> None:
    """Write a tiny model as a normal checkpoint (`hf:PATH` loads it), marked as random weights."""
    from pathlib import Path

    from ..fileio import write_json
    from .base import CHECKPOINT_METADATA, METADATA_FILE

    model, processor = build_tiny(name, seed=seed, shape=shape)
    model.save_pretrained(path)
    processor.save_pretrained(path)
    meta = {"random_weights": True, "tiny": {"name": name, "seed": seed, "shape": shape}}
    write_json(Path(path) / METADATA_FILE, CHECKPOINT_METADATA, meta)


def tiny_backend(
    name: str,
    seed: int = 0,
    batch_size: int = 8,
    max_pixels: int | None = None,
    min_pixels: int | None = None,
    fps: float | None = None,
    shape: str = "tiny",
    device: str | None = None,
) -> Any:
    """`tiny:NAME` as a ModelBackend (an HFBackend around the in-memory model), random_weights=True."""
    from .adapters import MediaOptions, adapter_class
    from .base import ModelInfo
    from .hf import HFBackend, media_options

    model, processor = build_tiny(name, seed=seed, shape=shape, device=device)
    # The tiny processors cap images and frames at 16 patches of 28x28: sample frames at that size
    # directly. Released shapes keep the official video settings (MediaOptions' defaults).
    default = MediaOptions() if shape in RELEASED_SHAPES else MediaOptions(**TINY_PIXELS)
    options = media_options(max_pixels, min_pixels, fps, default)
    adapter = adapter_class(model.config.model_type)(model, processor, options)
    info = ModelInfo(
        "tiny", name, TINY_MODELS.get(name).modalities, random_weights=True, metadata={"seed": seed, "shape": shape}
    )
    return HFBackend.from_adapter(adapter, info, batch_size)
