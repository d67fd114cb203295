"""Session-level findings, decided once a session is over: completeness and STARTTLS hygiene.

Frame-local findings (an error reply, a bare LF, ...) are raised by the machine as it
reads; these need the whole session: was STARTTLS offered, used, masked, refused and
followed by cleartext mail; did the client say EHLO again inside TLS. The machine hands
over what it observed (`Observed`) and the builder; judge reads the session it built.
"""

from __future__ import annotations

from dataclasses import dataclass

from smtpdoc import smtp_text
from smtpdoc.builder import SessionBuilder
from smtpdoc.model import Step


@dataclass(slots=True)
class Observed:
    """What the machine saw that the session model does not hold (not frozen: a frozen
    dataclass's __init__ sets each of its twelve fields through object.__setattr__)."""

    syn_seen: bool
    greeted: bool  # in the clear (before any TLS)
    client_packets: int
    server_packets: int
    tls_started: bool
    tls_version_seen: bool  # a ServerHello said which version
    tls_handshake_frame: int | None  # the first frame of the TLS handshake step
    starttls_requested: bool
    decrypted: bool  # an inner dialogue was read
    client_payloads: int = 0  # packets with bytes, by side
    server_payloads: int = 0
    left_before_greeting: int | None = None  # the frame of the client's FIN/RST before any byte either way
    open_at_end: bool = False  # a connection under way, and no FIN or RST from either side in the capture


def judge(b: SessionBuilder, seen: Observed) -> None:
    """Session-level findings: completeness and STARTTLS hygiene."""
    s = b.session
    if not seen.syn_seen and not seen.greeted:
        b.note("mid_session")
        b.finding("mid_session", [s.first_frame], b.detail("mid_session"))
    elif not seen.syn_seen:
        b.note("no_tcp_handshake")
    if seen.client_packets == 0 or seen.server_packets == 0:
        one = "server" if seen.client_packets == 0 else "client"
        b.note("one_sided", side=one)
        b.finding("one_sided", [s.first_frame], b.detail("one_sided", side=one))
    if seen.left_before_greeting is not None:
        b.finding("client_left_before_greeting", [seen.left_before_greeting], b.detail("client_left_before_greeting"))
    elif seen.server_packets and not seen.server_payloads and seen.client_payloads:
        first = next((st.frames[:1] for st in s.steps if st.direction == "client" and st.lines), [s.first_frame])
        b.finding("no_server_reply", first, b.detail("no_server_reply"))
    if seen.open_at_end:
        b.note("open_at_end", frame=s.last_frame)
    if seen.tls_started and not seen.tls_version_seen and s.tls is not None and not s.tls.client_hello:
        b.note("tls_handshake_unseen")
    ehlo_reply = next((st for st in s.steps if st.name == "ehlo_reply" and not st.inside_tls), None)
    # What the first cleartext EHLO reply offered decides (a second one, after a STARTTLS that
    # did not turn to TLS, lists what the server offers then).
    offered = ehlo_reply.facts.get("extensions") if ehlo_reply is not None else None
    keywords = [k.upper() for k in offered] if offered is not None else [e.keyword.upper() for e in s.extensions]
    masked = [k for k in keywords if k[:1] == "X" and smtp_text.is_masked_starttls(k)]  # upper case already
    mail_steps = [
        st for st in s.steps if st.name in ("mail_from", "auth") and not st.inside_tls and not _after_tls(seen, st)
    ]
    implicit = s.tls is not None and s.tls.implicit
    if masked and ehlo_reply is not None:
        b.finding("starttls_masked", ehlo_reply.frames, masked[0])
    elif (
        ehlo_reply is not None
        and "STARTTLS" not in keywords
        and not implicit
        and ehlo_reply.facts.get("extensions") is not None
    ):
        if seen.starttls_requested:
            b.finding("starttls_stripped", ehlo_reply.frames, b.detail("starttls_stripped"))
        else:
            b.finding("starttls_not_offered", ehlo_reply.frames)
    if "STARTTLS" in keywords and not seen.starttls_requested and mail_steps:
        b.finding("starttls_not_used", [f for st in mail_steps for f in st.frames[:1]])
    if b.has_finding("starttls_refused") and mail_steps:
        b.finding("cleartext_after_refusal", [f for st in mail_steps for f in st.frames[:1]])
    if seen.decrypted:
        inner_cmds = [st for st in s.steps if st.inside_tls and st.direction == "client"]
        if inner_cmds and inner_cmds[0].name != "ehlo":
            b.finding("no_ehlo_after_tls", inner_cmds[0].frames[:1])
        if s.inner_extensions and any(e.keyword.upper() == "STARTTLS" for e in s.inner_extensions):
            inner_reply = next(st for st in s.steps if st.name == "ehlo_reply" and st.inside_tls)
            b.finding("starttls_after_tls", inner_reply.frames)


def _after_tls(seen: Observed, step: Step) -> bool:
    return seen.tls_handshake_frame is not None and step.frames[0] > seen.tls_handshake_frame
