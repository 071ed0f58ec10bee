"""The task table of ARCHITECTURE.md as data: every other module reads it from here."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from .errors import InputError

Modality = Literal["text", "video", "audio", "image"]


@dataclass(frozen=True)
class MediaSpec:
    """Where a task's media live in the official layout and which renderer makes them.

    `renderer` is an import path 'module:Class', imported only when a build needs it, so that
    `va-bench --help` never loads torch or ffmpeg. `stage` orders builds: stage-1 media are
    made from stage-0 media (DM+TYPO from DM, SD+TYPO from SD and TYPO).
    """

    top: str  # "Video" | "Audio" | "Image"
    variant: str  # official sub-folder: "DM", "TYPO", "KPT", "SD_TYPO", ...
    ext: str
    renderer: str
    renderer_args: dict = field(default_factory=dict)
    stage: int = 0

    def relpath(self, scenario: str, item_id: str) -> str:
        return f"{self.top}/{scenario}/{self.variant}/{item_id}.{self.ext}"


@dataclass(frozen=True)
class TaskSpec:
    name: str
    benchmark: Literal["va", "mmsb"]
    modality: Modality
    official_field: str | None  # the field of the official question file the prompt comes from
    media: MediaSpec | None = None

    @property
    def required_media(self) -> MediaSpec:
        """The media spec, for code that only ever handles media tasks (a text task here is a bug)."""
        if self.media is None:
            raise ValueError(f"task {self.name} has no media")
        return self.media


_R = "va_safetybench.media."

TASKS: dict[str, TaskSpec] = {
    t.name: t
    for t in (
        TaskSpec("va_video_text_only", "va", "text", "Text_only"),
        TaskSpec("va_video_dm", "va", "video", "DM", MediaSpec("Video", "DM", "mp4", _R + "dm_video:DMVideoRenderer")),
        TaskSpec(
            "va_video_typo",
            "va",
            "video",
            "TYPO",
            MediaSpec("Video", "TYPO", "mp4", _R + "typo_video:TypoVideoRenderer"),
        ),
        TaskSpec(
            "va_video_dm_typo",
            "va",
            "video",
            "DM_TYPO",
            MediaSpec("Video", "DM_TYPO", "mp4", _R + "dm_video:DMTypoVideoRenderer", stage=1),
        ),
        TaskSpec("va_audio_text_only", "va", "text", "Text_only"),
        TaskSpec(
            "va_audio_only",
            "va",
            "audio",
            "Audio_only",
            MediaSpec(
                "Audio", "Audio_only", "wav", _R + "speech:SpeechRenderer", {"text": "question", "noise_seconds": 0.0}
            ),
        ),
        TaskSpec(
            "va_audio_kpt",
            "va",
            "audio",
            "KPT",
            MediaSpec(
                "Audio", "KPT", "wav", _R + "speech:SpeechRenderer", {"text": "key_phrase", "noise_seconds": 0.0}
            ),
        ),
        TaskSpec(
            "va_audio_kpt_noise",
            "va",
            "audio",
            "KPT_noise",
            MediaSpec(
                "Audio", "KPT_noise", "wav", _R + "speech:SpeechRenderer", {"text": "key_phrase", "noise_seconds": 3.0}
            ),
        ),
        TaskSpec("mmsb_text_only", "mmsb", "text", "Question"),
        TaskSpec(
            "mmsb_sd",
            "mmsb",
            "image",
            "Rephrased Question(SD)",
            MediaSpec("Image", "SD", "jpg", _R + "sd_image:SDImageRenderer"),
        ),
        TaskSpec(
            "mmsb_typo",
            "mmsb",
            "image",
            "Rephrased Question",
            MediaSpec("Image", "TYPO", "jpg", _R + "typo_image:TypoImageRenderer"),
        ),
        TaskSpec(
            "mmsb_sd_typo",
            "mmsb",
            "image",
            "Rephrased Question",
            MediaSpec("Image", "SD_TYPO", "jpg", _R + "sd_typo_image:SDTypoImageRenderer", stage=1),
        ),
    )
}

GROUPS: dict[str, tuple[str, ...]] = {
    "va_video": ("va_video_text_only", "va_video_dm", "va_video_typo", "va_video_dm_typo"),
    "va_audio": ("va_audio_text_only", "va_audio_only", "va_audio_kpt", "va_audio_kpt_noise"),
    "mm_safetybench": ("mmsb_text_only", "mmsb_sd", "mmsb_typo", "mmsb_sd_typo"),
}
GROUPS["va_safetybench"] = GROUPS["va_video"] + GROUPS["va_audio"]


def expand_tasks(names: list[str] | None) -> list[str]:
    """Task and group names -> task names in table order; raises InputError on an unknown name."""
    if not names:
        return list(TASKS)
    wanted: set[str] = set()
    for name in names:
        if name in TASKS:
            wanted.add(name)
        elif name in GROUPS:
            wanted.update(GROUPS[name])
        else:
            valid = ", ".join(list(TASKS) + list(GROUPS))
            raise InputError(f"unknown task or group {name!r}; valid names: {valid}")
    return [t for t in TASKS if t in wanted]
