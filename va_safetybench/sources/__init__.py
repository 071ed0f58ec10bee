"""Question sources: official (downloaded), a local directory, or the built-in demo set."""

from .loader import load_items, resolve_source_dir

__all__ = ["load_items", "resolve_source_dir"]
