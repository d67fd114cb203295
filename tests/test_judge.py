"""Session-level findings from what the machine observed and the session it built (no tshark)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from smtpdoc.builder import SessionBuilder
from smtpdoc.catalog.rules import load_rules
from smtpdoc.judge import Observed, judge
from smtpdoc.model import Endpoint, Extension

SEEN = Observed(
    syn_seen=True,
    greeted=True,
    client_packets=5,
    server_packets=5,
    tls_started=False,
    tls_version_seen=False,
    tls_handshake_frame=None,
    starttls_requested=False,
    decrypted=False,
)


def _builder(*extensions: str) -> SessionBuilder:
    b = SessionBuilder(0, load_rules())
    b.start(0.0, 1, Endpoint("127.0.0.1", 40000), Endpoint("127.0.0.1", 25))
    reply = b.step("ehlo_reply", [6], 0.1, "server", facts={"extensions": list(extensions)})
    b.extensions([Extension(k, "") for k in extensions], inside_tls=False)
    b.step("mail_from", [8], 0.2, "client")
    assert reply.frames == [6]
    return b


@pytest.mark.parametrize(
    ("extensions", "seen", "findings", "notes"),
    [
        (("PIPELINING", "STARTTLS"), SEEN, ["starttls_not_used"], []),
        (("PIPELINING",), SEEN, ["starttls_not_offered"], []),
        (("PIPELINING",), replace(SEEN, starttls_requested=True), ["starttls_stripped"], []),
        (("XXXXXXXA",), SEEN, ["starttls_masked"], []),
        (
            ("STARTTLS",),
            replace(SEEN, syn_seen=False, greeted=False),
            ["mid_session", "starttls_not_used"],
            ["The capture starts after this session began: the handshake and greeting are missing."],
        ),
        (
            ("STARTTLS",),
            replace(SEEN, server_packets=0),
            ["one_sided", "starttls_not_used"],
            ["Only the client's side of this session is in the capture."],
        ),
    ],
    ids=["not-used", "not-offered", "stripped", "masked", "mid-session", "one-sided"],
)
def test_judge_names_what_the_whole_session_shows(
    extensions: tuple[str, ...], seen: Observed, findings: list[str], notes: list[str]
) -> None:
    b = _builder(*extensions)
    judge(b, seen)
    assert [f.name for f in b.session.findings] == findings
    assert b.session.notes == notes


def test_mail_after_the_tls_handshake_is_not_cleartext() -> None:
    b = _builder("STARTTLS")
    judge(b, replace(SEEN, tls_started=True, tls_version_seen=True, tls_handshake_frame=7))
    assert [f.name for f in b.session.findings] == []  # MAIL (frame 8) came after TLS began (frame 7)
    before = _builder("STARTTLS")
    judge(before, replace(SEEN, tls_started=True, tls_version_seen=True, tls_handshake_frame=9))
    assert [f.name for f in before.session.findings] == ["starttls_not_used"]
