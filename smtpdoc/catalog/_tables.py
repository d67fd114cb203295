"""Reading the catalog's TOML tables, with one clear error for a malformed entry."""

from __future__ import annotations

import hashlib
import json
import os
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from importlib import resources
from typing import Any

from smtpdoc import __version__, cache
from smtpdoc.catalog.entries import CatalogError


def _str(table: Mapping[str, Any], key: str, where: str) -> str:
    value = table.get(key)
    if not isinstance(value, str) or not value.strip():
        raise CatalogError(f"{where}: '{key}' must be a non-empty string, got {value!r}")
    return value


_STEP_WORDS = frozenset({"title", "summary", "explanation"})


def _by_class(table: Any, where: str) -> dict[int, dict[str, str]]:
    """A step's [step.by_class.N] tables: other words for a reply of class N (2-5), or for
    no reply at all (`none`, kept under 0)."""
    if not isinstance(table, dict):
        raise CatalogError(f"{where}: 'by_class' must be a table of reply classes")
    found: dict[int, dict[str, str]] = {}
    for digit, words in table.items():
        if digit not in ("2", "3", "4", "5", "none") or not isinstance(words, dict) or not set(words) <= _STEP_WORDS:
            raise CatalogError(f"{where}: by_class.{digit} must be 2-5 or none, with {sorted(_STEP_WORDS)}")
        key = 0 if digit == "none" else int(digit)
        found[key] = {name: _str(words, name, f"{where} by_class.{digit}") for name in words}
    return found


def _variants(
    table: Any, where: str, keys: frozenset[str] = frozenset({"severity", "title", "explanation"})
) -> dict[str, dict[str, str]]:
    """A finding's or step's [*.variants.KEY] tables: its words for one kind of evidence."""
    if not isinstance(table, dict) or not all(isinstance(words, dict) for words in table.values()):
        raise CatalogError(f"{where}: 'variants' must be a table of tables")
    found: dict[str, dict[str, str]] = {}
    for key, words in table.items():
        if not set(words) <= keys:
            raise CatalogError(f"{where}: variants.{key} may only give {', '.join(sorted(keys))}")
        found[key] = {name: _str(words, name, f"{where} variants.{key}") for name in words}
    return found


def _choice(table: Mapping[str, Any], key: str, where: str, choices: tuple[str, ...]) -> str:
    value = _str(table, key, where)
    if value not in choices:
        raise CatalogError(f"{where}: '{key}' must be one of {', '.join(choices)}, got {value!r}")
    return value


def _int(table: Mapping[str, Any], key: str, where: str) -> int:
    value = table.get(key)
    # bool is an int subclass; a flag must not pass as a number.
    if not isinstance(value, int) or isinstance(value, bool):
        raise CatalogError(f"{where}: '{key}' must be an integer, got {value!r}")
    return value


def _bool(table: Mapping[str, Any], key: str, where: str) -> bool:
    value = table.get(key)
    if not isinstance(value, bool):
        raise CatalogError(f"{where}: '{key}' must be true or false, got {value!r}")
    return value


def _rows(document: Mapping[str, Any], key: str, where: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    rows = document.get(key)
    if not isinstance(rows, list) or not rows:
        raise CatalogError(f"{where}: expected a non-empty array of [[{key}]] tables")
    for index, row in enumerate(rows):
        if not isinstance(row, dict):
            raise CatalogError(f"{where}: [[{key}]] number {index + 1} is not a table")
        yield f"{where} [[{key}]] #{index + 1}", row


def _unique(keys: list[Any], what: str) -> None:
    seen: set[Any] = set()
    for key in keys:
        if key in seen:
            raise CatalogError(f"duplicate {what}: {key!r}")
        seen.add(key)


def read_documents(names: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The catalog's TOML files, parsed; from a JSON copy in the user's cache while it is current.

    Parsing the TOML takes ~10 ms a run, reading its JSON copy under 1 ms. The copy is named
    after the files' sizes and modification times and smtpdoc's version, so an edited or
    upgraded catalog is parsed again; a copy that cannot be read or written is ignored.
    """
    stamp = _stamp(names)
    name = f"catalog-{stamp}.json"
    if stamp:
        try:
            docs = json.loads(cache.read(name) or "null")
        except ValueError:
            docs = None
        if isinstance(docs, dict) and sorted(docs) == sorted(names) and all(isinstance(d, dict) for d in docs.values()):
            return docs
    docs = {n: _read(n) for n in names}
    if stamp:
        try:
            cache.write(name, json.dumps(docs))
        except TypeError:
            pass  # a value JSON cannot hold (a TOML date): parse each time
    return docs


def _stamp(names: Sequence[str]) -> str:
    base = resources.files("smtpdoc.catalog")
    parts = [__version__]
    for n in names:
        path = base.joinpath(n)
        if not isinstance(path, os.PathLike):
            return ""  # not plain files (a zip): no copy
        try:
            info = os.stat(path)
        except OSError:
            return ""
        parts.append(f"{os.fspath(path)}:{info.st_size}:{info.st_mtime_ns}")
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


def _read(name: str) -> dict[str, Any]:
    try:
        text = resources.files("smtpdoc.catalog").joinpath(name).read_text(encoding="utf-8")
        return tomllib.loads(text)
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise CatalogError(f"cannot read catalog file {name}: {error}") from error


def _hex(number: int) -> str:
    return f"0x{number:04x}" if number >= 0 else str(number)
