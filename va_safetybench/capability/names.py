"""Names of the capability and over-refusal tasks and groups (no heavy imports: the CLI validates with it).

The safety TASKS table (taskspec.py) stays as it is: these tasks carry no bench manifests of their
own, so `va-bench eval` routes them to capability.run instead of the judge pipeline.
"""

from __future__ import annotations

from typing import Literal

from ..registry import Registry

Kind = Literal["capability", "over_refusal"]

# task -> (modality, kind); text tasks from lm-eval's own registry are listed too
TASKS: Registry[tuple[str, Kind]] = Registry(
    "capability task",
    {
        "mme": ("image", "capability"),
        "mmbench_en_dev": ("image", "capability"),
        "videomme": ("video", "capability"),
        "librispeech_test_clean": ("audio", "capability"),
        "clotho_aqa": ("audio", "capability"),
        "gsm8k": ("text", "capability"),
        "ifeval": ("text", "capability"),
        "xstest_safe": ("text", "over_refusal"),
        "benign_video_typo": ("video", "over_refusal"),
        "benign_audio_kpt": ("audio", "over_refusal"),
        "benign_image_typo": ("image", "over_refusal"),
    },
)
# lm-eval's built-in tasks: loading them needs TaskManager(include_defaults=True)
LM_EVAL_BUILTIN = frozenset({"gsm8k", "ifeval"})

GROUPS: dict[str, tuple[str, ...]] = {
    "capability_image": ("mme", "mmbench_en_dev"),
    "capability_video": ("videomme",),
    "capability_audio": ("librispeech_test_clean", "clotho_aqa"),
    "capability_text": ("gsm8k", "ifeval"),
    "over_refusal": ("xstest_safe", "benign_video_typo", "benign_audio_kpt", "benign_image_typo"),
}


def is_name(name: str) -> bool:
    return name in TASKS or name in GROUPS


def expand(names: list[str]) -> list[str]:
    """Capability task and group names -> task names in table order (unknown names are the caller's concern)."""
    wanted = {t for n in names for t in (GROUPS.get(n) or ((n,) if n in TASKS else ()))}
    return [t for t in TASKS if t in wanted]
