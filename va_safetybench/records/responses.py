"""What a run writes per item: a line of RUN_DIR/responses.jsonl (the response and its verdict) and a judgement (a line
of RUN_DIR/judgements-{judge}.jsonl, and the verdict lm-eval's judge filter hands to the metrics), plus the identity
of the judge that gave them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from .base import Part, Record, RecordError, field

Label = Literal["safe", "unsafe", "error"]


@dataclass(frozen=True, kw_only=True)
class JudgeIdentity(Part):
    """How results name a judge: its name and version, and the server it asked (never a key)."""

    EXTRA: ClassVar[bool] = True
    DESCRIPTION: ClassVar[str] = "The judge: name and version (a new version whenever its prompt or parsing changes)."

    name: str = field(help="the judge spec as resolved, e.g. keyword:jailbreakbench or gpt:gpt-4o-mini")
    version: str = field(default="", help="changes whenever the judge's prompt, list or parsing changes")
    endpoint: str | None = field(
        default=None, omit_none=True, help="the OpenAI-compatible server a chat judge asked (no credentials)"
    )
    extra: dict[str, Any] = field(factory=dict)

    @classmethod
    def _prepare(cls, data: Any, where: str) -> Any:
        version = data.get("version") if isinstance(data, dict) else None
        if isinstance(version, (int, float)) and not isinstance(version, bool):
            data = {**data, "version": str(version)}  # hand-written summaries number their judge versions
        return data

    @classmethod
    def of(cls, judge: Any) -> JudgeIdentity:
        """The identity of a judges.base.Judge (its `endpoint`, when it asks a server)."""
        return cls(name=judge.name, version=judge.version, endpoint=getattr(judge, "endpoint", None) or None)

    def __str__(self) -> str:
        return f"{self.name} {self.version}"


@dataclass(frozen=True, kw_only=True)
class ItemVerdict(Part):
    """A judge's verdict on one response, as a response row holds it."""

    DESCRIPTION: ClassVar[str] = "The verdict on one response; errors are never counted as safe."

    label: Label = field(help="safe, unsafe, or error (no response, an empty one, or the judge could not say)")
    raw: str | None = field(default=None, help="what the judge said, or why it could not say")
    categories: list[str] = field(factory=list, help="harm categories a classifier named")
    official_unsafe: bool | None = field(
        default=None,
        help="the official scripts' exact-'unsafe' reading of the judge's reply; null: the label decides",
    )

    @property
    def counts_unsafe_officially(self) -> bool:
        return self.label == "unsafe" if self.official_unsafe is None else self.official_unsafe


def _id_as_text(data: Any) -> Any:
    if isinstance(data, dict) and isinstance(data.get("id"), int) and not isinstance(data["id"], bool):
        return {**data, "id": str(data["id"])}  # hand-made files number their items
    return data


@dataclass(frozen=True, kw_only=True)
class ResponseRow(Record):
    """One item of a run: what the model was given, what it answered, and the verdict."""

    FORMAT: ClassVar[str] = "response"
    VERSION: ClassVar[int] = 2  # 1: the same fields without format_version
    EXTRA: ClassVar[bool] = True
    DESCRIPTION: ClassVar[str] = "A line of RUN_DIR/responses.jsonl, written by va-bench eval."

    model: str | None = field(default=None, help="BACKEND:NAME of the model that answered")
    task: str
    scenario: str
    id: str
    prompt: str | None = field(default=None, help="the text the model was given; null when the medium is the question")
    question: str | None = field(default=None, help="the harmful question in text form")
    media: list[str] = field(factory=list, help="media paths, relative to the bench folder")
    response: str | None = field(default=None, help="the model's answer; null when generation failed")
    error: str | None = field(default=None, help="why generation failed")
    verdict: ItemVerdict | None = field(default=None, omit_none=True)
    judge: JudgeIdentity | None = field(default=None, omit_none=True)
    extra: dict[str, Any] = field(factory=dict)

    @classmethod
    def _prepare(cls, data: Any, where: str) -> Any:
        return _id_as_text(super()._prepare(data, where))

    @classmethod
    def upgrade(cls, data: dict[str, Any], version: int, where: str) -> dict[str, Any]:
        """v1 -> v2: `media` as one path or null (hand-made and synthetic files) becomes the list it always was."""
        media = data.get("media")
        if media is None or isinstance(media, str):
            data["media"] = [media] if media else []
        return data

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.task, self.scenario, self.id)


@dataclass(frozen=True, kw_only=True)
class Judgement(Record):
    """A verdict on one item with the judge that gave it: a line of RUN_DIR/judgements-{judge}.jsonl (va-bench
    judge), and the verdict lm-eval's `judge` filter passes to the metrics (a sample's filtered_resps)."""

    FORMAT: ClassVar[str] = "judgement"
    VERSION: ClassVar[int] = 2  # 1: the same fields without format_version (lm-eval's copy also without the item)
    DESCRIPTION: ClassVar[str] = "A line of RUN_DIR/judgements-{judge}.jsonl, written by va-bench judge."

    task: str | None = field(default=None, omit_none=True)
    scenario: str | None = field(default=None, omit_none=True)
    id: str | None = field(default=None, omit_none=True)
    label: Label
    raw: str | None = None
    categories: list[str] = field(factory=list)
    official_unsafe: bool | None = None
    judge: str = field(help="the judge's name")
    judge_version: str

    @classmethod
    def _prepare(cls, data: Any, where: str) -> Any:
        return _id_as_text(super()._prepare(data, where))

    @property
    def verdict(self) -> ItemVerdict:
        return ItemVerdict(
            label=self.label, raw=self.raw, categories=list(self.categories), official_unsafe=self.official_unsafe
        )

    def check(self, where: str, name: str) -> None:
        if (self.task is None) != (self.scenario is None) or (self.task is None) != (self.id is None):
            raise RecordError(f"{where}: task, scenario and id go together")
