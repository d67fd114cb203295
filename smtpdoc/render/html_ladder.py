"""The HTML page's sequence diagrams: a session's wide and narrow ladders as inline SVG.

Written here rather than in the Jinja2 template because a ladder is most of a
page (some 30 elements with numeric attributes per diagram, two diagrams per
session): evaluated by Jinja2, every coordinate was an escaped expression, and
the diagrams took over half the page's rendering time.

Every text that can come from the capture is escaped by markupsafe, through
`smtpdoc.render.html_text` (`shown`: printable then escaped, `escaped`: escaped;
both cached, as titles and protocol lines repeat from session to session);
numbers come from `smtpdoc.render.ladder.layout` as ints and are written as such,
and so are the layout's own words (an arrow's direction, a time offset). An
arrow is written by one f-string. The result is `Markup`, so the template's
autoescaping leaves it as it is.
"""

from __future__ import annotations

from markupsafe import Markup

from smtpdoc.model import Session
from smtpdoc.render.html_text import escape, escaped, shown
from smtpdoc.render.ladder import BOTH, Layout, arrows, cut, layout, offset

_HEADS = (("c2s", "#1f5fbf"), ("s2c", "#157347"), ("both", "#8a93a3"))


def ladders(session: Session, sid: str) -> tuple[Markup, bool]:
    """The wide ladder and the narrow one, one after the other, and whether they show a band inside TLS."""
    drawn = arrows(session)
    wide = layout(session, drawn=drawn)
    parts: list[str] = []
    for lay in (wide, layout(session, narrow=True, drawn=drawn)):
        _svg(parts, session, sid, lay)
    return Markup("".join(parts)), bool(wide.bands)


def _svg(parts: list[str], session: Session, sid: str, lay: Layout) -> None:
    add = parts.append
    kind = escape(lay.kind)
    sid = escape(sid)
    lid = escape(f"{sid}-{lay.kind}")
    client, server = shown(session.client), shown(session.server)
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
    for x, who, endpoint, title in (
        (lay.client_x, "Client", session.client, client),
        (lay.server_x, "Server", session.server, server),
    ):
        add(
            f'<line class="lane lane-{who.lower()}" x1="{x}" y1="52" x2="{x}" y2="{lay.height - 6}"/>\n'
            f'<rect class="who" x="{x - lay.box_half}" y="6" width="{2 * lay.box_half}" height="46" rx="6"/>\n'
            f'<text class="who" x="{x}" y="25">{who}</text>\n'
            f'<text class="ep" x="{x}" y="42">{escaped(cut(str(endpoint), lay.endpoint_chars))}'
            f"<title>{title}</title></text>\n"
        )
    add("\n")
    middle = (lay.client_x + lay.server_x) // 2
    flag_x = lay.server_x + 40
    marker = f"url(#{lid}-head-"
    for row in lay.rows:
        a = row.arrow
        direction = a.direction  # C2S, S2C or BOTH: the layout's own words
        line_y = row.line_y
        time = (
            f'<text class="tm" x="{lay.time_x}" y="{line_y + 4}">{offset(a.time)}</text>\n' if lay.time_column else ""
        )
        heading = (
            f'<a href="#{sid}-step{a.step}"><text class="ti" x="{middle}" y="{row.title_y}">'
            f"{shown(row.title)}</text></a>\n"
            if a.title
            else ""
        )
        enc = " enc" if a.encrypted else ""
        start = f' marker-start="{marker}both)"' if direction == BOTH else ""
        tip = row.x2 + (-4 if row.x2 > row.x1 else 4)
        label = (
            f'<text class="{"lb" if a.mono else "sm"}" x="{middle}" y="{row.text_y}">{escaped(row.label)}'
            f"<title>{shown(a.text)}</title></text>\n"
            if row.label
            else ""
        )
        flag = (
            f'<g class="flag"><circle class="sev-{shown(a.flagged)}" cx="{flag_x}" cy="{line_y}" '
            f'r="8"/><text x="{flag_x}" y="{line_y + 4}">!</text>'
            f"<title>a finding ({escaped(a.flagged)}) concerns this step</title></g>\n"
            if a.flagged
            else ""
        )
        add(
            f'<g class="arrow {direction}" data-step="{a.step}">\n{time}{heading}'
            f'<line class="{direction}{enc}" x1="{row.x1}" y1="{line_y}" x2="{tip}" y2="{line_y}" '
            f'marker-end="{marker}{direction})"{start}/>\n{label}{flag}</g>\n'
        )
    add("</svg>\n")
