"""The sans-IO machine, fed hand-built packet events (no tshark involved)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from smtpdoc.demux import Demux
from smtpdoc.model import Session
from smtpdoc.packets import ACK, FIN, HANDSHAKE, PSH, SYN, ClientHello, Packet, ServerHello, TlsRecord
from smtpdoc.session import Options, SessionMachine

C, S = ("10.0.0.1", 40000), ("10.0.0.2", 25)


class Wire:
    """Builds a TCP conversation frame by frame, keeping sequence numbers right."""

    def __init__(self) -> None:
        self.frames: list[Packet] = []
        self.seq = {"c": 0, "s": 0}
        self.t = 1000.0

    def send(self, side: str, data: bytes = b"", flags: int = PSH | ACK) -> int:
        src, dst = (C, S) if side == "c" else (S, C)
        self.t += 0.01
        number = len(self.frames) + 1
        other = "s" if side == "c" else "c"
        self.frames.append(
            Packet(
                number,
                self.t,
                0,
                src[0],
                dst[0],
                src[1],
                dst[1],
                flags,
                self.seq[side],
                payload=data,
                ack_number=self.seq[other],
            )
        )
        self.seq[side] += len(data) + (1 if flags & (SYN | FIN) else 0)
        return number

    def handshake(self) -> None:
        self.send("c", flags=SYN)
        self.send("s", flags=SYN | ACK)
        self.send("c", flags=ACK)

    def greet(self, ehlo_reply: bytes, greeting: bytes = b"220 mx\r\n", ehlo: bytes = b"EHLO me\r\n") -> None:
        """Handshake, greeting, EHLO and its reply: the opening every test shares."""
        self.handshake()
        self.send("s", greeting)
        self.send("c", ehlo)
        self.send("s", ehlo_reply)

    def close(self) -> None:
        self.send("c", flags=FIN | ACK)
        self.send("s", flags=FIN | ACK)

    def run(self, **options: object) -> Session:
        machine = SessionMachine(0, Options(**options))  # type: ignore[arg-type]
        for packet in self.frames:
            machine.feed(packet)
        return machine.finish()


def _names(session: Session) -> list[str]:
    return [s.name for s in session.steps]


def _findings(session: Session) -> set[str]:
    return {f.name for f in session.findings}


def test_split_starttls_is_read_from_the_bytes() -> None:
    w = Wire()
    w.greet(b"250-mx\r\n250 STARTTLS\r\n", greeting=b"220 mx ESMTP\r\n")
    first = w.send("c", b"STAR")
    second = w.send("c", b"TTLS\r\n")
    reply = w.send("s", b"220 2.0.0 Ready to start TLS\r\n")
    session = w.run()
    starttls = next(s for s in session.steps if s.name == "starttls")
    assert starttls.frames == [first, second]
    assert next(s for s in session.steps if s.name == "starttls_reply").frames == [reply]
    assert session.tls is not None


def test_pipelined_commands_get_their_replies_in_order() -> None:
    w = Wire()
    w.greet(b"250-mx\r\n250 PIPELINING\r\n", ehlo=b"ehlo me\r\n")
    batch = w.send("c", b"mail from:<a@x>\r\nrcpt to:<b@y>\r\nrcpt to:<c@z>\r\ndata\r\n")
    replies = w.send("s", b"250 ok\r\n250 ok\r\n550 5.1.1 no such user\r\n354 go\r\n")
    w.send("c", b"Subject: hi\r\n\r\nbody\r\n.\r\n")
    w.send("s", b"250 queued\r\n")
    session = w.run()
    (tr,) = session.transactions
    assert [(r.address, r.code) for r in tr.recipients] == [("b@y", 250), ("c@z", 550)]
    assert tr.message is not None and tr.message.headers["subject"] == "hi"
    assert tr.last_reply == "250 queued"
    rcpts = [s for s in session.steps if s.name == "rcpt_to"]
    assert all(s.frames == [batch, replies] for s in rcpts)
    assert "error_reply" in _findings(session)
    assert "pipelining_unadvertised" not in _findings(session)


def test_pipelining_without_the_extension_is_a_finding() -> None:
    w = Wire()
    w.greet(b"250 mx\r\n")
    w.send("c", b"MAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\n")
    w.send("s", b"250 ok\r\n250 ok\r\n")
    assert "pipelining_unadvertised" in _findings(w.run())


def test_commands_injected_after_starttls() -> None:
    w = Wire()
    w.greet(b"250-mx\r\n250 STARTTLS\r\n")
    frame = w.send("c", b"STARTTLS\r\nRSET\r\n")
    w.send("s", b"220 go ahead\r\n")
    found = {f.name: f for f in w.run().findings}
    assert found["starttls_injection"].frames == [frame]


@pytest.mark.parametrize(
    ("ehlo_reply", "expected"),
    [
        (b"250-mx\r\n250 XXXXXXXA\r\n", "starttls_masked"),
        (b"250-mx\r\n250 SIZE 100\r\n", "starttls_not_offered"),
        (b"250-mx\r\n250 STARTTLS\r\n", "starttls_not_used"),
    ],
)
def test_starttls_hygiene(ehlo_reply: bytes, expected: str) -> None:
    w = Wire()
    w.greet(ehlo_reply)
    w.send("c", b"MAIL FROM:<a@x>\r\n")
    w.send("s", b"250 ok\r\n")
    assert expected in _findings(w.run())


def test_refused_starttls_then_cleartext_mail() -> None:
    w = Wire()
    w.greet(b"250-mx\r\n250 STARTTLS\r\n")
    w.send("c", b"STARTTLS\r\n")
    w.send("s", b"454 4.7.0 TLS not available due to local problem\r\n")
    w.send("c", b"MAIL FROM:<a@x>\r\n")
    w.send("s", b"250 ok\r\n")
    session = w.run()
    assert {"starttls_refused", "cleartext_after_refusal"} <= _findings(session)
    assert session.tls is None
    reply = next(s for s in session.steps if s.name == "starttls_reply")
    assert reply.reply is not None and reply.reply.enhanced == "4.7.0"


@pytest.mark.parametrize("reveal", [False, True])
def test_auth_secrets_are_redacted_unless_asked(reveal: bool) -> None:
    w = Wire()
    w.greet(b"250-mx\r\n250 AUTH PLAIN LOGIN\r\n")
    w.send("c", b"AUTH PLAIN AGFsaWNlAHMzY3JldA==\r\n")
    w.send("s", b"235 2.7.0 Authentication successful\r\n")
    session = w.run(reveal_secrets=reveal)
    auth = next(s for s in session.steps if s.name == "auth")
    text = " ".join(auth.lines)
    assert ("AGFsaWNlAHMzY3JldA==" in text) is reveal
    assert ("[redacted]" in text) is not reveal
    assert auth.facts["outcome"] == "accepted"
    assert "auth_cleartext" in _findings(session)


def test_bare_lf_and_long_lines() -> None:
    w = Wire()
    w.greet(b"250 mx\r\n", ehlo=b"HELO me\n")
    w.send("c", b"NOOP " + b"x" * 600 + b"\r\n")
    w.send("s", b"250 ok\r\n")
    found = {f.name: f.detail for f in w.run().findings}
    assert found["bare_line_ending"] == "bare LF in a command line"
    assert found["line_too_long"].startswith("command line of 607 bytes")


def test_retransmission_and_out_of_order_segments() -> None:
    w = Wire()
    w.handshake()
    w.send("s", b"220 mx\r\n")
    w.send("c", b"EHLO me\r\n")
    # Retransmit the EHLO, then deliver a reply in two segments out of order.
    w.frames.append(w.frames[-1])
    w.send("s", b"250-mx\r\n")
    w.send("s", b"250 SIZE 10\r\n")
    w.frames[-1], w.frames[-2] = w.frames[-2], w.frames[-1]
    session = w.run()
    assert _names(session).count("ehlo") == 1
    assert [e.keyword for e in session.extensions] == ["SIZE"]


def test_demux_releases_sessions_in_order_and_forgets_them() -> None:
    demux = Demux()
    out = []
    for stream in (0, 1):
        w = Wire()
        w.handshake()
        w.send("s", b"220 mx\r\n")
        w.close()
        for p in w.frames:
            out += list(
                demux.feed(
                    Packet(
                        p.number + 10 * stream,
                        p.time,
                        stream,
                        p.src,
                        p.dst,
                        p.sport,
                        p.dport,
                        p.flags,
                        p.seq,
                        payload=p.payload,
                        ack_number=p.ack_number,
                    )
                )
            )
    assert [s.index for s in out] == [1, 2]
    assert demux.machines == {} and demux.done == {}
    assert list(demux.close()) == []


@pytest.mark.parametrize(
    ("server_hello", "resumed"),
    [
        (ServerHello(version=0x0304, cipher=0x1302, psk=True), True),
        (ServerHello(version=0x0303, cipher=0xC02F, session_id="ab" * 32), True),
        (ServerHello(version=0x0304, cipher=0x1302, session_id="ab" * 32), False),  # TLS 1.3 echoes it always
        (ServerHello(version=0x0303, cipher=0xC02F), False),
    ],
)
def test_tls_resumption(server_hello: ServerHello, resumed: bool) -> None:
    w = Wire()
    w.greet(b"250-mx\r\n250 STARTTLS\r\n")
    w.send("c", b"STARTTLS\r\n")
    w.send("s", b"220 2.0.0 Ready to start TLS\r\n")
    hello = ClientHello(sni="mx", versions=(0x0304, 0x0303), cipher_count=3, session_id="ab" * 32)
    w.send("c", b"\x16\x03\x01")
    w.frames[-1] = replace(w.frames[-1], tls=(TlsRecord(HANDSHAKE, 3, messages=(hello,)),))
    w.send("s", b"\x16\x03\x03")
    w.frames[-1] = replace(w.frames[-1], tls=(TlsRecord(HANDSHAKE, 3, messages=(server_hello,)),))
    session = w.run()
    assert session.tls is not None and session.tls.resumed is resumed
    assert ("tls_resumed" in _findings(session)) is resumed
