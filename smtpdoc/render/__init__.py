"""Renderers: one module per format, one small contract, picked from a registry.

A renderer reads the explained model (smtpdoc.model) and writes text. It never
runs tshark or touches the session machine.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO

from smtpdoc.model import Report


@dataclass(frozen=True)
class RenderOptions:
    colour: bool = False
    width: int | None = None
    show_secrets: bool = False
    brief: bool = False  # steps, lines and findings without the teaching text


RenderFunc = Callable[[Report, TextIO, RenderOptions], None]

_REGISTRY: dict[str, RenderFunc] = {}
_ALIASES: dict[str, str] = {}


def register(name: str, *aliases: str) -> Callable[[RenderFunc], RenderFunc]:
    def wrap(func: RenderFunc) -> RenderFunc:
        _REGISTRY[name] = func
        for alias in aliases:
            _ALIASES[alias] = name
        return func

    return wrap


def _load() -> None:
    # Importing the modules registers them.
    from smtpdoc.render import html as _html  # noqa: F401
    from smtpdoc.render import json as _json  # noqa: F401
    from smtpdoc.render import jsonl as _jsonl  # noqa: F401
    from smtpdoc.render import markdown as _markdown  # noqa: F401
    from smtpdoc.render import terminal as _terminal  # noqa: F401


def names() -> list[str]:
    _load()
    return sorted(_REGISTRY)


def by_name(name: str) -> RenderFunc:
    _load()
    return _REGISTRY[_ALIASES.get(name, name)]


def format_for_suffix(suffix: str) -> str | None:
    """'.html' → 'html', '.md' → 'markdown', '.json' → 'json' (None when unknown)."""
    _load()
    key = suffix.lower().lstrip(".")
    if key in _REGISTRY:
        return key
    return _ALIASES.get(key)
