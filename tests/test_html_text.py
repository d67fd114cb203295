"""The HTML page's escaping: smtpdoc's quicker `escape` gives markupsafe's text, and the templates use it."""

from __future__ import annotations

import markupsafe
import pytest
from markupsafe import Markup

from smtpdoc.render import html
from smtpdoc.render.common import LINE_BOUND
from smtpdoc.render.html_text import _CACHED, escape, shown, shown_bounded


class _Html:
    def __html__(self) -> str:
        return "<i>already markup</i>"


VALUES = ["<script>alert('x') & \"y\"</script>", "plain", "", Markup("<b>safe</b>"), 0, -42, 10**30, True, 2.5, None]


@pytest.mark.parametrize("value", [*VALUES, _Html()])
def test_escape_gives_markupsafes_text(value: object) -> None:
    ours = escape(value)
    assert type(ours) is Markup
    assert ours == markupsafe.escape(value)


def test_every_template_escapes_with_the_quicker_escape() -> None:
    for name, template in html._templates().items():
        assert template.root_render_func.__globals__["escape"] is escape, name


@pytest.mark.parametrize("length", [10, _CACHED, _CACHED + 1, 5 * _CACHED])
def test_shown_texts_are_escaped_whether_cached_or_not(length: int) -> None:
    text = ("<b>&" * length)[:length]
    assert shown(text) == markupsafe.escape(text)
    cut = shown_bounded(text, LINE_BOUND)
    if length <= LINE_BOUND:
        assert cut == markupsafe.escape(text)
    else:  # the cut comes before the escaping: no entity is cut in half
        assert cut.startswith(markupsafe.escape(text[:LINE_BOUND]) + "… (cut: ")
        assert f"{length:,} characters in all)" in cut
