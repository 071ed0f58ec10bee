"""SEA hooks: the encoder output injected in place of the media gives the same forward pass.

For each family and a real media file, `encode_media` (the modality encoder after the projector)
followed by `forward(media_embeds=...)` must match the forward pass from pixels/audio, and a
different injected tensor must change the logits (the injected rows are what the LM reads).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.model_media import write_media
from va_safetybench.models.base import GenerationRequest, GenerationSettings, Media
from va_safetybench.models.registry import make_backend

CASES = [  # (family, model args, media kinds in one batch)
    ("qwen2-vl", {"shape": "mini"}, ("image",)),
    ("qwen2-vl", {"shape": "mini"}, ("video",)),
    ("qwen2-vl", {"shape": "mini"}, ("video", "image", None)),  # mixed batch, placeholder order interleaved
    ("qwen2-audio", {}, ("audio",)),
    ("qwen2-audio", {}, ("audio", None)),
    ("llava", {}, ("image", None)),
    ("qwen2.5-omni", {}, ("audio",)),
    ("qwen2.5-omni", {}, ("video", None)),
    ("qwen2.5-omni", {}, ("audio", "video", "image", None)),  # audio rows by inputs_embeds, vision by mm outputs
]
FILES = {"image": "png", "video": "mp4", "audio": "wav"}


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return write_media(tmp_path_factory.mktemp("media"))


@pytest.fixture(scope="module")
def adapters() -> dict:
    cache: dict = {}

    def get(family: str, args: dict):
        if family not in cache:
            cache[family] = make_backend(f"tiny:{family}", {"seed": 2, **args}).adapter
        return cache[family]

    return get


def _requests(kinds, media) -> list[GenerationRequest]:
    return [
        GenerationRequest("The media show a phrase. List steps.", (Media(k, media[FILES[k]]),) if k else ())
        for k in kinds
    ]


@pytest.mark.parametrize(
    "family,args,kinds", CASES, ids=[f"{f}-{'+'.join(k or 'text' for k in kinds)}" for f, _, kinds in CASES]
)
def test_forward_with_injected_encoder_output_equals_forward_with_media(family, args, kinds, adapters, media):
    import torch

    adapter = adapters(family, args)
    inputs = adapter.build_inputs(_requests(kinds, media))
    with torch.no_grad():
        from_media = adapter.forward(inputs).logits
        embeds = adapter.encode_media(inputs)
        injected = adapter.forward(inputs, media_embeds=embeds).logits
        assert embeds.ndim == 2 and embeds.shape[1] == adapter.model.get_input_embeddings().weight.shape[1]
        torch.testing.assert_close(injected, from_media, atol=1e-5, rtol=0)
        other = adapter.forward(inputs, media_embeds=embeds + 1.0).logits
    assert (other - from_media).abs().max() > 1e-2


@pytest.mark.parametrize(
    "family,args,kind",
    [
        ("qwen2-vl", {"shape": "mini"}, "video"),
        ("qwen2-audio", {}, "audio"),
        ("llava", {}, "image"),
        ("qwen2.5-omni", {}, "audio"),
        ("qwen2.5-omni", {}, "video"),
    ],
    ids=["qwen2-vl", "qwen2-audio", "llava", "qwen2.5-omni-audio", "qwen2.5-omni-video"],
)
def test_generate_with_injected_encoder_output_equals_generate_with_media(family, args, kind, adapters, media):
    import torch

    adapter = adapters(family, args)
    inputs = adapter.build_inputs(_requests((kind, None), media))
    settings = GenerationSettings(max_new_tokens=5)
    with torch.no_grad():
        embeds = adapter.encode_media(inputs)
    assert adapter.generate(inputs, settings, media_embeds=embeds) == adapter.generate(inputs, settings)


def test_injecting_the_wrong_number_of_rows_is_refused(adapters, media):
    import torch

    for family, args, kind in (
        ("qwen2-vl", {"shape": "mini"}, "image"),
        ("qwen2-audio", {}, "audio"),
        ("qwen2.5-omni", {}, "audio"),
    ):
        adapter = adapters(family, args)
        inputs = adapter.build_inputs(_requests((kind,), media))
        with torch.no_grad():
            embeds = adapter.encode_media(inputs)
        with pytest.raises(ValueError, match="injected rows"):
            adapter.forward(inputs, media_embeds=embeds[:-1])


def test_generic_adapter_loads_a_checkpoint_and_injects(media, tmp_path, monkeypatch):
    """A model type with no family file: AutoModelForImageTextToText + AutoProcessor + mm_encoder_outputs."""
    import torch

    from va_safetybench.models import adapters
    from va_safetybench.models.adapters import GenericAdapter
    from va_safetybench.models.tiny import save_tiny

    save_tiny("llava", str(tmp_path), seed=2)
    monkeypatch.setattr(adapters, "FAMILIES", adapters.FAMILIES.without("llava"))
    adapter = make_backend(f"hf:{tmp_path}", {"dtype": "float32"}).adapter
    assert type(adapter) is GenericAdapter
    inputs = adapter.build_inputs(_requests(("image", None), media))
    with torch.no_grad():
        embeds = adapter.encode_media(inputs)
        torch.testing.assert_close(
            adapter.forward(inputs, media_embeds=embeds).logits, adapter.forward(inputs).logits, atol=1e-5, rtol=0
        )
    settings = GenerationSettings(max_new_tokens=4)
    assert adapter.generate(inputs, settings, media_embeds=embeds) == adapter.generate(inputs, settings)
