"""Options as dataclass fields that own their default and help; the command line is built from them (as trl's
HfArgumentParser does), so a default is written once and the library never sees a flag name.

    @dataclass
    class EvalRequest:
        batch_size: int = option(8, help="hf/tiny forward batch")
    add_options(parser, EvalRequest)          # --batch-size N  (default: 8)
    request = from_options(EvalRequest, args)  # the dataclass, typed, defaults from its fields

Every command is declared so: its module's `Options` dataclass is its command line (cli.py builds the parser from
it and hands `run` the typed value). A field's kind of flag follows from the field: a `bool` defaulting to False is a
switch (--flag), `append` collects a repeated flag, `positional` makes an argument without a dash, `flag` gives a
field a flag of another name (a deprecated alias), and a `group` field takes the flags of another options dataclass
at its place (options several commands share). A field's help shows its default unless the help already speaks
of it.
"""

from __future__ import annotations

import argparse
import dataclasses
import typing
from collections.abc import Callable, Sequence
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
    flag: str | None = None,
    positional: bool = False,
    nargs: str | None = None,
    choices: Sequence[str] | None = None,
    append: bool = False,
) -> Any:
    """A dataclass field that is also a command-line option: `help` and its default are the flag's; `parse` turns
    the flag's text into the field's value when the command runs (without it, argparse converts to the field's
    type: int, float, str or Path). `flag` names the flag when it is not the field's name (--field-name);
    `positional`, `nargs`, `choices` and `append` are argparse's."""
    metadata = {
        "help": help,
        "parse": parse,
        "metavar": metavar,
        "flag": flag,
        "positional": positional,
        "nargs": nargs,
        "choices": tuple(choices) if choices is not None else None,
        "append": append,
    }
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def passed_through(help: str) -> Any:
    """The field of a command whose whole command line belongs to another tool (`va-bench lm-eval`, `lmms-eval`):
    every argument after the command, kept as given."""
    return option(factory=list, positional=True, nargs=argparse.REMAINDER, help=help)


def group(cls: type) -> Any:
    """A field holding another options dataclass: its flags go on the command line at this field's place."""
    return dataclasses.field(default_factory=cls, metadata={"group": cls})


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def add_options(parser: argparse.ArgumentParser, cls: type) -> None:
    """One argument per option field of the dataclass `cls` (fields made without `option` are not options), and
    `cls` remembered on the parser for `typed_options`."""
    _add_fields(parser, cls)
    parser.set_defaults(_option_classes=(*(parser.get_default("_option_classes") or ()), cls))


def _add_fields(parser: argparse.ArgumentParser, cls: type) -> None:
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if "group" in f.metadata:
            _add_fields(parser, f.metadata["group"])
        elif "help" in f.metadata:
            _add_field(parser, f, hints[f.name])


def _add_field(parser: argparse.ArgumentParser, f: dataclasses.Field, hint: Any) -> None:
    meta = f.metadata
    required = f.default is MISSING and f.default_factory is MISSING
    kwargs: dict[str, Any] = {"help": meta["help"] + _shown_default(f, required)}
    switch = hint is bool and f.default is False
    if switch:
        kwargs["action"] = "store_true"
    else:
        kwargs["type"] = str if meta["parse"] else _parser(hint)  # `parse` runs in from_options
        for key in ("metavar", "nargs", "choices"):
            if meta[key] is not None:
                kwargs[key] = meta[key]
        if meta["append"]:
            kwargs["action"] = "append"
    if meta["positional"]:
        parser.add_argument(f.name, **kwargs)
        return
    # not given: None, and the field's own default applies (from_options)
    parser.add_argument(meta["flag"] or flag(f.name), dest=f.name, required=required, default=None, **kwargs)


def _shown_default(f: dataclasses.Field, required: bool) -> str:
    """' (default: X)' for a field whose default says something and whose help does not speak of it already."""
    if required or f.default in (None, MISSING, False) or "default" in f.metadata["help"]:
        return ""
    return f" (default: {f.default})".replace("%", "%%")


def from_options(cls: Callable[..., T], args: argparse.Namespace, **values: Any) -> T:
    """The dataclass from the parsed flags (a flag not given keeps the field's default), `values` added. A field's
    `parse` runs here, inside the command, so that its InputError is the command's one-line error."""
    given = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if "group" in f.metadata:
            given[f.name] = from_options(f.metadata["group"], args)
            continue
        text = getattr(args, f.name, None) if "help" in f.metadata else None
        if text is not None:
            given[f.name] = f.metadata["parse"](text) if f.metadata["parse"] else text
    return cls(**given, **values)


def typed_options(args: argparse.Namespace) -> list[Any]:
    """The option dataclasses of a parsed command line, one per class its parser was built from."""
    return [from_options(cls, args) for cls in getattr(args, "_option_classes", ())]


def _parser(tp: Any) -> Callable[[str], Any]:
    """The text -> value function of a field type: int, float, Path or str (of an `X | None` or a `list[X]`, X's;
    a Literal's values are text, which `choices` checks)."""
    if typing.get_origin(tp) is typing.Literal:
        return str
    options = [t for t in typing.get_args(tp) if t is not type(None)] or [tp]
    kind = options[0]
    if typing.get_origin(kind) is list:
        kind = typing.get_args(kind)[0]
    return kind if kind in (int, float, Path) else str
