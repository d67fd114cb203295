"""Issue 9, class 10: SMTP inside a proxy tunnel (HTTP CONNECT, SOCKS5, SOCKS4a) is found from the
client's first bytes and explained after the tunnel's set-up; a refused tunnel says no SMTP followed.

The captures are made by examples/make_examples.sh (examples/lab/messy_lab.py and tunnel_lab.py);
connect-with-smtp.pcap is a real spam relay attempt from Zeek's test suite (../shared/corpus).
Frame numbers are read from tshark's listing of each capture.
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
from pathlib import Path

import jsonschema
import pytest

from smtpdoc.catalog import load_catalog
from smtpdoc.events import CLIENT, SERVER
from smtpdoc.model import Session, Step
from smtpdoc.reassembly import ByteStream
from smtpdoc.tshark import Tshark
from smtpdoc.tunnel import TunnelMessage, TunnelReader, sniff

from conftest import CORPUS, DATA, NO_CORPUS, ROOT, explained, run_cli, sessions_of

CONNECT_WITH_SMTP = CORPUS / "zeek" / "traces" / "connect-with-smtp.pcap"
PROXY_PASSWORD = "pr0xy-Secret"
PROXY_USER = "proxyuser"
BASIC_TOKEN = "cHJveHl1c2VyOnByMHh5LVNlY3JldA=="  # base64 of proxyuser:pr0xy-Secret


def _names_frames(session: Session) -> list[tuple[str, list[int]]]:
    return [(step.name, step.frames) for step in session.steps]


def _tunnel(session: Session) -> Step:
    (step,) = [step for step in session.steps if step.name == "tunnel"]
    return step


def _finding_names(session: Session) -> set[str]:
    return {found.name for found in session.findings}


# -- the reader, fed bytes by hand ------------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "protocol"),
    [
        (b"CONNECT mx.example:25 HTTP/1.1\r\n", "http"),
        (b"CONN", "undecided"),
        (b"EHLO client\r\n", None),
        (b"GET / HTTP/1.1\r\n", None),
        (b"\x05\x02\x00\x02", "socks5"),
        (b"\x05\x02\x00", "undecided"),  # two methods announced, one arrived
        (b"\x05\x00", None),  # no method at all
        (b"\x04\x01\x00\x19\x7f\x00\x00\x01\x00", "socks4"),
        (b"\x04\x09", None),
        (b"\x16\x03\x01", None),  # a TLS record is no tunnel
        (b"", "undecided"),
    ],
)
def test_the_first_bytes_say_which_tunnel(first: bytes, protocol: str | None) -> None:
    assert sniff(first) == protocol


def _feed(data: bytes) -> ByteStream:
    stream = ByteStream(32)
    stream.add(0, data, 4, 1.0)
    return stream


def _read_all(reader: TunnelReader) -> list[TunnelMessage]:
    found = []
    while (event := reader.next_event()) is not None:
        found.append(event)
    return found


def test_socks5_with_an_ipv6_target_and_a_login_is_read_in_order() -> None:
    target = b"\x05\x01\x00\x04" + bytes(15) + b"\x01" + b"\x00\x19"  # [::1]:25
    client = _feed(b"\x05\x01\x02" + b"\x01\x01u\x02pw" + target + b"EHLO x\r\n")
    server = _feed(b"\x05\x02" + b"\x01\x00" + b"\x05\x00\x00\x01\x7f\x00\x00\x01\x9c\x40" + b"220 ready\r\n")
    events = _read_all(TunnelReader("socks5", client, server))
    assert [(e.side, e.part) for e in events] == [
        (CLIENT, "offer"),
        (CLIENT, "login"),
        (CLIENT, "request"),
        (SERVER, "choice"),
        (SERVER, "login_status"),
        (SERVER, "answer"),
    ]
    login, request, answer = events[1], events[2], events[5]
    assert (login.user, login.secret) == ("u", "pw")
    assert (request.host, request.port) == ("::1", 25)
    assert (answer.code, answer.granted, answer.host, answer.port) == (0, True, "127.0.0.1", 40000)
    assert bytes(client.buffer) == b"EHLO x\r\n" and bytes(server.buffer) == b"220 ready\r\n"  # left for SMTP


@pytest.mark.parametrize(
    ("server_bytes", "part", "granted"),
    [
        (b"HTTP/1.0 403 Forbidden\r\n\r\n", "answer", False),
        (b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n", "answer", False),
        (b"HTTP/1.1 200 OK\r\n\r\n", "answer", True),
        (b"220 mx.example ESMTP\r\n", "not_proxy", None),  # an SMTP server was sent CONNECT
    ],
)
def test_the_http_status_class_decides_the_tunnel(server_bytes: bytes, part: str, granted: bool | None) -> None:
    client = _feed(b"CONNECT mx.example:25 HTTP/1.1\r\nProxy-Authorization: Basic dTpw\r\n\r\n")
    events = _read_all(TunnelReader("http", client, _feed(server_bytes)))
    request, answer = events
    assert (answer.part, answer.granted) == (part, granted)
    assert (request.host, request.port, request.user, request.secret) == ("mx.example", 25, "u", "p")


def test_socks4a_names_its_target() -> None:
    client = _feed(b"\x04\x01\x00\x19\x00\x00\x00\x01bot\x00mx.example\x00")
    server = _feed(b"\x00\x5b\x00\x00\x00\x00\x00\x00")
    request, answer = _read_all(TunnelReader("socks4", client, server))
    assert (request.host, request.port, request.user, request.socks4a) == ("mx.example", 25, "bot", True)
    assert (answer.code, answer.granted) == (0x5B, False)


# -- the captures -----------------------------------------------------------------------------

SMTP_AFTER = {
    # capture: (tunnel frames, the SMTP steps after it with their frames)
    "http-connect-tunnel.pcapng": (
        [4, 6],
        [("greeting", [8]), ("ehlo", [10]), ("ehlo_reply", [11]), ("mail_from", [12, 13]), ("rcpt_to", [14, 15])],
    ),
    "socks5-tunnel.pcapng": (
        [4, 6, 8, 9],
        [("greeting", [10]), ("ehlo", [12]), ("ehlo_reply", [13]), ("mail_from", [14, 15]), ("rcpt_to", [16, 17])],
    ),
    "socks5-login.pcapng": (
        [4, 6, 8, 9, 10, 11],
        [("greeting", [12]), ("ehlo", [14]), ("ehlo_reply", [15]), ("mail_from", [16, 17]), ("rcpt_to", [18, 19])],
    ),
    # the proxy's 200 and the relayed greeting in one segment: frame 6 carries both steps
    "http-connect-coalesced.pcapng": (
        [4, 6],
        [("greeting", [6]), ("ehlo", [8]), ("ehlo_reply", [9]), ("mail_from", [10, 11]), ("rcpt_to", [12, 13])],
    ),
    "socks4a-tunnel.pcapng": (
        [4, 6],
        [("greeting", [8]), ("ehlo", [10]), ("ehlo_reply", [11]), ("mail_from", [12, 13]), ("rcpt_to", [14, 15])],
    ),
}
TUNNEL_FACTS = {
    "http-connect-tunnel.pcapng": ("Proxy tunnel (HTTP CONNECT)", "127.0.0.1:8080", "127.0.0.1:25", 200),
    "http-connect-coalesced.pcapng": ("Proxy tunnel (HTTP CONNECT)", "127.0.0.1:8080", "127.0.0.1:25", 200),
    "socks5-tunnel.pcapng": ("Proxy tunnel (SOCKS5)", "127.0.0.1:1080", "127.0.0.1:25", 0),
    "socks5-login.pcapng": ("Proxy tunnel (SOCKS5)", "127.0.0.1:1080", "localhost:25", 0),
    "socks4a-tunnel.pcapng": ("Proxy tunnel (SOCKS4a)", "127.0.0.1:1080", "localhost:25", 0x5A),
}


@pytest.mark.parametrize("capture", sorted(SMTP_AFTER))
def test_smtp_inside_a_tunnel_is_read_from_the_greeting_on(capture: str) -> None:
    (session,) = sessions_of(DATA / capture)
    tunnel_frames, smtp = SMTP_AFTER[capture]
    steps = _names_frames(session)
    assert steps[:2] == [("tcp_handshake", [1, 2, 3]), ("tunnel", tunnel_frames)]
    assert steps[2 : 2 + len(smtp)] == smtp
    assert [name for name, _ in steps[-3:]] == ["message", "quit", "close"]
    step = _tunnel(session)
    title, proxy, target, code = TUNNEL_FACTS[capture]
    assert (step.title, step.facts["proxy"], step.facts["target"], step.facts["code"]) == (title, proxy, target, code)
    (found,) = [f for f in session.findings if f.name == "proxy_tunnel"]
    assert found.detail == f"{step.facts['protocol']} to {target} through {proxy}" and found.frames == [4]
    assert not _finding_names(session) & {"not_smtp", "early_talker", "smtp_unusual_port", "unexpected_reply"}
    (transaction,) = session.transactions
    assert transaction.mail_from == "bob@example.test" and transaction.last_reply.startswith("250 2.0.0 Ok")


def test_the_socks_answers_are_said_in_words() -> None:
    (socks5,) = sessions_of(DATA / "socks5-tunnel.pcapng")
    assert _tunnel(socks5).lines[:3] == [
        "C: SOCKS5 hello, login methods offered: no authentication",
        "S: SOCKS5 method chosen: no authentication",
        "C: SOCKS5 CONNECT 127.0.0.1:25",
    ]
    assert _tunnel(socks5).lines[3].startswith("S: SOCKS5 reply 0x00: succeeded (bound 127.0.0.1:")
    (socks4a,) = sessions_of(DATA / "socks4a-tunnel.pcapng")
    assert _tunnel(socks4a).lines == [
        "C: SOCKS4a CONNECT localhost:25, user id bot",
        "S: SOCKS4a reply 0x5a: request granted",
    ]
    assert _tunnel(socks4a).summary == (
        "The client asked the SOCKS4a proxy 127.0.0.1:1080 for a tunnel to localhost:25; "
        "the proxy answered 0x5a, request granted."
    )


REFUSED = {
    # capture: (tunnel frames, title, code, answer, the refusal's frame)
    "http-connect-refused.pcapng": (
        [4, 6],
        "Proxy refuses the tunnel (HTTP CONNECT)",
        407,
        "407 Proxy Authentication Required (refused by the proxy)",
        6,
    ),
    "socks5-refused.pcapng": ([4, 6, 8, 9], "Proxy refuses the tunnel (SOCKS5)", 5, "0x05, connection refused", 9),
    # refusals cut short: the proxy wrote only `05 05`, or only its status line, and closed
    "socks5-refused-short.pcapng": (
        [4, 6, 8, 9],
        "Proxy refuses the tunnel (SOCKS5)",
        5,
        "0x05, connection refused; the rest of the answer is not in the capture",
        9,
    ),
    "http-connect-status-only.pcapng": (
        [4, 6],
        "Proxy refuses the tunnel (HTTP CONNECT)",
        403,
        "403 Forbidden (refused by the proxy); the rest of the answer is not in the capture",
        6,
    ),
}
CUT_SHORT = {"socks5-refused-short.pcapng": "SOCKS5", "http-connect-status-only.pcapng": "HTTP CONNECT"}


@pytest.mark.parametrize("capture", sorted(REFUSED))
def test_a_refused_tunnel_says_no_smtp_followed(capture: str) -> None:
    (session,) = sessions_of(DATA / capture)
    frames, title, code, answer, refusal = REFUSED[capture]
    last = session.steps[-1].frames
    assert _names_frames(session) == [("tcp_handshake", [1, 2, 3]), ("tunnel", frames), ("close", last)]
    step = _tunnel(session)
    assert (step.title, step.facts["code"], step.facts["answer"], step.facts["target"]) == (
        title,
        code,
        answer,
        "127.0.0.1:25",
    )
    assert step.summary.endswith(", so no SMTP followed.")
    (found,) = [f for f in session.findings if f.name == "proxy_tunnel_refused"]
    assert found.frames == [refusal] and found.detail == f"{step.facts['protocol']} to 127.0.0.1:25: {answer}"
    assert _finding_names(session) == {"proxy_tunnel_refused"}
    assert session.transactions == []
    cut_line = f"(the rest of the {CUT_SHORT.get(capture)} answer is not in the capture: the stream ended inside it)"
    assert (step.lines[-1] == cut_line) is (capture in CUT_SHORT)


def test_a_cut_answer_that_grants_is_not_read_as_granted() -> None:
    """The stream ends after `05 00` of a SOCKS5 reply: the code grants, but the reply's address
    never came and no tunnel carried anything, so the answer stays unread (no guess); the same
    cut reply with code 0x01 is a refusal the bytes show."""
    request = b"\x05\x01\x00" + b"\x05\x01\x00\x01\x7f\x00\x00\x01\x00\x19"
    for reply, expected in ((b"\x05\x00", None), (b"\x05\x01", (1, False, True, (4,)))):
        reader = TunnelReader("socks5", _feed(request), _feed(b"\x05\x00" + reply))
        assert [e.part for e in _read_all(reader)] == ["offer", "request", "choice"]
        cut = reader.cut_answer()
        assert (None if cut is None else (cut.code, cut.granted, cut.cut, cut.frames)) == expected


def test_bytes_pipelined_behind_a_refused_connect_are_no_smtp() -> None:
    # The client sent its EHLO in frame 4 behind the CONNECT; the proxy refused: no ehlo step.
    (session,) = sessions_of(DATA / "http-connect-refused.pcapng")
    assert "ehlo" not in {step.name for step in session.steps}
    assert _tunnel(session).lines[:2] == ["C: CONNECT 127.0.0.1:25 HTTP/1.1", "C: Host: 127.0.0.1:25"]


def test_a_pipelined_connect_pairs_each_reply_with_its_command() -> None:
    capture = DATA / "http-connect-starttls.pcapng"
    (session,) = sessions_of(capture, keylog=str(capture.with_suffix(".keylog")))
    outer = [(step.name, step.frames) for step in session.steps if not step.inside_tls]
    assert outer == [
        ("tcp_handshake", [1, 2, 3]),
        ("tunnel", [4, 6]),
        ("ehlo", [4]),  # sent behind the CONNECT, before the proxy's 200
        ("greeting", [8]),
        ("ehlo_reply", [8]),
        ("starttls", [10]),
        ("starttls_reply", [11]),
        ("tls_handshake", [12, 13, 14]),
        ("encrypted", [15, 17, 18, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30]),
        ("close", [31, 32]),
    ]
    ehlo_reply = next(step for step in session.steps if step.name == "ehlo_reply" and not step.inside_tls)
    assert "STARTTLS" in ehlo_reply.facts["extensions"] and ehlo_reply.facts["verb"] == "EHLO"
    inner = [step.name for step in session.steps if step.inside_tls]
    assert inner == ["ehlo", "ehlo_reply", "mail_from", "rcpt_to", "data", "message", "quit"]
    (early,) = [f for f in session.findings if f.name == "early_talker"]
    assert early.frames == [4] and early.detail == "EHLO"
    assert {"proxy_tunnel", "proxy_credentials"} <= _finding_names(session)
    assert session.transactions[0].tls is True


# -- credentials for the proxy: redacted unless asked -----------------------------------------


def test_proxy_credentials_are_redacted_and_a_finding() -> None:
    (socks,) = sessions_of(DATA / "socks5-login.pcapng")
    assert _tunnel(socks).lines[2] == (
        "C: SOCKS5 username/password login (RFC 1929): user [redacted], password [redacted]"
    )
    (found,) = [f for f in socks.findings if f.name == "proxy_credentials"]
    assert (found.severity, found.frames, found.detail) == (
        "critical",
        [8],
        "SOCKS5: username/password login (RFC 1929)",
    )
    (http,) = sessions_of(DATA / "http-connect-starttls.pcapng")
    assert "C: Proxy-Authorization: Basic [redacted]" in _tunnel(http).lines
    (found,) = [f for f in http.findings if f.name == "proxy_credentials"]
    assert (found.frames, found.detail) == ([4], "HTTP CONNECT: Proxy-Authorization: Basic (RFC 7617)")


def test_proxy_credentials_are_shown_with_the_reveal_option() -> None:
    (socks,) = sessions_of(DATA / "socks5-login.pcapng", reveal=True)
    assert f"user {PROXY_USER}, password {PROXY_PASSWORD}" in _tunnel(socks).lines[2]
    (http,) = sessions_of(DATA / "http-connect-starttls.pcapng", reveal=True)
    assert f"C: Proxy-Authorization: Basic {BASIC_TOKEN} (base64 of '{PROXY_USER}:{PROXY_PASSWORD}')" in (
        _tunnel(http).lines
    )


@pytest.mark.parametrize("fmt", ["terminal", "json", "markdown", "html", "csv", "zeek", "jsonl"])
@pytest.mark.parametrize("capture", ["socks5-login.pcapng", "http-connect-starttls.pcapng"])
def test_no_output_format_shows_a_proxy_secret(fmt: str, capture: str) -> None:
    done = run_cli("explain", str(DATA / capture), "--format", fmt, "--no-color")
    assert done.returncode == 0, done.stderr
    for secret in (PROXY_PASSWORD, PROXY_USER, BASIC_TOKEN):
        assert secret not in done.stdout


# -- every format -------------------------------------------------------------------------------


def _cli(capture: Path, fmt: str) -> str:
    done = run_cli("explain", str(capture), "--format", fmt, "--no-color")
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize(
    ("capture", "title", "finding"),
    [
        ("socks5-login.pcapng", "Proxy tunnel (SOCKS5)", "Mail through a proxy tunnel"),
        ("socks5-refused.pcapng", "Proxy refuses the tunnel (SOCKS5)", "Proxy refused the tunnel: no SMTP followed"),
        ("http-connect-refused.pcapng", "Proxy refuses the tunnel (HTTP CONNECT)", "Proxy refused the tunnel"),
    ],
)
def test_the_tunnel_shows_in_terminal_json_and_markdown(capture: str, title: str, finding: str) -> None:
    for fmt in ("terminal", "markdown"):
        text = _cli(DATA / capture, fmt)
        assert title in text and finding in text, fmt
    report = json.loads(_cli(DATA / capture, "json"))
    jsonschema.validate(report, json.loads((ROOT / "docs" / "json-schema.json").read_text()))
    (session,) = report["sessions"]
    (step,) = [step for step in session["steps"] if step["name"] == "tunnel"]
    assert step["title"] == title and step["number"] == 2 and step["frames"][0] == 4
    assert any(found["title"].startswith(finding) for found in session["findings"])


def test_a_tunnelled_transaction_is_a_csv_and_a_zeek_row() -> None:
    rows = list(csv.DictReader(io.StringIO(_cli(DATA / "socks4a-tunnel.pcapng", "csv"))))
    assert [(r["server_port"], r["helo"], r["mail_from"], r["recipients"]) for r in rows] == [
        ("1080", "client.example.test", "bob@example.test", "alice@example.test")
    ]
    zeek = [line.split("\t") for line in _cli(DATA / "socks4a-tunnel.pcapng", "zeek").splitlines() if line[:1] != "#"]
    assert len(zeek) == 1 and "bob@example.test" in zeek[0] and "through a SOCKS4a tunnel" in zeek[0]
    assert _cli(DATA / "socks5-refused.pcapng", "csv").count("\n") == 1  # the header: no transaction


# -- a real one: a spam relay attempt through an HTTP/1.0 CONNECT proxy ------------------------


@pytest.mark.skipif(not CONNECT_WITH_SMTP.is_file(), reason=NO_CORPUS)
def test_the_corpus_spam_relay_through_connect_is_explained_after_the_tunnel() -> None:
    (session,) = explained(str(CONNECT_WITH_SMTP))[1]
    step = _tunnel(session)
    assert step.lines == [
        "C: CONNECT mailin03.sul.t-online.de:25 / HTTP/1.0",  # a stray "/" as the bot sent it
        "C: Mozilla 4.0 (compatible; MSIE 5.01; Windows NT 5.0)",
        "S: HTTP/1.0 200 Connection established",
    ]
    assert (step.frames, step.facts["target"], step.facts["code"]) == ([4, 6], "mailin03.sul.t-online.de:25", 200)
    # Frame 9 retransmits the greeting of frame 8; frame 11 retransmits the HELO segment the capture
    # missed (frame 10 acknowledges it): no byte is missing, so no gap is reported and nothing twice.
    assert _names_frames(session) == [
        ("tcp_handshake", [1, 2, 3]),
        ("tunnel", [4, 6]),
        ("greeting", [8]),
        ("ehlo", [11]),
        ("ehlo_reply", [13]),
        ("mail_from", [14, 15]),
        ("rcpt_to", [16, 17]),
        ("data", [18, 19]),
        ("message", [20, 22, 24]),
        ("quit", [25, 26]),
        ("close", [27, 29]),
    ]
    assert session.server_name == "mailin03.sul.t-online.de"
    (transaction,) = session.transactions
    assert (transaction.helo, transaction.mail_from, transaction.last_reply) == (
        "208.191.73.21",
        "nhfjenna_neumann@lycos.com",
        "250 Message accepted.",
    )
    assert [r.address for r in transaction.recipients] == ["thenightwatch@t-online.de"]
    names = _finding_names(session)
    assert "proxy_tunnel" in names and not names & {"data_gap", "not_smtp", "early_talker", "smtp_unusual_port"}


@pytest.mark.parametrize(
    "capture",
    ["http-connect-refused.pcapng", "http-connect-starttls.pcapng", "socks5-login.pcapng", "socks4a-tunnel.pcapng"],
)
def test_the_native_wireshark_filter_finds_the_tunnel_frames(capture: str, tshark: Tshark) -> None:
    expression = load_catalog().step("tunnel").wireshark
    done = subprocess.run(
        [tshark.path, "-n", "-r", str(DATA / capture), "-Y", expression, "-T", "fields", "-e", "frame.number"],
        capture_output=True,
        text=True,
        check=True,
    )
    (session,) = sessions_of(DATA / capture)
    assert [int(n) for n in done.stdout.split()] == _tunnel(session).frames


# -- a load balancer's PROXY protocol header (HAProxy's proxy-protocol.txt) -------------------

PROXY_V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"


@pytest.mark.parametrize(
    ("first", "protocol"),
    [
        (b"PROXY TCP4 127.0.0.2 127.0.0.1 40312 25\r\n", "proxy"),
        (b"PROX", "undecided"),
        (PROXY_V2_SIGNATURE + b"\x21\x11\x00\x0c", "proxy"),
        (PROXY_V2_SIGNATURE[:5], "undecided"),
        (b"\r\n", "undecided"),  # an empty line first: too few bytes to tell
        (b"\r\nEHLO x\r\n", None),
    ],
)
def test_the_first_bytes_say_which_proxy_header(first: bytes, protocol: str | None) -> None:
    assert sniff(first) == protocol


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (b"PROXY TCP4 127.0.0.2 127.0.0.1 40312 25\r\n", (1, False, "127.0.0.2", 40312, "127.0.0.1", 25)),
        (b"PROXY TCP6 ::2 ::1 40312 587\r\n", (1, False, "::2", 40312, "::1", 587)),
        (b"PROXY UNKNOWN\r\n", (1, True, None, None, None, None)),
        (
            PROXY_V2_SIGNATURE + b"\x21\x21\x00\x24" + bytes(15) + b"\x02" + bytes(15) + b"\x01" + b"\x9d\x78\x00\x19",
            (2, False, "::2", 40312, "::1", 25),
        ),
        (PROXY_V2_SIGNATURE + b"\x20\x00\x00\x00", (2, True, None, None, None, None)),  # LOCAL: a health check
    ],
)
def test_a_proxy_header_is_cut_and_the_smtp_after_it_left(header: bytes, expected: tuple[object, ...]) -> None:
    client = _feed(header + b"EHLO x\r\n")
    server = _feed(b"220 ready\r\n")
    (event,) = _read_all(TunnelReader("proxy", client, server))
    assert (event.part, event.granted, event.frames) == ("header", True, (4,))
    assert (event.version, event.local, event.host, event.port, event.to_host, event.to_port) == expected
    assert bytes(client.buffer) == b"EHLO x\r\n" and bytes(server.buffer) == b"220 ready\r\n"  # SMTP's, both


@pytest.mark.parametrize(
    "header",
    [
        b"PROXY TCP4 127.0.0.2 ::1 40312 25\r\n",  # an IPv6 address in a TCP4 line
        b"PROXY TCP4 127.0.0.2 127.0.0.1 99999 25\r\n",
        b"PROXY " + b"x" * 120,  # no CRLF within the longest line the protocol allows
        PROXY_V2_SIGNATURE + b"\x31\x11\x00\x0c" + bytes(12),  # version 3
    ],
)
def test_bytes_that_are_no_proxy_header_are_left_for_smtp(header: bytes) -> None:
    client = _feed(header)
    (event,) = _read_all(TunnelReader("proxy", client, _feed(b"")))
    assert (event.part, event.granted) == ("header", False)
    assert bytes(client.buffer) == header  # nothing cut: the SMTP readers read these bytes


@pytest.mark.parametrize(
    ("capture", "line"),
    [
        ("proxy-protocol-v1.pcapng", "C: PROXY TCP4 127.0.0.2 127.0.0.1 40312 25"),
        (
            "proxy-protocol-v2.pcapng",
            "C: PROXY protocol v2 header (binary): the client 127.0.0.2:40312, to 127.0.0.1:25",
        ),
    ],
)
def test_a_load_balancers_proxy_header_is_one_step_before_the_greeting(capture: str, line: str) -> None:
    (session,) = sessions_of(DATA / capture)
    assert _names_frames(session)[:5] == [
        ("tcp_handshake", [1, 2, 3]),
        ("proxy_header", [4]),
        ("greeting", [6]),
        ("ehlo", [8]),
        ("ehlo_reply", [9]),
    ]
    (header,) = [step for step in session.steps if step.name == "proxy_header"]
    assert header.lines == [line] and header.direction == "client"
    assert (header.facts["source"], header.facts["destination"]) == ("127.0.0.2:40312", "127.0.0.1:25")
    assert header.summary.startswith(
        f"The load balancer {session.client} said it speaks for the client 127.0.0.2:40312, which connected to"
    )
    assert [step.name for step in session.steps][-3:] == ["message", "quit", "close"]
    assert _finding_names(session) == {"starttls_not_offered", "mail_cleartext"}  # no early talker, no stray command
    (transaction,) = session.transactions
    assert transaction.last_reply is not None and transaction.last_reply.startswith("250")
