"""Session-level findings, decided once a session is over: completeness and STARTTLS hygiene.

Frame-local findings (an error reply, a bare LF, ...) are raised by the machine as it
reads; these need the whole session: was STARTTLS offered, used, masked, refused and
followed by cleartext mail; did the client say EHLO again inside TLS.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from smtpdoc import smtp_text
from smtpdoc.dialogue_types import Side
from smtpdoc.model import Step

if TYPE_CHECKING:
    from smtpdoc.session import SessionMachine


def judge(m: SessionMachine) -> None:
    """Session-level findings: completeness and STARTTLS hygiene."""
    s = m.session
    if m.handshake.syn is None and not m.outer.greeted:
        s.notes.append("The capture starts after this session began: the handshake and greeting are missing.")
        m.finding("mid_session", [s.first_frame], "no SYN and no greeting")
    elif m.handshake.syn is None:
        s.notes.append("The TCP handshake is not in the capture; the session is seen from its greeting.")
    if m.seen[Side.CLIENT] == 0 or m.seen[Side.SERVER] == 0:
        one = "server" if m.seen[Side.CLIENT] == 0 else "client"
        s.notes.append(f"Only the {one}'s side of this session is in the capture.")
        m.finding("one_sided", [s.first_frame], f"only {one} → peer packets")
    if m.tls is not None and m.tls.version is None and s.tls is not None and not s.tls.client_hello:
        s.notes.append("The TLS handshake is not visible (not captured, or not dissected as TLS).")
    keywords = [e.keyword.upper() for e in s.extensions]
    masked = [k for k in keywords if smtp_text.is_masked_starttls(k)]
    ehlo_reply = next((st for st in s.steps if st.name == "ehlo_reply" and not st.inside_tls), None)
    mail_steps = [
        st for st in s.steps if st.name in ("mail_from", "auth") and not st.inside_tls and not _after_tls(m, st)
    ]
    implicit = s.tls is not None and s.tls.implicit
    if masked and ehlo_reply is not None:
        m.finding("starttls_masked", ehlo_reply.frames, masked[0])
    elif (
        ehlo_reply is not None
        and "STARTTLS" not in keywords
        and not implicit
        and ehlo_reply.facts.get("extensions") is not None
    ):
        if m.starttls_requested:
            m.finding("starttls_stripped", ehlo_reply.frames, "STARTTLS asked for but not advertised")
        else:
            m.finding("starttls_not_offered", ehlo_reply.frames)
    if "STARTTLS" in keywords and not m.starttls_requested and mail_steps:
        m.finding("starttls_not_used", [f for st in mail_steps for f in st.frames[:1]])
    refused = any(f.name == "starttls_refused" for f in s.findings)
    if refused and mail_steps:
        m.finding("cleartext_after_refusal", [f for st in mail_steps for f in st.frames[:1]])
    if m.inner is not None:
        inner_cmds = [st for st in s.steps if st.inside_tls and st.direction == "client"]
        if inner_cmds and inner_cmds[0].name != "ehlo":
            m.finding("no_ehlo_after_tls", inner_cmds[0].frames[:1])
        if s.inner_extensions and any(e.keyword.upper() == "STARTTLS" for e in s.inner_extensions):
            inner_reply = next(st for st in s.steps if st.name == "ehlo_reply" and st.inside_tls)
            m.finding("starttls_after_tls", inner_reply.frames)


def _after_tls(m: SessionMachine, step: Step) -> bool:
    return m.tls is not None and m.tls.handshake is not None and step.frames[0] > m.tls.handshake.frames[0]
