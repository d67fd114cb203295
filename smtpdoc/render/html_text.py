"""Text as the HTML page writes it: made printable, then escaped by markupsafe.

Jinja2 compiles each `{{ }}` of an autoescaping template to markupsafe's `escape`,
which makes a new Markup even of a Markup (the text the `p` filter returns) or of
an int, through Markup's constructor written in Python: a page of 1,000 sessions
made some 200,000 of those calls, a fifth of the time HTML took more than JSON
(issue 11). `escape` here gives the same text with two shortcuts: a Markup is
returned as it is (it is escaped text already) and an int as its digits; any
other value goes to markupsafe's `escape`. `fast_escaping` has a template use it.

Most capture texts repeat from session to session (titles, the catalog's
explanations, protocol lines), so the escaped form of a string is cached, if it
is short: a cache of long texts would hold on to megabytes.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import markupsafe
from jinja2 import Template
from markupsafe import Markup

from smtpdoc.render.common import bounded, printable

_CACHED = 1024  # characters of the longest text whose escaped form is cached
_as_markup = str.__new__  # Markup of a str, without Markup's constructor (a Python call)


def escape(value: Any) -> Markup:
    """markupsafe's `escape`, quicker on what needs no escaping: Markup and int."""
    kind = type(value)
    if kind is Markup:
        return value  # type: ignore[no-any-return]
    if kind is int:
        return _as_markup(Markup, str(value))
    return markupsafe.escape(value)


def fast_escaping(template: Template) -> None:
    """Have `template` escape its `{{ }}` with `escape` above instead of markupsafe's.

    Jinja2's compiled template looks `escape` up in its module's globals; should a later
    Jinja2 name it otherwise, nothing is replaced and markupsafe's escape stays in use."""
    names = template.root_render_func.__globals__
    if names.get("escape") is markupsafe.escape:
        names["escape"] = escape


def escaped(text: str) -> Markup:
    """`escape` of a str, cached like `shown`'s (for text that is printable already)."""
    return _escaped_text(text) if len(text) <= _CACHED else markupsafe.escape(text)


@lru_cache(maxsize=4096)
def _escaped_text(text: str) -> Markup:
    return markupsafe.escape(text)


def shown(value: object) -> Markup:
    """Capture-derived text as the page shows it: `printable`, then escaped (the `p` filter)."""
    text = value if type(value) is str else str(value)  # as `printable` would: an endpoint, a code
    return _shown_text(text) if len(text) <= _CACHED else markupsafe.escape(printable(text))


@lru_cache(maxsize=4096)
def _shown_text(text: str) -> Markup:
    return markupsafe.escape(printable(text))


def shown_bounded(value: object, limit: int) -> Markup:
    """`printable` text cut by `bounded`, then escaped (the `pb` filter): the cut comes first."""
    if type(value) is str and len(value) <= _CACHED:
        return _shown_bounded_text(value, limit)
    return markupsafe.escape(bounded(printable(value), limit))


@lru_cache(maxsize=4096)
def _shown_bounded_text(text: str, limit: int) -> Markup:
    return markupsafe.escape(bounded(printable(text), limit))
