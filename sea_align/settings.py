"""Per-model SEA settings: the response prefix and style set of the control targets, and the prompts.

The paper tunes the response prefix and the style descriptions per model so that the control targets
read like that model's own answers; these are the defaults, overridable on the command line.
"""

from __future__ import annotations

from dataclasses import dataclass, field

MODALITIES = ("image", "video", "audio")

STYLES: dict[str, tuple[str, ...]] = {
    "image": (
        "a realistic photograph",
        "a cartoon illustration",
        "an oil painting",
        "a pencil sketch",
        "a watercolor painting",
        "a digital art rendering",
    ),
    "video": (
        "a realistic video recording",
        "an animated cartoon clip",
        "a documentary-style clip",
        "a surveillance camera recording",
        "a cinematic film scene",
        "a slow-motion clip",
    ),
    "audio": (
        "a calm spoken narration",
        "a news broadcast",
        "a casual conversation",
        "a synthesized voice",
        "a radio announcement",
        "a whispered speech",
    ),
}

CONTENT_QUESTION = "Please briefly describe the {type} in the {modality}."
STYLE_QUESTION = "What is the style of the {modality}?"
ALIGN_PREFIX = "The {modality} shows {article} {type}. Please understand the content and answer the following question."
VERIFY_QUESTION = "What is shown in the {modality}? Answer briefly."


@dataclass(frozen=True)
class SeaSettings:
    """What the control samples and alignment prompts look like for one model and modality."""

    modality: str = "image"
    response_prefix: str = "The {modality} shows"
    styles: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if self.modality not in MODALITIES:
            from va_safetybench.errors import InputError

            raise InputError(f"--modality: {self.modality!r} is not one of {', '.join(MODALITIES)}")
        if not self.styles:
            object.__setattr__(self, "styles", STYLES[self.modality])

    def prefix(self) -> str:
        return self.response_prefix.format(modality=self.modality)

    def content_question(self, phrase_type: str) -> str:
        return CONTENT_QUESTION.format(type=phrase_type, modality=self.modality)

    def style_question(self) -> str:
        return STYLE_QUESTION.format(modality=self.modality)

    def align_prefix(self, phrase_type: str) -> str:
        article = "an" if phrase_type == "activity" else "a"
        return ALIGN_PREFIX.format(modality=self.modality, article=article, type=phrase_type)

    def verify_question(self) -> str:
        return VERIFY_QUESTION.format(modality=self.modality)
