"""The machinery every record shares: typed fields read from JSON with errors that name the file, line and field, a
format version on what is written, older versions upgraded in one place per record, and a JSON Schema derived from
the same field types (so the validator and the published schema cannot disagree).

A record is a frozen dataclass. Its field types say what JSON it takes: str, int, float, bool, None (optional),
Literal[...], list[T], tuple[...], dict[str, T], Any, or another Part (a nested object). Field metadata (`field`):
`help` (the schema's description), `omit_none` / `omit_empty` (the key is left out of the JSON when the value is
None / empty). A part
with EXTRA = True keeps the keys it does not know in its `extra` mapping and writes them back, so that a file
written by a newer version or another tool loses nothing when this version rewrites it.
"""

from __future__ import annotations

import dataclasses
import json
import math
import types
import typing
from collections.abc import Callable
from dataclasses import MISSING
from pathlib import Path
from typing import Any, ClassVar, Literal, TypeVar, Union

from ..errors import InputError
from ..fileio import FORMAT_FIELD, FileFormat, write_json, write_jsonl

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"

P = TypeVar("P", bound="Part")


class RecordError(InputError):
    """A JSON value that is not the record it should be; the message names the file, the line and the field."""


class Part:
    """A typed JSON object: from_json / to_json / json_schema, all from its dataclass fields."""

    EXTRA: ClassVar[bool] = False  # keep unknown keys in `extra` (the dataclass then declares an `extra` field)
    DESCRIPTION: ClassVar[str] = ""

    @classmethod
    def from_json(cls: type[P], data: Any, where: str, name: str = "") -> P:
        """The part `data` holds; RecordError naming `where` (file or file:line) and the field `name` otherwise."""
        data = cls._prepare(data, where)
        if not isinstance(data, dict):
            raise RecordError(f"{_at(where, name)}expected a JSON object, found {_kind(data)}")
        values: dict[str, Any] = {}
        plan, known = _plan(cls)
        for key, read, required in plan:
            if key in data:
                values[key] = read(data[key], where, f"{name}.{key}" if name else key)  # top level: no formatting
            elif required:
                raise RecordError(f"{_at(where, name)}missing field {key!r}")
        if cls.EXTRA:
            values["extra"] = {k: v for k, v in data.items() if k not in known}
        part = cls(**values)
        part.check(where, name)
        return part

    @classmethod
    def _prepare(cls, data: Any, where: str) -> Any:
        return data

    def check(self, where: str, name: str) -> None:
        """Consistency beyond types (counts that add up, ranges): RecordError naming where and name. Per part."""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if f.name == "extra":
                out.update(value)
            elif value is None and f.metadata.get("omit_none"):
                continue
            elif f.metadata.get("omit_empty") and not value:
                continue
            else:
                out[f.name] = _write(value)
        return out

    @classmethod
    def json_schema(cls) -> dict[str, Any]:
        hints = _hints(cls)
        properties, required = {}, []
        for f in dataclasses.fields(cls):  # type: ignore[arg-type]
            if f.name == "extra":
                continue
            typed = _schema(hints[f.name])
            properties[f.name] = {"description": f.metadata["help"], **typed} if f.metadata.get("help") else typed
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                required.append(f.name)
        schema: dict[str, Any] = {"type": "object"}
        if cls.DESCRIPTION:
            schema["description"] = cls.DESCRIPTION
        return {**schema, "properties": properties, "required": required, "additionalProperties": cls.EXTRA}


