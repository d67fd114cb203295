"""The dialogue machine fed hand-built bytes (no packets, no tshark): steps, findings, states."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from smtpdoc.builder import SessionBuilder
from smtpdoc.catalog.rules import Event, State, load_rules
from smtpdoc.dialogue import Dialogue, Link
from smtpdoc.events import BdatChunk
from smtpdoc.reassembly import ByteStream


@dataclass
class Talk:
    """A dialogue and the frames fed to it; `say` appends one segment and reads what is complete."""

    reveal: bool = False
    frame: int = 0
    seq: dict[str, int] = field(default_factory=lambda: {"c": 1, "s": 1})

    def __post_init__(self) -> None:
        rules = load_rules()
        self.builder = SessionBuilder(0, rules)
        client = ByteStream(rules.max_pending_segments)
        self.link = Link(self.reveal, outer_client=client)
        self.dialogue = Dialogue(self.builder, rules, self.link, inside_tls=False, client=client)

    def say(self, side: str, data: bytes) -> Talk:
        self.frame += 1
        stream = self.dialogue.client if side == "c" else self.dialogue.server
        if side == "s":
            self.link.server_payloads += 1
        stream.add(self.seq[side], data, self.frame, float(self.frame))
        self.seq[side] += len(data)
        self.dialogue.pump()
        return self

    def run(self, *lines: tuple[str, bytes]) -> Talk:
        for side, data in lines:
            self.say(side, data)
        return self

    @property
    def steps(self) -> list[str]:
        return [s.name for s in self.builder.session.steps]

    @property
    def findings(self) -> list[str]:
        return [f.name for f in self.builder.session.findings]


GREETING = [("s", b"220 mx ESMTP\r\n"), ("c", b"EHLO me\r\n"), ("s", b"250-mx\r\n250 PIPELINING\r\n")]


@pytest.mark.parametrize(
    ("lines", "steps", "findings", "state"),
    [
        (GREETING, ["greeting", "ehlo", "ehlo_reply"], [], State.COMMAND),
        (
            [*GREETING, ("c", b"MAIL FROM:<a@b>\r\n"), ("s", b"250 ok\r\n"), ("c", b"DATA\r\n"), ("s", b"354 go\r\n")],
            ["greeting", "ehlo", "ehlo_reply", "mail_from", "data"],
            [],
            State.DATA,
        ),
        (
            [*GREETING, ("c", b"DATA\r\n"), ("s", b"354 go\r\n"), ("c", b"Subject: x\r\n\r\nhi\r\n.\r\n")],
            ["greeting", "ehlo", "ehlo_reply", "data", "message"],
            [],
            State.COMMAND,
        ),
        (
            [*GREETING, ("c", b"DATA\r\n"), ("s", b"554 no valid recipients\r\n"), ("c", b"QUIT\r\n")],
            ["greeting", "ehlo", "ehlo_reply", "data", "quit"],
            ["error_reply"],
            State.COMMAND,
        ),
        (
            [*GREETING, ("c", b"STARTTLS\r\n"), ("s", b"220 go ahead\r\n")],
            ["greeting", "ehlo", "ehlo_reply", "starttls", "starttls_reply"],
            [],
            State.TLS,
        ),
        (
            [*GREETING, ("c", b"STARTTLS\r\n"), ("s", b"454 not now\r\n")],
            ["greeting", "ehlo", "ehlo_reply", "starttls", "starttls_reply"],
            ["error_reply", "starttls_refused"],
            State.COMMAND,
        ),
        (
            [*GREETING, ("c", b"AUTH LOGIN\r\n"), ("s", b"334 VXNlcm5hbWU6\r\n"), ("c", b"dXNlcg==\r\n")],
            ["greeting", "ehlo", "ehlo_reply", "auth"],
            ["auth_cleartext"],
            State.AUTH,
        ),
        (
            [*GREETING, ("c", b"BDAT 5 LAST\r\nhello"), ("s", b"250 ok\r\n")],
            ["greeting", "ehlo", "ehlo_reply", "bdat"],
            [],
            State.COMMAND,
        ),
        ([("s", b"220 mx\r\n"), ("s", b"250 what?\r\n")], ["greeting", "command"], ["unexpected_reply"], State.COMMAND),
        ([("c", b"GET / HTTP/1.1\r\n"), ("s", b"HTTP/1.1 400 Bad\r\n")], ["command"], ["not_smtp"], State.COMMAND),
        ([("c", b"\x80\x01\xffgarbage\r\n")], [], ["not_smtp"], State.COMMAND),
        (
            [("c", b"EHLO early\r\n"), ("s", b"220 mx\r\n"), ("s", b"250 mx\r\n")],
            ["ehlo", "greeting", "ehlo_reply"],
            ["early_talker"],
            State.COMMAND,
        ),
        (
            [
                ("s", b"220 mx\r\n"),
                ("c", b"HELO me\r\n"),
                ("s", b"250 mx\r\n"),
                ("c", b"MAIL FROM:<a>\r\nRCPT TO:<b>\r\n"),
            ],
            ["greeting", "ehlo", "ehlo_reply", "mail_from", "rcpt_to"],
            ["pipelining_unadvertised"],
            State.COMMAND,
        ),
    ],
    ids=[
        "greeting-ehlo",
        "data-go-ahead",
        "message",
        "data-refused",
        "starttls-accepted",
        "starttls-refused",
        "auth-exchange",
        "bdat-last",
        "reply-with-nothing-waiting",
        "http-server",
        "binary-first-line",
        "early-talker",
        "pipelining-unadvertised",
    ],
)
def test_the_machine_follows_the_table(
    lines: list[tuple[str, bytes]], steps: list[str], findings: list[str], state: State
) -> None:
    talk = Talk().run(*lines)
    assert talk.steps == steps
    assert talk.findings == findings
    assert talk.dialogue.mode is state


def test_starttls_go_ahead_asks_the_connection_to_turn_to_tls() -> None:
    talk = Talk().run(*GREETING, ("c", b"STARTTLS\r\n"), ("s", b"220 go ahead\r\n"))
    assert talk.dialogue.st.upgraded
    assert talk.link.starttls_requested


def test_commands_in_the_starttls_segment_are_an_injection() -> None:
    talk = Talk().run(*GREETING, ("c", b"STARTTLS\r\nMAIL FROM:<evil>\r\n"))
    assert "starttls_injection" in talk.findings


def test_sasl_responses_are_redacted_unless_revealed() -> None:
    exchange = [*GREETING, ("c", b"AUTH LOGIN\r\n"), ("s", b"334 VXNlcm5hbWU6\r\n"), ("c", b"dXNlcg==\r\n")]
    hidden = Talk().run(*exchange).builder.session.steps[-1].lines
    shown = Talk(reveal=True).run(*exchange).builder.session.steps[-1].lines
    # LOGIN's prompt is no secret; the client's answer is.
    assert hidden == ["C: AUTH LOGIN", "S: 334 VXNlcm5hbWU6 (base64 of 'Username:')", "C: [redacted]"]
    assert shown[-1] == "C: dXNlcg== (base64 of 'user')"


def test_a_transaction_collects_envelope_and_message() -> None:
    talk = Talk().run(
        *GREETING,
        ("c", b"MAIL FROM:<a@b> SIZE=10\r\nRCPT TO:<c@d>\r\nDATA\r\n"),
        ("s", b"250 ok\r\n250 ok\r\n354 go\r\n"),
        ("c", b"Subject: hello\r\n\r\nbody\r\n.\r\n"),
        ("s", b"250 queued as X\r\n"),
    )
    (transaction,) = talk.builder.session.transactions
    assert transaction.mail_from == "a@b" and transaction.mail_params == {"SIZE": "10"}
    assert [(r.address, r.code) for r in transaction.recipients] == [("c@d", 250)]
    assert transaction.message is not None and transaction.message.headers["subject"] == "hello"
    assert transaction.last_reply == "250 queued as X"


def test_over_long_and_bare_lf_lines_are_findings() -> None:
    talk = Talk().run(("s", b"220 mx\r\n"), ("c", b"NOOP " + b"x" * 600 + b"\n"))
    assert talk.findings == ["line_too_long", "bare_line_ending"]
    details = [f.detail for f in talk.builder.session.findings]
    assert details == ["command line of 606 bytes (limit 512)", "bare LF in a command line"]


def test_an_event_no_row_expects_is_a_finding_and_the_dialogue_reads_commands_again() -> None:
    talk = Talk().run(*GREETING, ("c", b"DATA\r\n"), ("s", b"354 go\r\n"))
    assert talk.dialogue.mode is State.DATA
    talk.dialogue._event(Event.BDAT_CHUNK, BdatChunk(b"xyz", (42,), 42.0))  # no row: DATA reads no BDAT chunk
    found = talk.builder.session.findings[-1]
    assert (found.name, found.frames, found.detail) == ("not_smtp", [42], "bdat_chunk in the data state")
    assert talk.dialogue.mode is State.COMMAND
    talk.say("c", b"QUIT\r\n")
    assert talk.steps[-1] == "quit"
