"""Tiny random checkpoints of today's video/audio model families, from each family's own transformers classes.

Each builder makes (model, processor) from the family's config, processor parts and a chat template shaped
like the released one, with an offline byte-level tokenizer carrying the family's special tokens. Sizes
are as small as the architectures allow (hidden 32-64, one or two layers) so that the whole set is built,
saved and loaded back in seconds. `family_dirs` (session fixture) saves each once with save_pretrained.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from va_safetybench.models.tiny import byte_tokenizer, qwen2_5_omni_thinker

QWEN_SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
TINY_TEXT = dict(
    hidden_size=64, intermediate_size=128, num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=1
)


def qwen2_5_omni_released() -> tuple[Any, Any]:
    """The released layout: a `qwen2_5_omni` config holding the thinker, its weights under `thinker.`."""
    from transformers import Qwen2_5OmniConfig, Qwen2_5OmniForConditionalGeneration

    thinker, processor = qwen2_5_omni_thinker("tiny")
    config = Qwen2_5OmniConfig(thinker_config=thinker.config.to_dict(), enable_audio_output=False)
    model = Qwen2_5OmniForConditionalGeneration(config)
    model.thinker.load_state_dict(thinker.state_dict())
    return model, processor


# Qwen3-VL's vision tower (also Qwen3-Omni's): 16-pixel patches, DeepStack features from its first block.
QWEN3_VISION = dict(
    depth=2,
    hidden_size=32,
    intermediate_size=64,
    num_heads=2,
    out_hidden_size=64,
    num_position_embeddings=64,
    deepstack_visual_indexes=[0],
)
QWEN3_PIXELS = {"shortest_edge": 4 * 32 * 32, "longest_edge": 16 * 32 * 32}


def _qwen3_text(tok: Any, **extra: Any) -> dict:
    """Qwen3's text model (dense, or MoE with `extra`) with interleaved M-RoPE."""
    rope = {"rope_type": "default", "rope_theta": 5e6, "mrope_section": [4, 6, 6], "mrope_interleaved": True}
    return dict(
        vocab_size=len(tok),
        head_dim=32,
        rope_parameters=rope,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
        **TINY_TEXT,
        **extra,
    )


# Qwen3-VL-*-Instruct: no default system turn; Qwen2-VL's placeholder triples.
QWEN3_VL_CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif content['type'] == 'video' %}<|vision_start|><|video_pad|><|vision_end|>"
    "{% elif content['type'] == 'text' %}{{ content['text'] }}{% endif %}{% endfor %}{% endif %}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def qwen3_vl() -> tuple[Any, Any]:
    """Qwen3-VL: 16-pixel patches, DeepStack features, interleaved M-RoPE, timestamps between video frames."""
    from transformers import (
        Qwen2VLImageProcessor,
        Qwen3VLConfig,
        Qwen3VLForConditionalGeneration,
        Qwen3VLProcessor,
        Qwen3VLVideoProcessor,
    )

    specials = QWEN_SPECIALS + ["<|vision_start|>", "<|vision_end|>", "<|image_pad|>", "<|video_pad|>"]
    tok = byte_tokenizer(specials, eos="<|im_end|>", pad="<|endoftext|>")
    ids = tok.convert_tokens_to_ids
    config = Qwen3VLConfig(
        text_config=_qwen3_text(tok),
        vision_config=QWEN3_VISION,
        image_token_id=ids("<|image_pad|>"),
        video_token_id=ids("<|video_pad|>"),
        vision_start_token_id=ids("<|vision_start|>"),
        vision_end_token_id=ids("<|vision_end|>"),
    )
    processor = Qwen3VLProcessor(
        image_processor=Qwen2VLImageProcessor(size=QWEN3_PIXELS, patch_size=16),
        video_processor=Qwen3VLVideoProcessor(size=QWEN3_PIXELS),
        tokenizer=tok,
        chat_template=QWEN3_VL_CHAT_TEMPLATE,
    )
    return Qwen3VLForConditionalGeneration(config), processor


# llava-hf/llava-onevision-qwen2-*-ov-hf: Qwen turns, images then videos then "\n" + text.
LLAVA_ONEVISION_CHAT_TEMPLATE = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + ' ' }}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'image') %}{{ '<image>' }}{% endfor %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'video') %}{{ '<video>' }}{% endfor %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}{{ '\n' + content['text'] }}"
    "{% endfor %}{{ '<|im_end|>\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