class Record(Part):
    """A top-level record: a whole file, or one line of a JSONL file. It is written with `format_version`, and
    `upgrade` turns what an older version wrote into the current shape: the one place that knows old shapes."""

    FORMAT: ClassVar[str]  # the record's name in schemas and messages ("summary", "response", ...)
    VERSION: ClassVar[int]

    @classmethod
    def file_format(cls) -> FileFormat:
        return FileFormat(cls.FORMAT, cls.VERSION)

    @classmethod
    def _prepare(cls, data: Any, where: str) -> Any:
        if not isinstance(data, dict):
            return data
        version = cls.file_format().version_of(data, where, RecordError)
        return cls.upgrade(dict(data), version, where) if version < cls.VERSION else data

    def save(self, path: Path) -> None:
        """Write this record as a whole JSON file (fileio.write_json: atomic, `format_version` first)."""
        write_json(path, self.file_format(), self.to_json())

    @classmethod
    def save_lines(cls, path: Path, records: list[Any]) -> None:
        """Write `records` (of this class) as a JSONL file, one per line (fileio.write_jsonl: atomic)."""
        write_jsonl(path, cls.file_format(), (r.to_json() for r in records))

    @classmethod
    def upgrade(cls, data: dict[str, Any], version: int, where: str) -> dict[str, Any]:
        """`data` as format `version` (older than VERSION) wrote it, in the current shape. Default: unchanged
        (the versions differ only by the version field itself)."""
        return data

    def to_json(self) -> dict[str, Any]:
        return {FORMAT_FIELD: self.VERSION, **super().to_json()}

    @classmethod
    def json_schema(cls) -> dict[str, Any]:
        body = super().json_schema()
        version = {
            "type": "integer",
            "minimum": 1,
            "maximum": cls.VERSION,
            "description": "format version of this record; absent in files written before versions (read as 1)",
        }
        body["properties"] = {FORMAT_FIELD: version, **body["properties"]}
        return {"$schema": SCHEMA_DIALECT, "$id": f"va-safetybench/{cls.FORMAT}/v{cls.VERSION}", **body}

    @classmethod
    def load(cls: type[P], path: Path) -> P:
        """The record a JSON file holds; RecordError (an InputError) naming the file otherwise."""
        path = Path(path)
        try:
            data = json.loads(path.read_bytes().decode("utf-8"))
        except FileNotFoundError:
            raise RecordError(f"{path}: no such file") from None
        except OSError as exc:
            raise RecordError(f"{path}: cannot be read ({exc.strerror or exc})") from None
        except UnicodeDecodeError:
            raise RecordError(f"{path}: not valid UTF-8") from None
        except json.JSONDecodeError as exc:
            raise RecordError(f"{path}: not valid JSON ({exc.msg}, line {exc.lineno})") from None
        return cls.from_json(data, str(path))

    @classmethod
    def load_lines(cls: type[P], path: Path) -> list[P]:
        """The records of a JSONL file, one per line (fileio.jsonl_lines: a torn tail is ignored, a bad line named)."""
        from ..fileio import jsonl_lines

        return [cls.from_json(line.value, line.where) for line in jsonl_lines(path)]


def field(
    *,
    help: str = "",
    omit_none: bool = False,
    omit_empty: bool = False,
    default: Any = dataclasses.MISSING,
    factory: Any = None,
) -> Any:
    """A record field with its schema description; `omit_none` leaves the key out of the JSON when the value is None,
    `omit_empty` when it is None or empty (the sections a run may not have)."""
    metadata = {"help": help, "omit_none": omit_none, "omit_empty": omit_empty}
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


# ---- field types -> reading, writing, schema ---------------------------------------------------------------------
# Readers are compiled once per field type (from_json runs for every line of files with tens of thousands of lines).
Reader = Callable[[Any, str, str], Any]
_HINTS: dict[type, dict[str, Any]] = {}
_PLANS: dict[type, tuple[list[tuple[str, Reader, bool]], frozenset[str]]] = {}
_READERS: dict[Any, Reader] = {}


def _hints(cls: type) -> dict[str, Any]:
    """The resolved field types of a record class."""
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls)
    return _HINTS[cls]


def _plan(cls: type) -> tuple[list[tuple[str, Reader, bool]], frozenset[str]]:
    """[(field, its reader, required)] and every key the class knows (its fields and the format version)."""
    if cls not in _PLANS:
        fields = [f for f in dataclasses.fields(cls) if f.name != "extra"]
        plan = [
            (f.name, _reader(_hints(cls)[f.name]), f.default is MISSING and f.default_factory is MISSING)
            for f in fields
        ]
        _PLANS[cls] = (plan, frozenset(f.name for f in fields) | {FORMAT_FIELD})
    return _PLANS[cls]


def _at(where: str, name: str) -> str:
    return f"{where}: {name}: " if name else f"{where}: "


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN or infinity"
    return {dict: "an object", list: "a list", str: "a string", bool: "true/false"}.get(type(value), "a number")


def _reader(tp: Any) -> Reader:
    """The function that checks a JSON value against the field type `tp` (RecordError naming where and name)."""
    if tp not in _READERS:
        _READERS[tp] = _compile(tp)
    return _READERS[tp]


def _fail(where: str, name: str, wanted: str, value: Any) -> RecordError:
    return RecordError(f"{_at(where, name)}expected {wanted}, found {_kind(value)}")


