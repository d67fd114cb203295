"""The HTML page's sequence diagrams: a session's wide and narrow ladders as inline SVG.

Written here rather than in the Jinja2 template because a ladder is most of a
page (some 30 elements with numeric attributes per diagram, two diagrams per
session): evaluated by Jinja2, every coordinate was an escaped expression, and
the diagrams took over half the page's rendering time.

Every text that can come from the capture goes through markupsafe's `escape`;
numbers come from `smtpdoc.render.ladder.layout` as ints and are written as such,
and so are the layout's own words (an arrow's direction, a time offset).
The result is `Markup`, so the template's autoescaping leaves it as it is.
"""

from __future__ import annotations

from markupsafe import Markup, escape

from smtpdoc.model import Session
from smtpdoc.render.common import printable
from smtpdoc.render.ladder import BOTH, Layout, arrows, cut, layout, offset

_HEADS = (("c2s", "#1f5fbf"), ("s2c", "#157347"), ("both", "#8a93a3"))


def ladders(session: Session, sid: str) -> tuple[Markup, bool]:
    """The wide ladder and the narrow one, one after the other, and whether they show a band inside TLS."""
    drawn = arrows(session)
    wide = layout(session, drawn=drawn)
    parts: list[str] = []
    hover: dict[int, str] = {}  # id(arrow) → its full text escaped, shown by both ladders
    for lay in (wide, layout(session, narrow=True, drawn=drawn)):
        _svg(parts, session, sid, lay, hover)
    return Markup("".join(parts)), bool(wide.bands)


def _svg(parts: list[str], session: Session, sid: str, lay: Layout, hover: dict[int, str]) -> None:
    add = parts.append
    kind = escape(lay.kind)
    sid = escape(sid)
    lid = escape(f"{sid}-{lay.kind}")
    client, server = escape(printable(session.client)), escape(printable(session.server))
    add(
        f'\n<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {lay.width} {lay.height}" role="img" '
        f'aria-labelledby="{lid}-title" class="ladder-svg ladder-{kind}">\n'
        f'<title id="{lid}-title">Sequence diagram of session {session.index}: {client} and {server}</title>\n'
        "<defs>\n"
    )
    for name, colour in _HEADS:
        add(
            f'<marker id="{lid}-head-{name}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
            f'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="{colour}"/></marker>\n'
        )
    add("</defs>\n")
    for band in lay.bands:
        add(
            f'<rect class="band" x="{lay.client_x - 60}" y="{band.y}" width="{lay.server_x - lay.client_x + 120}" '
            f'height="{band.height}" rx="6"/>\n'
            f'<text class="bl" x="{lay.server_x + 56}" y="{band.y + 12}">inside TLS (decrypted)</text>\n'
        )
    add("\n")
    for x, who, endpoint, shown in (
        (lay.client_x, "Client", session.client, client),
        (lay.server_x, "Server", session.server, server),
    ):
        add(
            f'<line class="lane lane-{who.lower()}" x1="{x}" y1="52" x2="{x}" y2="{lay.height - 6}"/>\n'
            f'<rect class="who" x="{x - lay.box_half}" y="6" width="{2 * lay.box_half}" height="46" rx="6"/>\n'
            f'<text class="who" x="{x}" y="25">{who}</text>\n'
            f'<text class="ep" x="{x}" y="42">{escape(cut(str(endpoint), lay.endpoint_chars))}'
            f"<title>{shown}</title></text>\n"
        )
    add("\n")
    middle = (lay.client_x + lay.server_x) // 2
    flag_x = lay.server_x + 40
    for row in lay.rows:
        a = row.arrow
        direction = a.direction  # C2S, S2C or BOTH: the layout's own words
        add(f'<g class="arrow {direction}" data-step="{a.step}">\n')
        if lay.time_column:
            add(f'<text class="tm" x="{lay.time_x}" y="{row.line_y + 4}">{offset(a.time)}</text>\n')
        if a.title:
            add(
                f'<a href="#{sid}-step{a.step}"><text class="ti" x="{middle}" y="{row.title_y}">'
                f"{escape(printable(row.title))}</text></a>\n"
            )
        enc = " enc" if a.encrypted else ""
        start = f' marker-start="url(#{lid}-head-both)"' if a.direction == BOTH else ""
        tip = row.x2 + (-4 if row.x2 > row.x1 else 4)
        add(
            f'<line class="{direction}{enc}" x1="{row.x1}" y1="{row.line_y}" x2="{tip}" y2="{row.line_y}" '
            f'marker-end="url(#{lid}-head-{direction})"{start}/>\n'
        )
        if row.label:
            text = hover.get(id(a))
            if text is None:
                text = hover[id(a)] = escape(printable(a.text))
            add(
                f'<text class="{"lb" if a.mono else "sm"}" x="{middle}" y="{row.text_y}">{escape(row.label)}'
                f"<title>{text}</title></text>\n"
            )
        if a.flagged:
            add(
                f'<g class="flag"><circle class="sev-{escape(printable(a.flagged))}" cx="{flag_x}" cy="{row.line_y}" '
                f'r="8"/><text x="{flag_x}" y="{row.line_y + 4}">!</text>'
                f"<title>a finding ({escape(a.flagged)}) concerns this step</title></g>\n"
            )
        add("</g>\n")
    add("</svg>\n")
