"""Options as dataclass fields that own their default and help; the command line is built from them (as trl's
HfArgumentParser does), so a default is written once and the library never sees a flag name.

    @dataclass
    class EvalRequest:
        batch_size: int = option(8, help="hf/tiny forward batch")
    add_options(parser, EvalRequest)          # --batch-size N  (default: 8)
    request = from_options(EvalRequest, args)  # the dataclass, typed, defaults from its fields
"""

from __future__ import annotations

import argparse
import dataclasses
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")
MISSING: Any = dataclasses.MISSING


def option(
    default: Any = MISSING,
    *,
    help: str,
    factory: Callable[[], Any] | None = None,
    parse: Callable[[str], Any] | None = None,
    metavar: str | None = None,
) -> Any:
    """A dataclass field that is also a command-line option: `help` and its default are the flag's; `parse` turns
    the flag's text into the field's value when the command runs (without it, argparse converts to the field's
    type: int, float, str or Path)."""
    metadata = {"help": help, "parse": parse, "metavar": metavar}
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def add_options(parser: argparse.ArgumentParser, cls: type) -> None:
    """One --flag per option field of the dataclass `cls` (fields made without `option` are not options)."""
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if "help" not in f.metadata:
            continue
        required = f.default is MISSING and f.default_factory is MISSING
        shown = "" if required or f.default in (None, MISSING) else f" (default: {f.default})"
        parser.add_argument(
            flag(f.name),
            dest=f.name,
            required=required,
            default=None,  # not given: the field's own default applies (from_options)
            type=str if f.metadata["parse"] else _parser(hints[f.name]),  # `parse` runs in from_options
            metavar=f.metadata["metavar"],
            help=f.metadata["help"] + shown,
        )
    parser.set_defaults(_option_classes=(*(parser.get_default("_option_classes") or ()), cls))


def typed_options(args: argparse.Namespace) -> list[Any]:
    """The option dataclasses of a parsed command line, one per class its parser was built from."""
    return [from_options(cls, args) for cls in getattr(args, "_option_classes", ())]


def from_options(cls: Callable[..., T], args: argparse.Namespace, **values: Any) -> T:
    """The dataclass from the parsed flags (a flag not given keeps the field's default), `values` added. A field's
    `parse` runs here, inside the command, so that its InputError is the command's one-line error."""
    given = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        text = getattr(args, f.name, None) if "help" in f.metadata else None
        if text is not None:
            given[f.name] = f.metadata["parse"](text) if f.metadata["parse"] else text
    return cls(**given, **values)


def _parser(tp: Any) -> Callable[[str], Any]:
    """The text -> value function of a field type: int, float, Path or str (of an `X | None`, X's)."""
    options = [t for t in typing.get_args(tp) if t is not type(None)] or [tp]
    kind = options[0]
    return kind if kind in (int, float, Path) else str
