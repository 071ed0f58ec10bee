"""One small registry for every extension point: name -> a lazily imported "module[:attr]" (or a value), one error.

    FAMILIES = Registry("model family", {"llava": "va_safetybench.models.adapters.llava:LlavaAdapter", ...})
    FAMILIES.get("llava")   # imports the module on first use and returns LlavaAdapter
    FAMILIES.get("lava")    # InputError: unknown model family 'lava'; did you mean 'llava'; known: qwen2_vl, ...

Used by model backends, model families, tiny models, judges, commands and capability tasks, so that adding one is
one file and one line, and asking for one that does not exist reads the same everywhere. Importing lazily keeps
`--help` fast and optional extras optional: a registered module is imported only when its entry is asked for.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Iterable, Iterator, Mapping
from typing import Generic, TypeVar

from .errors import InputError

T = TypeVar("T")


class Registry(Generic[T]):
    """Named entries of one kind (`what` names the kind in errors). An entry is an import path, "module:attr" or
    "module" (a string is always one), or the value itself."""

    def __init__(self, what: str, entries: Mapping[str, str | T] | None = None) -> None:
        self.what = what
        self._entries: dict[str, str | T] = dict(entries or {})

    def register(self, name: str, entry: str | T) -> None:
        """Add an entry (a third-party extension, or a test's); a name is registered once."""
        if name in self._entries:
            raise ValueError(f"{self.what} {name!r} is already registered")
        self._entries[name] = entry

    def get(self, name: str) -> T:
        """The entry `name` names, imported on first use; InputError naming the kind, close names and all names."""
        if name not in self._entries:
            raise InputError(self.unknown(name))
        entry = self._entries[name]
        if isinstance(entry, str):
            module, _, attr = entry.partition(":")
            loaded = importlib.import_module(module)
            return getattr(loaded, attr) if attr else loaded  # type: ignore[return-value]  # T by construction
        return entry

    def target(self, name: str) -> str | None:
        """The "module[:attr]" an entry points to (None for a value registered directly), without importing it."""
        entry = self._entries[name]
        return entry if isinstance(entry, str) else None

    def unknown(self, name: str, known: Iterable[str] | None = None) -> str:
        """The one message for a name this registry does not hold; `known` lists the valid forms where they say
        more than the names (judge specs such as gpt:MODEL)."""
        close = difflib.get_close_matches(name, list(self._entries), n=1)
        hint = f"; did you mean {close[0]!r}" if close else ""
        return f"unknown {self.what} {name!r}{hint}; known: {', '.join(known or self._entries)}"

    def __getitem__(self, name: str) -> T:
        return self.get(name)

    def items(self) -> Iterator[tuple[str, T]]:
        """(name, entry) for every entry, each imported as it is reached."""
        return ((name, self.get(name)) for name in self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def names(self) -> list[str]:
        return list(self._entries)

    def without(self, *names: str) -> Registry[T]:
        """A copy lacking `names` (a test's view of a registry without some entries)."""
        return Registry(self.what, {k: v for k, v in self._entries.items() if k not in names})
