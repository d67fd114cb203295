"""Renderers: one module per format, one small contract, picked from a registry.

A renderer reads the explained model (smtpdoc.model) and writes text. It never
runs tshark or touches the session machine. A format's module is imported only
when that format is asked for, so `smtpdoc explain` starts quickly.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO

from smtpdoc.model import Report

SEVERITIES = ("critical", "warning", "notice", "info")  # most severe first


@dataclass(frozen=True)
class RenderOptions:
    colour: bool = False
    width: int | None = None
    show_secrets: bool = False
    brief: bool = False  # steps, lines and findings without the teaching text
    summary_only: bool = False  # terminal: only the one-line-per-session table
    findings_only: bool = False  # terminal: only the sessions' findings


RenderFunc = Callable[[Report, TextIO, RenderOptions], None]

# format name → module in smtpdoc.render; alias (also -o suffixes) → format name
FORMATS = {
    "terminal": "terminal",
    "json": "json",
    "jsonl": "jsonl",
    "markdown": "markdown",
    "html": "html",
    "csv": "csv",
    "zeek": "zeek",
}
_ALIASES = {
    "ndjson": "jsonl",
    "text": "terminal",
    "txt": "terminal",
    "md": "markdown",
    "htm": "html",
    "log": "zeek",
    "tsv": "zeek",
}
_REGISTRY: dict[str, RenderFunc] = {}


def register(name: str, *aliases: str) -> Callable[[RenderFunc], RenderFunc]:
    def wrap(func: RenderFunc) -> RenderFunc:
        _REGISTRY[name] = func
        return func

    return wrap


def names() -> list[str]:
    return sorted(FORMATS)


def by_name(name: str) -> RenderFunc:
    name = _ALIASES.get(name, name)
    if name not in _REGISTRY:
        importlib.import_module(f"smtpdoc.render.{FORMATS[name]}")
    return _REGISTRY[name]


def format_for_suffix(suffix: str) -> str | None:
    """'.html' → 'html', '.md' → 'markdown', '.json' → 'json', '.log' → 'zeek' (None when unknown)."""
    key = suffix.lower().lstrip(".")
    if key in FORMATS:
        return key
    return _ALIASES.get(key)