# llava-hf/LLaVA-NeXT-Video-*-hf: Vicuna's "USER: <video>\n{text} ASSISTANT:".
LLAVA_NEXT_VIDEO_CHAT_TEMPLATE = (
    "{% for message in messages %}{% if message['role'] != 'system' %}{{ message['role'].upper() + ': ' }}{% endif %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'image') %}{{ '<image>\n' }}{% endfor %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'video') %}{{ '<video>\n' }}{% endfor %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}{{ content['text'] + ' ' }}"
    "{% endfor %}{% endfor %}{% if add_generation_prompt %}{{ 'ASSISTANT:' }}{% endif %}"
)
_VISION_TOWER = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2, patch_size=14)


def llava_onevision() -> tuple[Any, Any]:
    """LLaVA-OneVision: SigLIP tower, anyres image tiles, pooled video frames, Qwen2."""
    from transformers import (
        LlavaOnevisionConfig,
        LlavaOnevisionForConditionalGeneration,
        LlavaOnevisionImageProcessor,
        LlavaOnevisionProcessor,
        LlavaOnevisionVideoProcessor,
    )

    tok = byte_tokenizer(QWEN_SPECIALS + ["<image>", "<video>"], eos="<|im_end|>", pad="<|endoftext|>")
    ids = tok.convert_tokens_to_ids
    size = 28
    config = LlavaOnevisionConfig(
        vision_config=dict(model_type="siglip_vision_model", image_size=size, **_VISION_TOWER),
        text_config=dict(model_type="qwen2", vocab_size=len(tok), eos_token_id=tok.eos_token_id, **TINY_TEXT),
        image_token_index=ids("<image>"),
        video_token_index=ids("<video>"),
        image_grid_pinpoints=[[size, size], [size, 2 * size], [2 * size, size]],
        vision_aspect_ratio="anyres_max_9",
    )
    processor = LlavaOnevisionProcessor(
        image_processor=LlavaOnevisionImageProcessor(
            size={"height": size, "width": size}, image_grid_pinpoints=list(config.image_grid_pinpoints or [])
        ),
        video_processor=LlavaOnevisionVideoProcessor(size={"height": size, "width": size}),
        tokenizer=tok,
        num_image_tokens=(size // 14) ** 2,
        vision_feature_select_strategy="full",
        chat_template=LLAVA_ONEVISION_CHAT_TEMPLATE,
    )
    return LlavaOnevisionForConditionalGeneration(config), processor


def llava_next_video() -> tuple[Any, Any]:
    """LLaVA-NeXT-Video: CLIP tower, anyres images, frames pooled 2x2, Llama."""
    from transformers import (
        LlavaNextImageProcessor,
        LlavaNextVideoConfig,
        LlavaNextVideoForConditionalGeneration,
        LlavaNextVideoProcessor,
        LlavaNextVideoVideoProcessor,
    )

    tok = byte_tokenizer(["<s>", "</s>", "<unk>", "<pad>", "<image>", "<video>"], eos="</s>", pad="<pad>", bos="<s>")
    ids = tok.convert_tokens_to_ids
    size = 56
    config = LlavaNextVideoConfig(
        vision_config=dict(model_type="clip_vision_model", image_size=size, projection_dim=32, **_VISION_TOWER),
        text_config=dict(model_type="llama", vocab_size=len(tok), eos_token_id=tok.eos_token_id, **TINY_TEXT),
        image_token_index=ids("<image>"),
        video_token_index=ids("<video>"),
        image_grid_pinpoints=[[size, size]],
        image_seq_length=(size // 14) ** 2,
        video_seq_length=(size // 28) ** 2,
    )
    crop = {"height": size, "width": size}
    processor = LlavaNextVideoProcessor(
        video_processor=LlavaNextVideoVideoProcessor(size={"shortest_edge": size}, crop_size=crop),
        image_processor=LlavaNextImageProcessor(
            size={"shortest_edge": size}, crop_size=crop, image_grid_pinpoints=list(config.image_grid_pinpoints or [])
        ),
        tokenizer=tok,
        patch_size=14,
        vision_feature_select_strategy="default",
        num_additional_image_tokens=1,
        chat_template=LLAVA_NEXT_VIDEO_CHAT_TEMPLATE,
    )
    return LlavaNextVideoForConditionalGeneration(config), processor


# OpenGVLab/InternVL3-*-hf: Qwen turns with a default system prompt, "<IMG_CONTEXT>\n" / "<video>\n" before the text.
INTERNVL_CHAT_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and message['role'] != 'system' %}"
    "<|im_start|>system\n你是书生·万象，英文名是InternVL。<|im_end|>\n{% endif %}"
    "<|im_start|>{{ message['role'] }}\n{% for content in message['content'] %}"
    "{% if content['type'] == 'image' %}{{ '<IMG_CONTEXT>\n' }}{% elif content['type'] == 'video' %}{{ '<video>\n' }}"
    "{% elif content['type'] == 'text' %}{{ content['text'] }}{% endif %}{% endfor %}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
_INTERNVL_TOKENS = {
    "start_image_token": "<img>",
    "end_image_token": "</img>",
    "context_image_token": "<IMG_CONTEXT>",
    "video_token": "<video>",
}


def internvl() -> tuple[Any, Any]:
    """InternVL3: InternViT with pixel shuffle, MLP projector, Qwen2; a video is its frames as image tiles."""
    from transformers import (
        GotOcr2ImageProcessor,
        InternVLConfig,
        InternVLForConditionalGeneration,
        InternVLProcessor,
        InternVLVideoProcessor,
    )

    tok = byte_tokenizer(
        QWEN_SPECIALS + list(_INTERNVL_TOKENS.values()), eos="<|im_end|>", pad="<|endoftext|>", named=_INTERNVL_TOKENS
    )
    size = 28
    config = InternVLConfig(
        vision_config=dict(
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=1,
            num_attention_heads=2,
            image_size=[size, size],
            patch_size=[14, 14],
        ),
        text_config=dict(model_type="qwen2", vocab_size=len(tok), eos_token_id=tok.eos_token_id, **TINY_TEXT),
        image_token_id=tok.convert_tokens_to_ids("<IMG_CONTEXT>"),
        image_seq_length=1,
        downsample_ratio=0.5,
    )
    crop = {"height": size, "width": size}
    processor = InternVLProcessor(
        image_processor=GotOcr2ImageProcessor(size=crop, crop_to_patches=True, max_patches=2),
        video_processor=InternVLVideoProcessor(size=crop),
        tokenizer=tok,
        image_seq_length=1,
        chat_template=INTERNVL_CHAT_TEMPLATE,
    )
    return InternVLForConditionalGeneration(config), processor


# google/gemma-3n-E*-it: <start_of_turn> turns, one soft token per medium (the processor expands it), text trimmed.
GEMMA3N_CHAT_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}<start_of_turn>{{ 'model' if message['role'] == 'assistant' "
    "else message['role'] }}\n{% for item in message['content'] %}{% if item['type'] == 'audio' %}<audio_soft_token>"
    "{% elif item['type'] == 'image' %}<image_soft_token>{% elif item['type'] == 'text' %}{{ item['text'] | trim }}"
    "{% endif %}{% endfor %}<end_of_turn>\n{% endfor %}{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}"
)
_GEMMA3N_TOKENS = {
    "image_token": "<image_soft_token>",
    "boi_token": "<start_of_image>",
    "eoi_token": "<end_of_image>",
    "audio_token": "<audio_soft_token>",
    "boa_token": "<start_of_audio>",
    "eoa_token": "<end_of_audio>",
}


def gemma3n() -> tuple[Any, Any]:
    """Gemma 3n: a timm vision tower, a USM-style conformer audio tower, the AltUp/LAuReL text model; vision and
    audio tokens live above the text vocabulary, as in the released tokenizer."""
    from transformers import (
        Gemma3nAudioFeatureExtractor,
        Gemma3nConfig,
        Gemma3nForConditionalGeneration,
        Gemma3nProcessor,
        SiglipImageProcessor,
    )

    text = ["<pad>", "<eos>", "<bos>", "<start_of_turn>", "<end_of_turn>", "<start_of_image>", "<start_of_audio>"]
    vision = ("<end_of_image>", "<image_soft_token>", "<vision_2>", "<vision_3>")
    audio = ("<end_of_audio>", "<audio_soft_token>", "<audio_2>", "<audio_3>")
    tok = byte_tokenizer(
        text, eos="<end_of_turn>", pad="<pad>", bos="<bos>", named=_GEMMA3N_TOKENS, tail=vision + audio
    )
    ids = tok.convert_tokens_to_ids
    n_text = len(tok) - len(vision) - len(audio)
    layers = 2
    config = Gemma3nConfig(
        text_config=dict(
            vocab_size=len(tok),
            vocab_size_per_layer_input=n_text,
            hidden_size=64,
            intermediate_size=128,
            num_hidden_layers=layers,
            num_attention_heads=2,
            num_key_value_heads=1,
            head_dim=32,
            hidden_size_per_layer_input=8,
            altup_num_inputs=2,
            laurel_rank=8,
            num_kv_shared_layers=0,
            layer_types=["sliding_attention", "full_attention"],
            activation_sparsity_pattern=[0.0] * layers,
            sliding_window=64,
            pad_token_id=tok.pad_token_id,
            eos_token_id=tok.eos_token_id,
            bos_token_id=tok.bos_token_id,
        ),
        vision_config=dict(
            architecture="test_efficientnet", hidden_size=256, vocab_size=len(vision), vocab_offset=n_text
        ),
        audio_config=dict(
            vocab_size=len(audio),
            vocab_offset=n_text + len(vision),
            hidden_size=32,
            conf_num_attention_heads=2,
            conf_num_hidden_layers=1,
            sscp_conv_channel_size=[8, 8],
        ),
        vision_soft_tokens_per_image=4,
        audio_soft_tokens_per_image=16,
        boi_token_id=ids("<start_of_image>"),
        eoi_token_id=ids("<end_of_image>"),
        image_token_id=ids("<image_soft_token>"),
        boa_token_id=ids("<start_of_audio>"),
        eoa_token_id=ids("<end_of_audio>"),
        audio_token_id=ids("<audio_soft_token>"),
    )
    processor = Gemma3nProcessor(
        feature_extractor=Gemma3nAudioFeatureExtractor(),
        image_processor=SiglipImageProcessor(size={"height": 64, "width": 64}),
        tokenizer=tok,
        audio_seq_length=16,
        image_seq_length=4,
        chat_template=GEMMA3N_CHAT_TEMPLATE,
    )
    return Gemma3nForConditionalGeneration(config), processor


# Qwen/Qwen3-Omni-*-Instruct: Qwen turns, <|vision_start|>/<|audio_start|> triples, no default system turn.
QWEN3_OMNI_CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif content['type'] == 'video' %}<|vision_start|><|video_pad|><|vision_end|>"
    "{% elif content['type'] == 'audio' %}<|audio_start|><|audio_pad|><|audio_end|>"
    "{% elif content['type'] == 'text' %}{{ content['text'] }}{% endif %}{% endfor %}{% endif %}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
_QWEN3_OMNI_TOKENS = {
    "image_token": "<|image_pad|>",
    "video_token": "<|video_pad|>",
    "audio_token": "<|audio_pad|>",
    "vision_bos_token": "<|vision_start|>",
    "vision_eos_token": "<|vision_end|>",
    "audio_bos_token": "<|audio_start|>",
    "audio_eos_token": "<|audio_end|>",
}


def qwen3_omni_thinker() -> tuple[Any, Any]:
    """Qwen3-Omni's thinker: AuT audio encoder, Qwen3-VL's vision tower, a mixture-of-experts Qwen3."""
    from transformers import (
        Qwen2VLImageProcessor,
        Qwen3OmniMoeProcessor,
        Qwen3OmniMoeThinkerConfig,
        Qwen3OmniMoeThinkerForConditionalGeneration,
        Qwen3VLVideoProcessor,
        WhisperFeatureExtractor,
    )

    tokens = _QWEN3_OMNI_TOKENS
    tok = byte_tokenizer(QWEN_SPECIALS + list(tokens.values()), eos="<|im_end|>", pad="<|endoftext|>", named=tokens)
    ids = tok.convert_tokens_to_ids
    config = Qwen3OmniMoeThinkerConfig(
        audio_config=dict(
            num_mel_bins=128,
            encoder_layers=1,
            encoder_attention_heads=2,
            encoder_ffn_dim=64,
            d_model=32,
            output_dim=64,
            downsample_hidden_size=8,
        ),
        vision_config=QWEN3_VISION,
        text_config=_qwen3_text(tok, moe_intermediate_size=32, num_experts=2, num_experts_per_tok=1),
        audio_token_id=ids("<|audio_pad|>"),
        image_token_id=ids("<|image_pad|>"),
        video_token_id=ids("<|video_pad|>"),
        audio_start_token_id=ids("<|audio_start|>"),
        vision_start_token_id=ids("<|vision_start|>"),  # type: ignore[call-arg]  # an extra key, as in the release
    )
    processor = Qwen3OmniMoeProcessor(
        image_processor=Qwen2VLImageProcessor(size=QWEN3_PIXELS, patch_size=16),
        video_processor=Qwen3VLVideoProcessor(size=QWEN3_PIXELS),
        feature_extractor=WhisperFeatureExtractor(feature_size=128),
        tokenizer=tok,
        chat_template=QWEN3_OMNI_CHAT_TEMPLATE,
    )
    return Qwen3OmniMoeThinkerForConditionalGeneration(config), processor


def qwen3_omni_released() -> tuple[Any, Any]:
    """The released `qwen3_omni_moe` layout, the thinker's weights under `thinker.`."""
    from transformers import Qwen3OmniMoeConfig, Qwen3OmniMoeForConditionalGeneration

    thinker, processor = qwen3_omni_thinker()
    config = Qwen3OmniMoeConfig(thinker_config=thinker.config.to_dict(), enable_audio_output=False)
    model = Qwen3OmniMoeForConditionalGeneration(config)
    model.thinker.load_state_dict(thinker.state_dict())
    return model, processor


def _tekken_file(folder: Path) -> Path:
    """A mistral-common Tekken tokenizer file: one token per byte, the v7 control tokens ([AUDIO] at 24, as
    VoxtralProcessor expects), audio at 12.5 frames per second in 30 s chunks, like Voxtral's released one."""
    import base64
    import json

    from mistral_common.tokens.tokenizers.tekken import Tekkenizer

    names = {t["rank"]: str(t["token_str"]) for t in Tekkenizer.DEPRECATED_SPECIAL_TOKENS}
    names.update({20: "[ARGS]", 21: "[CALL_ID]", 24: "[AUDIO]", 25: "[BEGIN_AUDIO]", 34: "[TRANSCRIBE]"})
    n_special = 40
    tekken = {
        "config": {
            "pattern": r"\S+|\s+",
            "num_vocab_tokens": 256,
            "default_vocab_size": 256 + n_special,
            "default_num_special_tokens": n_special,
            "version": "v7",
        },
        "vocab": [
            {"rank": i, "token_bytes": base64.b64encode(bytes([i])).decode(), "token_str": None} for i in range(256)
        ],
        "special_tokens": [
            {"rank": i, "token_str": names.get(i, f"<SPECIAL_{i}>"), "is_control": True} for i in range(n_special)
        ],
        "audio": {
            "sampling_rate": 16000,
            "frame_rate": 12.5,
            "audio_encoding_config": {"num_mel_bins": 128, "hop_length": 160, "window_size": 400},
            "chunk_length_s": 30.0,
        },
    }
    path = folder / "tekken.json"
    path.write_text(json.dumps(tekken))
    return path


def voxtral() -> tuple[Any, Any]:
    """Voxtral: Whisper-style encoder over 30 s windows, 4-frame projector, Llama-style LM, Tekken tokenizer."""
    import tempfile

    from transformers import VoxtralConfig, VoxtralForConditionalGeneration, VoxtralProcessor, WhisperFeatureExtractor
    from transformers.tokenization_mistral_common import MistralCommonBackend

    folder = Path(tempfile.mkdtemp(prefix="tekken-"))  # read again by save_pretrained, which copies it
    tok = MistralCommonBackend(tokenizer_path=_tekken_file(folder))
    config = VoxtralConfig(
        audio_config=dict(hidden_size=32, intermediate_size=128, num_hidden_layers=1, num_attention_heads=2),
        text_config=dict(model_type="llama", vocab_size=len(tok), head_dim=32, **TINY_TEXT),
        audio_token_id=24,
    )
    processor = VoxtralProcessor(feature_extractor=WhisperFeatureExtractor(feature_size=128), tokenizer=tok)
    return VoxtralForConditionalGeneration(config), processor


# microsoft/Phi-4-multimodal-instruct (transformers-native revision): <|role|> turns closed by <|end|>.
PHI4_MM_CHAT_TEMPLATE = (
    "{% for message in messages %}{{ '<|' + message['role'] + '|>' }}{% if message['content'] is string %}"
    "{{ message['content'] }}{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' %}{{ '<|image|>' }}{% elif content['type'] == 'audio' %}{{ '<|audio|>' }}"
    "{% elif content['type'] == 'text' %}{{ content['text'] }}{% endif %}{% endfor %}{% endif %}{{ '<|end|>' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>' }}{% endif %}"
)


def phi4_multimodal() -> tuple[Any, Any]:
    """Phi-4-multimodal: SigLIP-style tower over dynamic-HD crops, a conformer audio encoder, Phi-3 LM."""
    from transformers import (
        Phi4MultimodalConfig,
        Phi4MultimodalFeatureExtractor,
        Phi4MultimodalForCausalLM,
        Phi4MultimodalImageProcessor,
        Phi4MultimodalProcessor,
    )

    named = {"image_token": "<|image|>", "audio_token": "<|audio|>"}
    specials = ["<|endoftext|>", "<|user|>", "<|assistant|>", "<|end|>", *named.values()]
    tok = byte_tokenizer(specials, eos="<|end|>", pad="<|endoftext|>", named=named)
    ids = tok.convert_tokens_to_ids
    size = 448  # the processor counts 256 tokens per 448-pixel crop
    config = Phi4MultimodalConfig(
        vocab_size=len(tok),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        bos_token_id=ids("<|endoftext|>"),
        eos_token_id=ids("<|end|>"),
        pad_token_id=ids("<|endoftext|>"),
        vision_config=dict(
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=2,
            image_size=size,
            crop_size=size,
            patch_size=14,
            image_token_id=ids("<|image|>"),
        ),
        audio_config=dict(
            hidden_size=32,
            intermediate_size=64,
            num_blocks=1,
            num_attention_heads=2,
            ext_pw_out_channel=32,
            depthwise_separable_out_channel=32,
            nemo_conv_channels=32,
            audio_token_id=ids("<|audio|>"),
        ),
    )
    tok.chat_template = PHI4_MM_CHAT_TEMPLATE  # the processor saves none of its own; the released one is here
    processor = Phi4MultimodalProcessor(
        image_processor=Phi4MultimodalImageProcessor(size={"height": size, "width": size}, dynamic_hd=1),
        audio_processor=Phi4MultimodalFeatureExtractor(),
        tokenizer=tok,
    )
    return Phi4MultimodalForCausalLM(config), processor


BUILDERS: dict[str, Callable[[], tuple[Any, Any]]] = {
    "qwen2_5_omni_thinker": lambda: qwen2_5_omni_thinker("tiny"),
    "qwen2_5_omni": qwen2_5_omni_released,
    "qwen3_vl": qwen3_vl,
    "llava_onevision": llava_onevision,
    "llava_next_video": llava_next_video,
    "internvl": internvl,
    "gemma3n": gemma3n,
    "qwen3_omni_moe_thinker": qwen3_omni_thinker,
    "qwen3_omni_moe": qwen3_omni_released,
    "voxtral": voxtral,
    "phi4_multimodal": phi4_multimodal,
}


QWEN2_TEXT_CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def save_text_lm(path: Path, seed: int = 0) -> Path:
    """A text-only Qwen2 checkpoint (the language model of the Qwen VL / Audio families), for lm-eval's `hf`."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(seed)
    tok = byte_tokenizer(QWEN_SPECIALS, eos="<|im_end|>", pad="<|endoftext|>")
    tok.chat_template = QWEN2_TEXT_CHAT_TEMPLATE
    ids = tok.convert_tokens_to_ids
    config = Qwen2Config(
        vocab_size=len(tok), eos_token_id=ids("<|im_end|>"), pad_token_id=ids("<|endoftext|>"), **TINY_TEXT
    )
    Qwen2ForCausalLM(config).save_pretrained(path)
    tok.save_pretrained(path)
    return path


def save_family(name: str, path: Path, seed: int = 0, weights: bool = True) -> Path:
    """One family's checkpoint folder (config, processor, chat template; weights unless weights=False)."""
    import torch

    torch.manual_seed(seed)
    model, processor = BUILDERS[name]()
    model.save_pretrained(path)
    processor.save_pretrained(path)
    if not weights:
        for file in path.glob("*.safetensors*"):
            file.unlink()
    return path


@pytest.fixture(scope="session")
def family_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every family's checkpoint, saved once per test session."""
    root = tmp_path_factory.mktemp("families")
    return {name: save_family(name, root / name) for name in BUILDERS}