def _compile(tp: Any) -> Reader:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is Any:
        return lambda value, where, name: value
    if origin in (Union, types.UnionType):
        nullable = type(None) in args
        options = [_reader(a) for a in args if a is not type(None)]
        if nullable and len(options) == 1:  # X | None, the common case: one test, no loop
            only = options[0]
            return lambda value, where, name: None if value is None else only(value, where, name)

        def union(value: Any, where: str, name: str) -> Any:
            if value is None and nullable:
                return None
            for option in options[:-1]:
                try:
                    return option(value, where, name)
                except RecordError:
                    continue
            return options[-1](value, where, name)

        return union
    if origin is Literal:

        def literal(value: Any, where: str, name: str) -> Any:
            if value not in args:
                raise RecordError(f"{_at(where, name)}{value!r} is not one of {', '.join(map(repr, args))}")
            return value

        return literal
    if isinstance(tp, type) and issubclass(tp, Part):
        return tp.from_json
    if tp in _SCALARS:
        test, wanted = _SCALARS[tp]

        def scalar(value: Any, where: str, name: str) -> Any:
            if not test(value):
                raise _fail(where, name, wanted, value)
            return value  # an integer where a float is expected stays as written: JSON numbers round-trip exactly

        return scalar
    if origin is tuple and args and args[-1] is not Ellipsis:
        items = [_reader(a) for a in args]

        def fixed(value: Any, where: str, name: str) -> Any:
            if not isinstance(value, list):
                raise _fail(where, name, "a list", value)
            if len(value) != len(items):
                raise RecordError(f"{_at(where, name)}expected {len(items)} values, found {len(value)}")
            return tuple(read(v, where, f"{name}[{n}]") for n, (read, v) in enumerate(zip(items, value)))

        return fixed
    if origin in (list, tuple):
        item = _reader(args[0] if args else Any)
        make = tuple if origin is tuple else list
        every: Callable[[Any], bool] | None = _SCALARS[args[0]][0] if args and args[0] in _SCALARS else None

        def sequence(value: Any, where: str, name: str) -> Any:
            if not isinstance(value, list):
                raise _fail(where, name, "a list", value)
            if every is not None and all(map(every, value)):  # the common case, checked without a call per item
                return make(value)
            return make(item(v, where, f"{name}[{n}]") for n, v in enumerate(value))

        return sequence
    if origin is dict or tp is dict:
        entry = _reader(args[1] if args else Any)

        def mapping(value: Any, where: str, name: str) -> Any:
            if not isinstance(value, dict):
                raise _fail(where, name, "an object", value)
            return {str(k): entry(v, where, f"{name}.{k}") for k, v in value.items()}

        return mapping
    raise TypeError(f"records: no reader for field type {tp!r}")  # a programming error: the tests read every record


_SCALARS: dict[Any, tuple[Callable[[Any], bool], str]] = {
    str: (lambda v: isinstance(v, str), "a string"),
    bool: (lambda v: isinstance(v, bool), "true or false"),
    int: (lambda v: isinstance(v, int) and not isinstance(v, bool), "an integer"),
    float: (
        lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v),
        "a finite number",
    ),
}


def _write(value: Any) -> Any:
    if isinstance(value, Part):
        return value.to_json()
    if isinstance(value, (list, tuple)):
        return [_write(v) for v in value]
    if isinstance(value, dict):
        return {k: _write(v) for k, v in value.items()}
    return value


def _schema(tp: Any) -> dict[str, Any]:
    if tp is Any:
        return {}
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (Union, types.UnionType):
        options = [_schema(a) if a is not type(None) else {"type": "null"} for a in args]
        return {"anyOf": options}
    if origin is Literal:
        return {"enum": list(args)}
    if isinstance(tp, type) and issubclass(tp, Part):
        return tp.json_schema()
    simple = {str: "string", bool: "boolean", int: "integer", float: "number"}
    if tp in simple:
        return {"type": simple[tp]}
    if origin in (list, tuple):
        if origin is tuple and args and args[-1] is not Ellipsis:
            return {"type": "array", "prefixItems": [_schema(t) for t in args], "minItems": len(args), "items": False}
        return {"type": "array", "items": _schema(args[0]) if args else {}}
    if origin is dict or tp is dict:
        item = args[1] if args else Any
        return {"type": "object", "additionalProperties": _schema(item) if item is not Any else True}
    raise TypeError(f"records: no schema for field type {tp!r}")
