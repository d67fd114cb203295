"""The words of proxy tunnels (tunnel.toml), read and checked once."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from smtpdoc.catalog._tables import _read, _str
from smtpdoc.catalog.entries import CatalogError

_PROTOCOLS = ("http", "socks5", "socks4", "socks4a")
_LINES = (
    "offer",
    "choice",
    "login",
    "login_status",
    "request",
    "request_user",
    "answer",
    "answer_bound",
    "answer_cut",
    "answer_cut_note",
    "rest",
    "login_accepted",
    "login_refused",
    "unknown_code",
    "proxy_v2",
    "proxy_v2_local",
)
_DETAILS = ("tunnel", "tunnel_refused", "tunnel_not_proxy", "credentials", "socks5_login", "http_basic", "http_other")


@dataclass(frozen=True)
class TunnelWords:
    protocols: Mapping[str, str]
    socks5_methods: Mapping[int, str]
    socks5_replies: Mapping[int, str]
    socks4_replies: Mapping[int, str]
    http_classes: Mapping[int, str]
    lines: Mapping[str, str]
    details: Mapping[str, str]


def _table(doc: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    table = doc.get(key)
    if not isinstance(table, dict):
        raise CatalogError(f"tunnel.toml: missing [{key}] table")
    return table


def _named(doc: Mapping[str, Any], key: str, names: tuple[str, ...]) -> dict[str, str]:
    table = _table(doc, key)
    if set(table) != set(names):
        raise CatalogError(f"tunnel.toml [{key}]: expected exactly {sorted(names)}, got {sorted(table)}")
    return {name: _str(table, name, f"tunnel.toml [{key}]") for name in names}


def _codes(doc: Mapping[str, Any], key: str) -> dict[int, str]:
    table = _table(doc, key)
    if not all(k.isdigit() for k in table):
        raise CatalogError(f"tunnel.toml [{key}]: keys must be decimal numbers, got {sorted(table)}")
    return {int(k): _str(table, k, f"tunnel.toml [{key}]") for k in table}


@functools.cache
def load_tunnel_words() -> TunnelWords:
    doc = _read("tunnel.toml")
    return TunnelWords(
        protocols=_named(doc, "protocols", _PROTOCOLS),
        socks5_methods=_codes(doc, "socks5_methods"),
        socks5_replies=_codes(doc, "socks5_replies"),
        socks4_replies=_codes(doc, "socks4_replies"),
        http_classes=_codes(doc, "http_classes"),
        lines=_named(doc, "lines", _LINES),
        details=_named(doc, "details", _DETAILS),
    )
