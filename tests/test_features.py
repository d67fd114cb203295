"""Every feature of the issue, end to end: the real tshark on the loopback captures.

The expected values were read from the captures themselves, not from smtpdoc:
`tshark -r F -Y smtp`, `-V` and `-T fields -e tcp.payload` with tshark 4.0.17,
with `-o tls.keylog_file:F.keylog` for the encrypted parts and
`-d tcp.port==2525,smtp` for port 2525. tests/data/README.md and
examples/README.md list the same frames with the bytes they hold.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from smtpdoc.explain import Settings, explain_capture
from smtpdoc.model import Finding, Session, Step
from smtpdoc.tshark import find_tshark

from conftest import DATA, EXAMPLES, run_cli, sessions_of

TLS_1_0, TLS_1_2, TLS_1_3 = 0x0301, 0x0303, 0x0304
# Postfix's EHLO reply in cleartext (frame 8 of every Postfix capture), in order.
POSTFIX_EXTENSIONS = [
    "PIPELINING",
    "SIZE",
    "VRFY",
    "ETRN",
    "STARTTLS",
    "ENHANCEDSTATUSCODES",
    "8BITMIME",
    "DSN",
    "SMTPUTF8",
    "CHUNKING",
]


# -- helpers ---------------------------------------------------------------------------------
def _one(capture: Path, **kwargs: Any) -> Session:
    sessions = sessions_of(capture, **kwargs)
    assert len(sessions) == 1, [(str(s.client), str(s.server)) for s in sessions]
    return sessions[0]


def _keyed(capture: Path) -> Session:
    """The session with its TLS key log (the .keylog beside the capture)."""
    return _one(capture, keylog=str(capture.with_suffix(".keylog")))


@functools.cache
def _decoded_as(capture: str, ports: tuple[int, ...], keylog: str | None = None) -> tuple[Session, ...]:
    report, _ = explain_capture(capture, find_tshark(), Settings(decode_as=ports, keylog=keylog))
    return tuple(report.sessions)


def _steps(session: Session) -> list[tuple[str, list[int]]]:
    return [(step.name, step.frames) for step in session.steps]


def _named(session: Session, name: str) -> list[Step]:
    return [step for step in session.steps if step.name == name]


def _step_at(session: Session, name: str, frame: int) -> Step:
    found = [step for step in _named(session, name) if frame in step.frames]
    assert len(found) == 1, (name, frame, _steps(session))
    return found[0]


def _findings(session: Session, name: str) -> list[Finding]:
    return [f for f in session.findings if f.name == name]


def _finding(session: Session, name: str) -> Finding:
    found = _findings(session, name)
    assert len(found) == 1, (name, [(f.name, f.frames, f.detail) for f in session.findings])
    return found[0]


def _inner(session: Session) -> list[tuple[str, list[int]]]:
    return [(step.name, step.frames) for step in session.steps if step.inside_tls]


@functools.cache
def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(*args)


def _cli_all(arg_lists: list[tuple[str, ...]]) -> list[subprocess.CompletedProcess[str]]:
    """Several CLI runs at once (each is a python process plus a tshark): keeps the file fast."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(lambda args: _cli(*args), arg_lists))


def _json_report(capture: Path, *extra: str) -> dict[str, Any]:
    done = _cli("explain", str(capture), "--format", "json", *extra)
    assert done.returncode == 0, done.stderr
    report: dict[str, Any] = json.loads(done.stdout)
    return report


# == 1. Mail transactions ====================================================================
@pytest.mark.parametrize(
    ("capture", "frame", "sender", "params"),
    [
        # frame 9: "mail FROM:<bob@example.test> size=1214" (smtplib sends SIZE in lowercase)
        (DATA / "attachment.pcapng", 9, "bob@example.test", {"SIZE": "1214"}),
        (DATA / "subject-script.pcapng", 9, "mallory@example.test", {"SIZE": "364"}),
        (DATA / "starttls-refused.pcapng", 11, "bob@example.test", {"SIZE": "353"}),
        (DATA / "auth-plain-cleartext.pcapng", 11, "alice@example.test", {"SIZE": "320"}),
        (EXAMPLES / "plain.pcapng", 9, "bob@example.test", {"SIZE": "363"}),
        # frame 9: "MAIL FROM:<bob@example.test>" with no parameter at all
        (DATA / "bdat.pcapng", 9, "bob@example.test", {}),
    ],
    ids=lambda v: v.name if isinstance(v, Path) else None,
)
def test_mail_from_parameters_land_in_the_transaction(
    capture: Path, frame: int, sender: str, params: dict[str, str]
) -> None:
    session = _one(capture)
    (tr,) = [t for t in session.transactions if t.mail_from == sender]
    assert tr.mail_params == params
    step = _step_at(session, "mail_from", frame)
    assert step.facts["address"] == sender
    assert step.facts["params"].upper() == " ".join(f"{k}={v}" for k, v in params.items())
    assert step.reply is not None and step.reply.code == 250


def test_mail_params_size_body_smtputf8_then_requiretls_refused() -> None:
    """mail-params: 9 "MAIL FROM:<bob@example.test> SIZE=295 BODY=8BITMIME SMTPUTF8" / 10 "250 2.1.0 Ok";
    17 "MAIL FROM:<bob@example.test> REQUIRETLS" / 18 "555 5.5.4 Unsupported option: REQUIRETLS"."""
    session = _one(DATA / "mail-params.pcapng")
    first, second = session.transactions
    assert first.mail_params == {"SIZE": "295", "BODY": "8BITMIME", "SMTPUTF8": ""}
    assert second.mail_params == {"REQUIRETLS": ""}
    accepted = _step_at(session, "mail_from", 9)
    assert accepted.frames == [9, 10]
    assert accepted.facts["params"] == "SIZE=295 BODY=8BITMIME SMTPUTF8"
    assert accepted.reply is not None and (accepted.reply.code, accepted.reply.enhanced) == (250, "2.1.0")
    refused = _step_at(session, "mail_from", 17)
    assert refused.frames == [17, 18]
    assert refused.reply is not None and (refused.reply.code, refused.reply.enhanced) == (555, "5.5.4")
    assert refused.reply.lines == ["5.5.4 Unsupported option: REQUIRETLS"]
    # 15: the message (298 bytes with ".\r\n"), exactly the announced SIZE=295; 16: "250 2.0.0 Ok: queued as ..."
    assert first.message is not None and first.message.size == 295
    assert first.last_reply == "250 2.0.0 Ok: queued as D5F5318A041"
    assert [(f.frames, f.detail) for f in _findings(session, "error_reply")] == [
        ([18], "555 5.5.4 Unsupported option: REQUIRETLS")
    ]


def test_utf8_subject_under_smtputf8_is_read_as_utf8() -> None:
    """Frame 15 holds "Subject: Gr\xc3\xbc\xc3\x9fe: 8BITMIME and SMTPUTF8" (tcp.payload), raw UTF-8 as
    RFC 6532 allows once MAIL carried SMTPUTF8. tshark's Info column shows "Grüße"; the imf.subject
    field shows four U+FFFD instead, and so must not be the reference here."""
    (first, _) = _one(DATA / "mail-params.pcapng").transactions
    assert first.message is not None
    assert first.message.headers["subject"] == "Grüße: 8BITMIME and SMTPUTF8"


@pytest.mark.parametrize(
    ("capture", "sender", "recipients"),
    [
        # plain: 11 rcpt alice / 12 "250 2.1.5 Ok"; 13 rcpt carol / 14 "250 2.1.5 Ok"
        (
            EXAMPLES / "plain.pcapng",
            "bob@example.test",
            [("alice@example.test", 250, 11), ("carol@example.test", 250, 13)],
        ),
        # errors: 25 MAIL / 26 250; 27 RCPT nobody / 28 "550 5.1.1 ... User unknown"
        (DATA / "errors.pcapng", "bob@example.test", [("nobody@example.test", 550, 27)]),
        # pipelining: both RCPTs in frame 9, both answered 250 in frame 10
        (
            DATA / "pipelining.pcapng",
            "bob@example.test",
            [("alice@example.test", 250, 9), ("carol@example.test", 250, 9)],
        ),
    ],
    ids=lambda v: v.name if isinstance(v, Path) else None,
)
def test_each_recipient_carries_its_own_reply_code(
    capture: Path, sender: str, recipients: list[tuple[str, int, int]]
) -> None:
    session = _one(capture)
    tr = next(t for t in session.transactions if t.mail_from == sender and t.recipients)
    assert [(r.address, r.code, r.frames[0]) for r in tr.recipients] == recipients


def test_data_gets_354_and_the_end_of_data_gets_the_final_reply() -> None:
    session = _one(DATA / "attachment.pcapng")
    data = _step_at(session, "data", 13)
    assert data.frames == [13, 14]
    assert data.reply is not None and data.reply.code == 354 and data.reply.frames == [14]
    message = _step_at(session, "message", 15)
    assert message.frames == [15, 16]
    assert message.reply is not None and (message.reply.code, message.reply.enhanced) == (250, "2.0.0")
    assert message.reply.lines == ["2.0.0 Ok: queued as 1EA1E1760AF"]
    (tr,) = session.transactions
    assert tr.method == "DATA"
    assert tr.last_reply == "250 2.0.0 Ok: queued as 1EA1E1760AF"


def test_message_summary_headers_size_and_attachment() -> None:
    (tr,) = _one(DATA / "attachment.pcapng").transactions
    assert tr.message is not None
    # imf.* of frame 15; the size is the 1217-byte segment minus the ".\r\n" terminator,
    # which is also what smtplib announced with size=1214.
    assert tr.message.headers["from"] == "bob@example.test"
    assert tr.message.headers["to"] == "alice@example.test"
    assert tr.message.headers["subject"] == "Q3 report attached"
    assert tr.message.headers["date"] == "Sat, 28 Nov 2026 10:52:14 -0000"
    assert tr.message.headers["message_id"] == "<179586313412.20569.11675108433129149550@client.example.test>"
    assert tr.message.size == 1214
    assert tr.message.attachments == [{"name": "report.pdf", "type": "application/pdf"}]
    assert not tr.message.truncated


def test_message_without_attachment_lists_none() -> None:
    session = _one(EXAMPLES / "plain.pcapng")
    (tr,) = session.transactions
    assert tr.message is not None and tr.message.attachments == []
    assert tr.message.headers["to"] == "alice@example.test, carol@example.test"


def test_bdat_chunk_sizes_and_last() -> None:
    session = _one(DATA / "bdat.pcapng")
    first, last = _named(session, "bdat")
    # 13: "BDAT 100\r\n" + 100 bytes; 14: "250 2.0.0 Ok: 100 bytes"
    assert first.frames == [13, 14]
    assert (first.facts["size"], first.facts["last"]) == (100, False)
    assert first.reply is not None and first.reply.lines == ["2.0.0 Ok: 100 bytes"]
    # 15: "BDAT 50 LAST\r\n" + 50 bytes; 16: "250 2.0.0 Ok: 150 bytes queued as 5B7411760A2"
    assert last.frames == [15, 16]
    assert last.facts["last"] is True
    assert last.reply is not None and last.reply.lines == ["2.0.0 Ok: 150 bytes queued as 5B7411760A2"]
    (tr,) = session.transactions
    assert tr.method == "BDAT"
    assert tr.chunks == [100, 50]
    assert tr.message is not None and tr.message.size == 150
    assert tr.last_reply == "250 2.0.0 Ok: 150 bytes queued as 5B7411760A2"
    assert "data" not in [s.name for s in session.steps]


def test_bdat_last_step_tells_its_own_chunk_size() -> None:
    """The LAST chunk is 50 bytes ("BDAT 50 LAST"); 150 is the whole message."""
    last = _named(_one(DATA / "bdat.pcapng"), "bdat")[-1]
    assert last.facts["size"] == 50
    assert "50 bytes" in last.summary and "150 bytes" not in last.summary


def test_bdat_message_is_joined_across_the_chunk_boundary() -> None:
    """The Message-ID header is cut between the chunks: "<bdat.1@client.examp" | "le.test>"."""
    (tr,) = _one(DATA / "bdat.pcapng").transactions
    assert tr.message is not None
    assert tr.message.headers["subject"] == "BDAT test"
    assert tr.message.headers["message_id"] == "<bdat.1@client.example.test>"
    assert tr.message.headers["from"] == "bob@example.test"


# errors.pcapng: each request in the odd frame, its reply in the next one.
ERROR_COMMANDS = [
    (13, "FROBNICATE", "now", 500, "5.5.2"),
    (15, "NOOP", "", 250, "2.0.0"),
    (17, "VRFY", "alice", 252, "2.0.0"),
    (19, "VRFY", "nobody@example.test", 550, "5.1.1"),
    (21, "VRFY", "", 501, "5.5.4"),
    (23, "HELP", "", 500, "5.5.2"),
    (29, "RSET", "", 250, "2.0.0"),
]


@pytest.mark.parametrize(("frame", "verb", "argument", "code", "enhanced"), ERROR_COMMANDS)
def test_other_commands_are_command_steps_with_their_replies(
    frame: int, verb: str, argument: str, code: int, enhanced: str
) -> None:
    step = _step_at(_one(DATA / "errors.pcapng"), "command", frame)
    assert step.frames == [frame, frame + 1]
    assert (step.facts["verb"], step.facts["argument"]) == (verb, argument)
    assert step.reply is not None
    assert (step.reply.code, step.reply.enhanced, step.reply.frames) == (code, enhanced, [frame + 1])


def test_errors_capture_step_by_step() -> None:
    assert _steps(_one(DATA / "errors.pcapng")) == [
        ("tcp_handshake", [1, 2, 3]),
        ("greeting", [4]),
        ("ehlo", [6]),
        ("ehlo_reply", [8]),
        ("rcpt_to", [9, 10]),
        ("mail_from", [11, 12]),
        *[("command", [frame, frame + 1]) for frame, *_ in ERROR_COMMANDS if frame < 25],
        ("mail_from", [25, 26]),
        ("rcpt_to", [27, 28]),
        ("command", [29, 30]),
        ("quit", [31, 32]),
        ("close", [33, 34]),
    ]


def test_a_rejected_mail_from_still_opens_a_transaction_as_zeek_does() -> None:
    """11 "MAIL TO:<bob@example.test>" got 501 (syntax): no sender was accepted.

    Like Zeek's smtp.log (see the corpus trace smtp-mail-transactions-invalid.pcap, where a
    MAIL refused with 503 opens a row), every MAIL opens a transaction; the refusal shows in
    the reply codes. The accepted MAIL FROM of frame 25 (250 2.1.0) opens the next one.
    """
    session = _one(DATA / "errors.pcapng")
    senders = [(t.mail_from, t.frames[0]) for t in session.transactions if t.mail_from is not None]
    assert senders == [("bob@example.test", 11), ("bob@example.test", 25)]
    refused = next(s for s in session.steps if s.name == "mail_from" and 11 in s.frames)
    assert refused.reply is not None and refused.reply.code == 501


# == 2. Pipelining ===========================================================================
def test_pipelined_batch_replies_matched_in_order() -> None:
    session = _one(DATA / "pipelining.pcapng")
    batch = [s for s in session.steps if 9 in s.frames]
    # 9: MAIL, RCPT alice, RCPT carol, DATA in one segment; 10: 250 2.1.0, 250 2.1.5, 250 2.1.5, 354.
    assert [(s.name, s.frames) for s in batch] == [
        ("mail_from", [9, 10]),
        ("rcpt_to", [9, 10]),
        ("rcpt_to", [9, 10]),
        ("data", [9, 10]),
    ]
    replies = [(s.reply.code, s.reply.enhanced) for s in batch if s.reply is not None]
    assert replies == [(250, "2.1.0"), (250, "2.1.5"), (250, "2.1.5"), (354, None)]
    assert [s.facts.get("address") for s in batch[1:3]] == ["alice@example.test", "carol@example.test"]
    assert _step_at(session, "message", 11).frames == [11, 12]
    # The server advertised PIPELINING in frame 8.
    assert "PIPELINING" in [e.keyword for e in session.extensions]
    assert _findings(session, "pipelining_unadvertised") == []
    assert _findings(session, "unexpected_reply") == []


def test_command_split_across_segments_is_one_command() -> None:
    session = _one(DATA / "pipelining.pcapng")
    # 13: "MAI" alone; 15: "L FROM:<bob@example.test>\r\n"; 17: "250 2.1.0 Ok".
    step = _step_at(session, "mail_from", 15)
    assert step.frames == [13, 15, 17]
    assert step.lines[0] == "C: MAIL FROM:<bob@example.test>"
    assert step.facts["address"] == "bob@example.test"
    assert step.reply is not None and step.reply.frames == [17]


def test_lowercase_commands_are_recognised() -> None:
    session = _one(DATA / "pipelining.pcapng")
    assert _steps(session)[-6:] == [
        ("mail_from", [13, 15, 17]),
        ("rcpt_to", [18, 19]),  # "rcpt to:<alice@example.test>"
        ("data", [20, 21]),  # "data"
        ("message", [22, 23]),
        ("quit", [24, 25]),  # "quit"
        ("close", [26, 27]),
    ]
    first, second = session.transactions
    assert [r.address for r in second.recipients] == ["alice@example.test"]
    assert second.message is not None and second.message.headers["subject"] == "split and lowercase commands"
    assert first.message is not None and first.message.headers["subject"] == "pipelined transaction"


# == 3. AUTH =================================================================================
PASSWORD = "s3cret-Passw0rd"
PLAIN_B64 = base64.b64encode(b"\0alice\0" + PASSWORD.encode()).decode()
USER_B64 = base64.b64encode(b"alice").decode()
PASSWORD_B64 = base64.b64encode(PASSWORD.encode()).decode()
# auth-cram-md5 frame 11: base64 of "alice <hex digest>"; auth-failed-535 frame 9: "\0alice\0wrong-password".
CRAM_RESPONSE_B64 = "YWxpY2UgZjdlYWYxNDNhN2YwZjc2ZWNhY2JhNzg5YTFmYWRhODA="
WRONG_B64 = base64.b64encode(b"\0alice\0wrong-password").decode()
# auth-xoauth2 frame 9: "AUTH XOAUTH2 <base64 of user=alice^Aauth=Bearer TOKEN^A^A>".
TOKEN = "ya29.smtpdoc-lab-Bearer-9qT4xVw2"
XOAUTH2_B64 = base64.b64encode(f"user=alice\x01auth=Bearer {TOKEN}\x01\x01".encode()).decode()
# auth-scram-sha-256, read with tshark -T fields -e tcp.payload: 9 client-first (initial response),
# 10 "334 server-first", 11 client-final, 12 "334 server-final", 13 an empty line.
SCRAM_CLIENT_FIRST_B64 = "biwsbj1hbGljZSxyPWZEVjhyNUNES0FyNUNpd0xGaHdnMWV4dg=="
SCRAM_SERVER_FIRST_B64 = (
    "cj1mRFY4cjVDREtBcjVDaXdMRmh3ZzFleHZ2THBxZWk4N01EektXUytSbnJaR09hcHUscz1VTStCRVV6RmN1aGFxWkR4KzFMOC9RPT0saT00MDk2"
)
SCRAM_CLIENT_FINAL_B64 = (
    "Yz1iaXdzLHI9ZkRWOHI1Q0RLQXI1Q2l3TEZod2cxZXh2dkxwcWVpODdNRHpLV1MrUm5yWkdPYXB1LHA9ZWRiNWNsUXozL3cra1NKS2kvNmJ4"
    "ODVoQ1pZdmVUL3IrT2pabVhQc1NuYz0="
)
SCRAM_SERVER_FINAL_B64 = "dj1taHFCQ2hzMmdlVTZjYzc0dHZ4cmQyR0RycDVnclI3WWpWUGNubDh0SElVPQ=="
SCRAM_PROOF = "edb5clQz3/w+kSJKi/6bx85hCZYveT/r+OjZmXPsSnc="  # p= of the client-final
SECRETS = [PASSWORD, PLAIN_B64, USER_B64, PASSWORD_B64, CRAM_RESPONSE_B64, WRONG_B64, "wrong-password"]
SECRETS += [TOKEN, XOAUTH2_B64, SCRAM_CLIENT_FINAL_B64, SCRAM_PROOF]
AUTH_CAPTURES = ["auth-plain-cleartext", "auth-login-cleartext", "auth-cram-md5", "auth-failed-535"]
AUTH_CAPTURES += ["auth-xoauth2", "auth-scram-sha-256"]
FORMATS = ["terminal", "json", "markdown", "html"]


def test_the_secret_forms_are_the_ones_on_the_wire() -> None:
    assert PLAIN_B64 == "AGFsaWNlAHMzY3JldC1QYXNzdzByZA=="  # frame 9 of auth-plain-cleartext
    assert USER_B64 == "YWxpY2U="  # frame 11 of auth-login-cleartext
    assert PASSWORD_B64 == "czNjcmV0LVBhc3N3MHJk"  # frame 13 of auth-login-cleartext
    assert WRONG_B64 == "AGFsaWNlAHdyb25nLXBhc3N3b3Jk"  # frame 9 of auth-failed-535
    # frame 9 of auth-xoauth2
    assert XOAUTH2_B64 == "dXNlcj1hbGljZQFhdXRoPUJlYXJlciB5YTI5LnNtdHBkb2MtbGFiLUJlYXJlci05cVQ0eFZ3MgEB"


def test_scram_exchange_on_the_wire_is_real_scram_sha_256() -> None:
    """auth-scram-sha-256 frames 9-12 are RFC 5802/7677 messages that verify with alice's password."""
    first = base64.b64decode(SCRAM_CLIENT_FIRST_B64).decode()
    server_first = base64.b64decode(SCRAM_SERVER_FIRST_B64).decode()
    final = base64.b64decode(SCRAM_CLIENT_FINAL_B64).decode()
    server_final = base64.b64decode(SCRAM_SERVER_FINAL_B64).decode()
    assert first.startswith("n,,n=alice,r=")
    attrs = dict(part.split("=", 1) for part in server_first.split(","))
    assert attrs["r"].startswith(first.split("r=", 1)[1]) and attrs["i"] == "4096"
    without_proof, proof = final.split(",p=")
    assert without_proof == f"c=biws,r={attrs['r']}" and proof == SCRAM_PROOF
    salted = hashlib.pbkdf2_hmac("sha256", PASSWORD.encode(), base64.b64decode(attrs["s"]), 4096)
    auth_message = f"{first[3:]},{server_first},{without_proof}".encode()
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    signature = hmac.new(hashlib.sha256(client_key).digest(), auth_message, hashlib.sha256).digest()
    assert base64.b64decode(proof) == bytes(a ^ b for a, b in zip(client_key, signature, strict=True))
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    verifier = hmac.new(server_key, auth_message, hashlib.sha256).digest()
    assert server_final == "v=" + base64.b64encode(verifier).decode()


@pytest.mark.parametrize(
    ("capture", "mechanism", "frames", "challenges", "outcome", "code"),
    [
        ("auth-plain-cleartext", "PLAIN", [9, 10], 0, "accepted", 235),
        ("auth-login-cleartext", "LOGIN", [9, 10, 11, 12, 13, 14], 2, "accepted", 235),
        ("auth-cram-md5", "CRAM-MD5", [9, 10, 11, 12], 1, "accepted", 235),
        ("auth-failed-535", "PLAIN", [9, 10], 0, "rejected", 535),
        # 9: AUTH XOAUTH2 with the token as initial response; 10: 235
        ("auth-xoauth2", "XOAUTH2", [9, 10], 0, "accepted", 235),
        # 9: client-first on the AUTH line; 10: 334 server-first; 11: client-final; 12: 334 v=...;
        # 13: empty line; 14: 235
        ("auth-scram-sha-256", "SCRAM-SHA-256", [9, 10, 11, 12, 13, 14], 2, "accepted", 235),
    ],
)
def test_auth_mechanism_challenges_and_outcome(
    capture: str, mechanism: str, frames: list[int], challenges: int, outcome: str, code: int
) -> None:
    session = _one(DATA / f"{capture}.pcapng")
    (auth,) = _named(session, "auth")
    assert auth.frames == frames
    assert (auth.facts["mechanism"], auth.facts["outcome"], auth.facts["code"]) == (mechanism, outcome, code)
    assert sum(line.startswith("S: 334") for line in auth.lines) == challenges
    assert auth.lines[0].startswith(f"C: AUTH {mechanism}")
    assert auth.reply is not None and auth.reply.code == code and auth.reply.frames == [frames[-1]]
    # No TLS anywhere in these sessions: the AUTH command of frame 9 went out in the clear.
    assert _finding(session, "auth_cleartext").frames == [9]


def test_auth_rejected_is_an_error_reply() -> None:
    session = _one(DATA / "auth-failed-535.pcapng")
    (error,) = _findings(session, "error_reply")
    assert error.frames == [10]
    assert error.detail.startswith("535 5.7.8")
    assert session.transactions == []
    assert [s.name for s in session.steps][-2:] == ["quit", "close"]


def test_message_after_cram_md5_is_read_from_the_bytes() -> None:
    """tshark 4.0 glues the CRAM-MD5 response (11) onto the message (19) and loses the subject."""
    session = _one(DATA / "auth-cram-md5.pcapng")
    message = _step_at(session, "message", 19)
    assert message.frames == [19, 20]
    (tr,) = session.transactions
    assert tr.message is not None and tr.message.headers["subject"] == "sent after AUTH CRAM-MD5"


@pytest.mark.parametrize("fmt", FORMATS)
def test_no_credential_in_any_format_by_default(fmt: str) -> None:
    runs = _cli_all([("explain", str(DATA / f"{c}.pcapng"), "--format", fmt) for c in AUTH_CAPTURES])
    for capture, done in zip(AUTH_CAPTURES, runs, strict=True):
        assert done.returncode == 0, done.stderr
        leaked = [s for s in SECRETS if s in done.stdout or s in done.stderr]
        assert leaked == [], f"{capture} --format {fmt}"
        assert "[redacted]" in done.stdout, f"{capture} --format {fmt}"


@pytest.mark.parametrize("fmt", FORMATS)
def test_show_secrets_reveals_the_credentials_on_the_wire(fmt: str) -> None:
    captures = ["auth-plain-cleartext", "auth-login-cleartext"]
    runs = _cli_all([("explain", str(DATA / f"{c}.pcapng"), "--format", fmt, "--show-secrets") for c in captures])
    plain, login = runs
    for done in runs:
        assert done.returncode == 0, done.stderr
        assert "warning" in done.stderr and "--show-secrets" in done.stderr
    assert PLAIN_B64 in plain.stdout
    assert USER_B64 in login.stdout and PASSWORD_B64 in login.stdout


def test_show_secrets_also_shows_the_decoded_password() -> None:
    """The brief: with --show-secrets the password itself appears, not only its base64."""
    for capture in ("auth-plain-cleartext", "auth-login-cleartext"):
        done = _cli("explain", str(DATA / f"{capture}.pcapng"), "--format", "terminal", "--show-secrets")
        assert PASSWORD in done.stdout, capture


def test_show_secrets_in_the_model() -> None:
    hidden = _named(_one(DATA / "auth-login-cleartext.pcapng"), "auth")[0]
    shown = _named(_one(DATA / "auth-login-cleartext.pcapng", reveal=True), "auth")[0]
    assert not any(s in line for line in hidden.lines for s in SECRETS)
    assert f"C: {USER_B64} (base64 of 'alice')" in shown.lines
    assert f"C: {PASSWORD_B64} (base64 of 's3cret-Passw0rd')" in shown.lines


def test_scram_exchange_is_redacted_both_ways() -> None:
    """The client's SCRAM lines (9, 11, 13) carry the proof; the server's (10, 12) the salt,
    iteration count and server signature, which together allow an offline password guess:
    all redacted by default, shown (decoded) with --show-secrets."""
    auth = _named(_one(DATA / "auth-scram-sha-256.pcapng"), "auth")[0]
    assert auth.lines[0] == "C: AUTH SCRAM-SHA-256 [redacted]"
    assert [line for line in auth.lines if line.startswith("C: ")][1:] == ["C: [redacted]", "C: [redacted]"]
    assert [line for line in auth.lines if line.startswith("S: 334")] == ["S: 334 [redacted]", "S: 334 [redacted]"]
    assert not any(s in line for line in auth.lines for s in SECRETS)
    shown = _named(_one(DATA / "auth-scram-sha-256.pcapng", reveal=True), "auth")[0]
    assert shown.lines[1].startswith(f"S: 334 {SCRAM_SERVER_FIRST_B64}")


@pytest.mark.parametrize(
    "capture", ["auth-plain-cleartext", "auth-login-cleartext", "auth-cram-md5", "auth-xoauth2", "auth-scram-sha-256"]
)
def test_annotated_capture_holds_no_credential(capture: str, tmp_path: Path) -> None:
    out = tmp_path / "annotated.pcapng"
    done = _cli("annotate", str(DATA / f"{capture}.pcapng"), "-o", str(out), "-q")
    assert done.returncode == 0, done.stderr
    back = subprocess.run(
        [find_tshark().path, "-r", str(out), "-T", "fields", "-e", "frame.number", "-e", "frame.comment"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert [s for s in SECRETS if s in back] == []
    comments = dict(line.split("\t", 1) for line in back.splitlines() if "\t" in line)
    assert "auth" in comments["9"] and "auth_cleartext" in comments["9"]


# == 4. TLS ==================================================================================
def test_tls12_hello_and_certificate() -> None:
    session = _one(DATA / "tls12.pcapng")
    assert _steps(session)[4:7] == [("starttls", [9]), ("starttls_reply", [10]), ("tls_handshake", [11, 12, 13, 14])]
    tls = session.tls
    assert tls is not None and tls.established and not tls.implicit
    hello = tls.client_hello
    # 11: legacy version 0x0303, no supported_versions extension, 56 bytes of suites, no SNI.
    assert hello is not None
    assert (hello["frame"], hello["versions"], hello["cipher_count"], hello["sni"]) == (11, [TLS_1_2], 28, None)
    server = tls.server_hello
    # 12: ServerHello 0x0303 with 0xc030.
    assert server is not None
    assert (server["frame"], server["version"], server["version_name"]) == (12, TLS_1_2, "TLS 1.2")
    assert (server["cipher"], server["cipher_name"]) == (0xC030, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384")
    cert = tls.certificate
    assert cert is not None and cert["frame"] == 12
    assert "mail.example.test" in cert["subject"] and "mail.example.test" in cert["issuer"]
    assert cert["not_before"].startswith("2026-11-28 10:51:59")
    assert cert["not_after"].startswith("2026-12-28 10:51:59")
    assert _findings(session, "tls_old_version") == []


def test_tls13_hello_lists_offered_versions() -> None:
    tls = _one(DATA / "starttls-injection.pcapng").tls
    assert tls is not None and tls.client_hello is not None and tls.server_hello is not None
    # 11: supported_versions 0x0304, 0x0303, 0x0302, 0x0301; 62 bytes of suites; 12 picks 0x1302.
    assert tls.client_hello["versions"] == [TLS_1_3, TLS_1_2, 0x0302, TLS_1_0]
    assert tls.client_hello["cipher_count"] == 31
    assert tls.server_hello["version_name"] == "TLS 1.3"
    assert tls.server_hello["cipher_name"] == "TLS_AES_256_GCM_SHA384"


def test_tls10_accepted_is_an_old_version() -> None:
    session = _one(DATA / "tls10-accepted.pcapng")
    assert _finding(session, "tls_old_version").frames == [12]
    tls = session.tls
    assert tls is not None and tls.established
    assert tls.client_hello is not None and tls.client_hello["versions"] == [TLS_1_0]
    assert tls.client_hello["cipher_count"] == 9
    assert tls.server_hello is not None
    assert (tls.server_hello["version"], tls.server_hello["cipher"]) == (TLS_1_0, 0xC014)
    assert tls.server_hello["cipher_name"] == "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA"
    # 24: the client's FIN; 25: RST from the server.
    (close,) = _named(session, "close")
    assert 25 in close.frames and close.facts["how"] == "RST"


def test_tls_alert_protocol_version_fails_the_handshake() -> None:
    session = _one(DATA / "tls-alert-old-version.pcapng")
    assert _finding(session, "tls_alert").frames == [12]
    assert _finding(session, "tls_handshake_failure").frames == [12]
    tls = session.tls
    assert tls is not None and not tls.established and tls.server_hello is None
    assert [(a["level"], a["description"], a["frame"], a["by"]) for a in tls.alerts] == [(2, 70, 12, "server")]
    assert _steps(session)[6:] == [("tls_handshake", [11, 12]), ("close", [13, 14])]


def test_implicit_tls_on_465() -> None:
    session = _one(DATA / "implicit-tls-465.pcapng")
    assert [name for name, _ in _steps(session)] == ["tcp_handshake", "tls_handshake", "encrypted", "close"]
    assert _named(session, "tls_handshake")[0].frames[0] == 4  # ClientHello right after the handshake
    assert session.server.port == 465
    assert session.tls is not None and session.tls.implicit and session.tls.established
    assert _findings(session, "implicit_tls") != []
    for bad in ("starttls_not_offered", "starttls_not_used", "mid_session"):
        assert _findings(session, bad) == [], bad


def test_implicit_tls_finding_points_at_the_client_hello() -> None:
    """A finding with no frame cannot be annotated or clicked; frame 4 is where TLS starts."""
    assert _finding(_one(DATA / "implicit-tls-465.pcapng"), "implicit_tls").frames == [4]


# == (a) SMTP inside TLS when the keys are known ===============================================
POSTFIX_INNER = [
    ("ehlo", [15]),
    ("ehlo_reply", [16]),
    ("mail_from", [17, 18]),
    ("rcpt_to", [19, 20]),
    ("data", [21, 22]),
    ("message", [23, 24]),
    ("quit", [25, 26]),
]


@pytest.mark.parametrize(
    ("capture", "inner"),
    [
        (EXAMPLES / "starttls.pcapng", POSTFIX_INNER),
        (EXAMPLES / "starttls-ipv6.pcapng", POSTFIX_INNER),
        (DATA / "tls12.pcapng", POSTFIX_INNER),
        (DATA / "tls10-accepted.pcapng", [("ehlo", [15]), ("ehlo_reply", [16]), ("quit", [18, 19])]),
        (DATA / "starttls-injection.pcapng", [("ehlo", [14]), ("ehlo_reply", [17]), ("quit", [19, 20])]),
        (
            DATA / "starttls-split.pcapng",
            [
                ("ehlo", [17]),
                ("ehlo_reply", [20]),
                ("mail_from", [22, 23]),
                ("rcpt_to", [24, 25]),
                ("data", [26, 27]),
                ("message", [28, 29]),
                ("quit", [30, 31]),
            ],
        ),
        # 14: MAIL FROM straight after the handshake (no EHLO), 17: "250 2.1.0 Ok"; 19/20: EHLO; 21/22: QUIT
        (
            DATA / "no-ehlo-after-tls.pcapng",
            [("mail_from", [14, 17]), ("ehlo", [19]), ("ehlo_reply", [20]), ("quit", [21, 22])],
        ),
        (DATA / "starttls-after-tls.pcapng", POSTFIX_INNER),
        (
            DATA / "implicit-tls-465.pcapng",
            [
                ("greeting", [11]),
                ("ehlo", [13]),
                ("ehlo_reply", [14]),
                ("mail_from", [15, 16]),
                ("rcpt_to", [17, 18]),
                ("data", [19, 20]),
                ("message", [21, 22]),
                ("quit", [23, 24]),
            ],
        ),
    ],
    ids=lambda v: v.name if isinstance(v, Path) else None,
)
def test_smtp_steps_inside_tls_with_the_keylog(capture: Path, inner: list[tuple[str, list[int]]]) -> None:
    session = _keyed(capture)
    assert session.tls is not None and session.tls.decrypted
    assert _inner(session) == inner
    # Nothing before the handshake is inside TLS.
    handshake = _named(session, "tls_handshake")[0].frames[0]
    assert all(not s.inside_tls for s in session.steps if s.frames and s.frames[-1] < handshake)


def test_embedded_keys_decrypt_with_no_option() -> None:
    session = _one(EXAMPLES / "starttls-dsb.pcapng")
    assert _inner(session) == POSTFIX_INNER
    ehlo = _step_at(session, "ehlo", 15)
    assert ehlo.facts["client_name"] == "client.example.test"
    mail = _step_at(session, "mail_from", 17)
    assert (mail.facts["address"], mail.facts["params"]) == ("bob@example.test", "size=349")
    (tr,) = session.transactions
    assert tr.tls
    assert [(r.address, r.code) for r in tr.recipients] == [("alice@example.test", 250)]
    assert tr.message is not None and tr.message.headers["subject"] == "smtpdoc walkthrough"
    assert tr.last_reply == "250 2.0.0 Ok: queued as C3234176077"
    assert _findings(session, "no_ehlo_after_tls") == [] and _findings(session, "starttls_after_tls") == []


@pytest.mark.parametrize(
    "capture",
    [EXAMPLES / "starttls-dsb.pcapng", DATA / "tls12.pcapng", DATA / "starttls-port-2525.pcapng"],
    ids=lambda p: p.name,
)
def test_inner_extension_list_drops_starttls(capture: Path) -> None:
    """Frame 16: Postfix's EHLO reply inside TLS is frame 8's list without STARTTLS (and no AUTH added)."""
    session = _one(capture) if capture.name.endswith("-dsb.pcapng") else _keyed(capture)
    assert [e.keyword for e in session.extensions] == POSTFIX_EXTENSIONS
    assert session.inner_extensions is not None
    assert [e.keyword for e in session.inner_extensions] == [k for k in POSTFIX_EXTENSIONS if k != "STARTTLS"]
    reply = _step_at(session, "ehlo_reply", 16)
    assert reply.inside_tls
    assert "STARTTLS" not in reply.facts["extensions"] and "AUTH" not in reply.facts["extensions"]


def test_injected_rset_gets_no_reply_from_inside_tls() -> None:
    """Postfix dropped the plaintext RSET of frame 9: the reply in 17 answers the EHLO of 14."""
    session = _keyed(DATA / "starttls-injection.pcapng")
    rset = _step_at(session, "command", 9)
    assert rset.facts["verb"] == "RSET" and rset.reply is None
    reply = _step_at(session, "ehlo_reply", 17)
    assert reply.inside_tls and reply.reply is not None and reply.reply.code == 250
    assert _finding(session, "starttls_injection").frames == [9]
    assert _findings(session, "unexpected_reply") == []


def test_mail_without_ehlo_after_tls_is_a_finding() -> None:
    """no-ehlo-after-tls: 9/10 STARTTLS/220, 11-13 TLS 1.3, 14 "MAIL FROM:<bob@example.test>" inside TLS.
    Postfix (smtpd_helo_required = no) answers it "250 2.1.0 Ok" in 17."""
    session = _keyed(DATA / "no-ehlo-after-tls.pcapng")
    assert _finding(session, "no_ehlo_after_tls").frames == [14]
    mail = _step_at(session, "mail_from", 14)
    assert mail.inside_tls and mail.reply is not None and (mail.reply.code, mail.reply.enhanced) == (250, "2.1.0")
    assert _findings(session, "starttls_after_tls") == []
    # Without the keys nothing inside TLS is known, so nothing can be said.
    assert _findings(_one(DATA / "no-ehlo-after-tls.pcapng"), "no_ehlo_after_tls") == []


def test_starttls_advertised_again_inside_tls() -> None:
    """starttls-after-tls: 8 (cleartext) and 16 (inside TLS) both list STARTTLS."""
    session = _keyed(DATA / "starttls-after-tls.pcapng")
    assert _finding(session, "starttls_after_tls").frames == [16]
    assert session.inner_extensions is not None
    assert [e.keyword for e in session.inner_extensions] == [e.keyword for e in session.extensions]
    assert "STARTTLS" in [e.keyword for e in session.inner_extensions]
    assert _findings(session, "no_ehlo_after_tls") == []
    assert _findings(_one(DATA / "starttls-after-tls.pcapng"), "starttls_after_tls") == []


def test_second_session_resumes_the_first_tls_session() -> None:
    """tls-resumed: two connections. 12: full ServerHello (+ Certificate...); 42: ServerHello with the
    pre_shared_key extension (41), no Certificate: the ticket from 14 was accepted."""
    first, second = sessions_of(DATA / "tls-resumed.pcapng")
    assert (first.client.port, second.client.port) == (33424, 33436)
    assert first.tls is not None and second.tls is not None
    assert first.tls.server_hello is not None and first.tls.server_hello["frame"] == 12
    assert second.tls.server_hello is not None and second.tls.server_hello["frame"] == 42
    assert (first.tls.resumed, second.tls.resumed) == (False, True)
    assert _findings(first, "tls_resumed") == []
    assert _finding(second, "tls_resumed").frames == [42]
    assert _named(second, "tls_handshake")[0].frames == [41, 42, 43]


def test_resumed_session_decrypts_with_the_shared_keylog() -> None:
    first, second = sessions_of(DATA / "tls-resumed.pcapng", keylog=str(DATA / "tls-resumed.keylog"))
    assert _inner(first) == POSTFIX_INNER
    assert _inner(second) == [
        ("ehlo", [45]),
        ("ehlo_reply", [47]),
        ("mail_from", [48, 49]),
        ("rcpt_to", [50, 51]),
        ("data", [52, 53]),
        ("message", [54, 55]),
        ("quit", [56, 57]),
    ]
    subjects = [tr.message.headers["subject"] for s in (first, second) for tr in s.transactions if tr.message]
    assert subjects == ["TLS session 1 of 2", "TLS session 2 of 2"]


def test_without_keys_nothing_is_inside_tls() -> None:
    session = _one(EXAMPLES / "starttls.pcapng")
    assert _inner(session) == []
    assert session.inner_extensions is None
    assert session.transactions == []


# == 5. Ports =================================================================================
@pytest.mark.parametrize(
    ("capture", "port", "second_step"),
    [
        (EXAMPLES / "plain.pcapng", 25, ("greeting", [4])),
        (DATA / "auth-plain-cleartext.pcapng", 587, ("greeting", [4])),
        (DATA / "implicit-tls-465.pcapng", 465, ("tls_handshake", [4, 6, 8])),
    ],
    ids=lambda v: v.name if isinstance(v, Path) else None,
)
def test_standard_ports_are_recognised(capture: Path, port: int, second_step: tuple[str, list[int]]) -> None:
    session = _one(capture)
    assert session.server.port == port
    assert _steps(session)[:2] == [("tcp_handshake", [1, 2, 3]), second_step]


PORT_2525_STEPS = [
    ("tcp_handshake", [1, 2, 3]),
    ("greeting", [4]),
    ("ehlo", [6]),
    ("ehlo_reply", [8]),
    ("mail_from", [9, 10]),
    ("rcpt_to", [11, 12]),
    ("rcpt_to", [13, 14]),
    ("data", [15, 16]),
    ("message", [17, 18]),
    ("quit", [19, 20]),
    ("close", [21, 22]),
]


def test_port_2525_is_detected_from_the_greeting() -> None:
    session = _one(DATA / "smtp-port-2525.pcapng")
    assert session.server.port == 2525
    assert _steps(session) == PORT_2525_STEPS
    (tr,) = session.transactions
    assert tr.message is not None and tr.message.headers["subject"] == "plain SMTP, two recipients"


def test_decode_as_forces_port_2525() -> None:
    (session,) = _decoded_as(str(DATA / "smtp-port-2525.pcapng"), (2525,))
    assert _steps(session) == PORT_2525_STEPS
    report = _json_report(DATA / "smtp-port-2525.pcapng", "--decode-as", "2525")
    (json_session,) = report["sessions"]
    assert [(s["name"], s["frames"]) for s in json_session["steps"]] == PORT_2525_STEPS


STARTTLS_2525_INNER = POSTFIX_INNER


def test_starttls_on_2525_decrypts_without_decode_as() -> None:
    """tshark dissects SMTP inside TLS on 2525 only with a decode-as: smtpdoc must add it itself."""
    session = _keyed(DATA / "starttls-port-2525.pcapng")
    assert _steps(session)[4:7] == [("starttls", [9]), ("starttls_reply", [10]), ("tls_handshake", [11, 12, 13])]
    assert _inner(session) == STARTTLS_2525_INNER
    (tr,) = session.transactions
    assert tr.tls and tr.message is not None and tr.message.headers["subject"] == "smtpdoc walkthrough"


def test_starttls_on_2525_with_decode_as_matches() -> None:
    keylog = str(DATA / "starttls-port-2525.keylog")
    (forced,) = _decoded_as(str(DATA / "starttls-port-2525.pcapng"), (2525,), keylog)
    assert _inner(forced) == STARTTLS_2525_INNER
    assert _steps(_keyed(DATA / "starttls-port-2525.pcapng")) == _steps(forced)


# == 6. Findings on the right frames ===========================================================
@pytest.mark.parametrize(
    ("capture", "name", "frames"),
    [
        ("starttls-masked", "starttls_masked", [8]),  # 8: "250-XXXXXXXA"
        ("starttls-not-offered", "starttls_not_offered", [8]),  # 8: no STARTTLS line
        ("starttls-refused", "starttls_refused", [10]),  # 10: "454 4.7.0 TLS not available..."
        ("starttls-refused", "cleartext_after_refusal", [11]),  # 11: mail FROM in the clear
        ("auth-plain-cleartext", "auth_cleartext", [9]),  # 9: AUTH PLAIN <base64>
        ("starttls-injection", "starttls_injection", [9]),  # 9: "STARTTLS\r\nRSET\r\n"
        ("bare-lf", "bare_line_ending", [15]),  # 15: the message with "\n" and "\r" alone
        ("bare-lf", "line_too_long", [17]),  # 17: a 587-byte MAIL FROM line
        ("mid-session", "mid_session", [1]),  # the capture starts with "ehlo"
        ("starttls-stripped", "starttls_stripped", [8]),  # 8: no STARTTLS in the EHLO reply, asked in 9
        ("starttls-stripped", "starttls_refused", [10]),  # 10: "502 5.5.1 Error: command not implemented"
        ("starttls-stripped", "cleartext_after_refusal", [11]),  # 11: mail FROM in the clear
    ],
)
def test_finding_on_its_frame(capture: str, name: str, frames: list[int]) -> None:
    assert _finding(_one(DATA / f"{capture}.pcapng"), name).frames == frames


def test_masked_starttls_is_not_called_unoffered() -> None:
    session = _one(DATA / "starttls-masked.pcapng")
    assert "XXXXXXXA" in _finding(session, "starttls_masked").detail
    assert _findings(session, "starttls_not_offered") == []


def test_starttls_refused_reply_and_cleartext_mail() -> None:
    session = _one(DATA / "starttls-refused.pcapng")
    reply = _step_at(session, "starttls_reply", 10)
    assert reply.reply is not None and (reply.reply.code, reply.reply.enhanced) == (454, "4.7.0")
    assert session.tls is None
    (tr,) = session.transactions
    assert not tr.tls and tr.message is not None
    assert _step_at(session, "message", 17).frames == [17, 18]  # the message and its 250, in the clear


def test_starttls_asked_though_not_offered() -> None:
    """starttls-stripped: 8 has no STARTTLS; 9 STARTTLS anyway; 10 "502 5.5.1"; 11-18 the mail in clear."""
    session = _one(DATA / "starttls-stripped.pcapng")
    assert "STARTTLS" not in [e.keyword for e in session.extensions]
    assert _steps(session)[4:6] == [("starttls", [9]), ("starttls_reply", [10])]
    reply = _step_at(session, "starttls_reply", 10)
    assert reply.reply is not None and (reply.reply.code, reply.reply.enhanced) == (502, "5.5.1")
    assert _findings(session, "starttls_not_offered") == []  # it is the stronger starttls_stripped
    assert session.tls is None
    (tr,) = session.transactions
    assert not tr.tls and tr.message is not None
    assert tr.message.headers["subject"] == "STARTTLS not offered, asked anyway, refused"


def test_line_too_long_names_the_length() -> None:
    detail = _finding(_one(DATA / "bare-lf.pcapng"), "line_too_long").detail
    assert "587" in detail and "512" in detail


def test_bare_lf_and_bare_cr_are_both_reported() -> None:
    """Frame 15's body has "bare LF\\n" and "bare CR\\rinside": both are wrong line endings."""
    details = " ".join(f.detail for f in _findings(_one(DATA / "bare-lf.pcapng"), "bare_line_ending"))
    assert "LF" in details and "CR" in details


@pytest.mark.parametrize(
    ("frame", "code", "enhanced"),
    [
        (10, 503, "5.5.1"),
        (12, 501, "5.5.4"),
        (14, 500, "5.5.2"),
        (20, 550, "5.1.1"),
        (22, 501, "5.5.4"),
        (24, 500, "5.5.2"),
        (28, 550, "5.1.1"),
    ],
)
def test_error_reply_with_its_enhanced_code(frame: int, code: int, enhanced: str) -> None:
    session = _one(DATA / "errors.pcapng")
    (found,) = [f for f in _findings(session, "error_reply") if frame in f.frames]
    assert found.detail.startswith(f"{code} {enhanced} ")


def test_no_error_reply_for_success_codes() -> None:
    flagged = {frame for f in _findings(_one(DATA / "errors.pcapng"), "error_reply") for frame in f.frames}
    assert flagged == {10, 12, 14, 20, 22, 24, 28}  # not 16 (250), 18 (252), 26, 30 (250), 32 (221)


def test_mid_session_has_no_handshake_or_greeting() -> None:
    session = _one(DATA / "mid-session.pcapng")
    names = [name for name, _ in _steps(session)]
    assert names[:2] == ["ehlo", "ehlo_reply"]
    assert "tcp_handshake" not in names and "greeting" not in names
    assert _step_at(session, "ehlo", 1).frames == [1]


def test_a_220_answering_starttls_is_no_greeting_when_the_greeting_is_missing() -> None:
    # examples/starttls.pcapng without frames 1-5: the capture starts with "ehlo" (1); 5 is
    # "220 2.0.0 Ready to start TLS", the reply to STARTTLS (4), after the EHLO reply (3).
    session = _one(DATA / "mid-session-starttls.pcapng")
    assert _steps(session) == [
        ("ehlo", [1]),
        ("ehlo_reply", [3]),
        ("starttls", [4]),
        ("starttls_reply", [5]),
        ("tls_handshake", [6, 7, 8]),
        ("encrypted", list(range(9, 23))),
        ("close", [22, 24]),
    ]
    assert _step_at(session, "starttls_reply", 5).reply.code == 220  # type: ignore[union-attr]
    assert [(f.name, f.frames) for f in session.findings] == [("mid_session", [1])]
    assert session.tls is not None and not session.tls.implicit


def test_a_capture_that_starts_at_starttls_reads_its_220_as_the_go_ahead() -> None:
    # examples/starttls.pcapng without frames 1-8: 1 STARTTLS, 2 "220 2.0.0 Ready to start TLS",
    # the server's first reply in the capture but no greeting: STARTTLS waits for it.
    session = _one(DATA / "starts-at-starttls.pcapng")
    assert _steps(session) == [
        ("starttls", [1]),
        ("starttls_reply", [2]),
        ("tls_handshake", [3, 4, 5]),
        ("encrypted", list(range(6, 20))),
        ("close", [19, 21]),
    ]
    assert [(f.name, f.frames) for f in session.findings] == [("mid_session", [1])]  # no early_talker


def test_a_lost_ehlo_reply_leaves_the_ehlo_unanswered_not_the_starttls() -> None:
    # examples/starttls.pcapng without frame 8 (the 250 EHLO reply, 168 bytes): 6 EHLO, 8 STARTTLS,
    # 9 "220 2.0.0 Ready to start TLS" right after the hole, 10 the ClientHello.
    session = _one(DATA / "lost-ehlo-reply.pcapng")
    steps = _steps(session)
    assert steps[2:6] == [("ehlo", [6]), ("starttls", [8]), ("starttls_reply", [9]), ("tls_handshake", [10, 11, 12])]
    assert "ehlo_reply" not in [name for name, _ in steps]
    assert _step_at(session, "ehlo", 6).reply is None  # its reply is in the missing bytes
    assert _step_at(session, "starttls_reply", 9).reply.code == 220  # type: ignore[union-attr]
    assert [(f.name, f.frames, f.detail) for f in session.findings] == [("data_gap", [9], "168 bytes missing")]
    assert session.tls is not None and session.tls.server_hello is not None


def test_a_lost_starttls_reply_still_turns_the_connection_to_tls() -> None:
    # examples/starttls.pcapng without frame 10 (the 220 to STARTTLS, 30 bytes): 9 STARTTLS, 10 the
    # client's ClientHello, 11 the ServerHello after the hole. tshark, which saw no 220, reads
    # them as SMTP; a client sends a ClientHello only after the 220, so the rest is TLS.
    session = _one(DATA / "lost-starttls-reply.pcapng")
    steps = _steps(session)
    assert steps[4:] == [("starttls", [9]), ("tls_handshake", list(range(10, 26))), ("close", [26, 28])]
    assert _step_at(session, "starttls", 9).reply is None
    assert [(f.name, f.frames, f.detail) for f in session.findings] == [("data_gap", [11], "30 bytes missing")]
    assert session.tls is not None and not session.tls.implicit


def test_bytes_lost_just_before_a_fin_are_said_missing() -> None:
    # examples/starttls.pcapng without frame 25 (the client's last 28-byte TLS record): the
    # client's bytes end at seq 1197 (frame 23), its FIN (28) is at seq 1225; no later segment
    # shows the hole, only the FIN's sequence number does.
    session = _one(DATA / "lost-before-fin.pcapng")
    assert [(f.name, f.frames, f.detail) for f in session.findings] == [("data_gap", [28], "28 bytes missing")]
    assert _steps(session)[-1] == ("close", [26, 28])
    assert session.tls is not None and session.tls.bytes["client"] == 1160


def test_a_235_after_a_lost_ehlo_reply_answers_the_auth() -> None:
    # tests/data/auth-plain-cleartext.pcapng without frame 8 (the 250 EHLO reply): 6 EHLO,
    # 8 AUTH PLAIN, 9 "235 2.7.0 Authentication successful" right after the hole.
    session = _one(DATA / "lost-ehlo-reply-auth.pcapng")
    assert "ehlo_reply" not in [name for name, _ in _steps(session)]
    auth = _step_at(session, "auth", 8)
    assert (auth.frames, auth.facts["outcome"]) == ([8, 9], "accepted")
    assert _step_at(session, "mail_from", 10).reply.code == 250  # type: ignore[union-attr]
    assert _finding(session, "data_gap").frames == [9]


def test_an_auth_answered_by_250_after_a_lost_235_is_not_called_rejected() -> None:
    # tests/data/auth-plain-cleartext.pcapng without frame 10 (the 235): 9 AUTH PLAIN, 10 MAIL
    # FROM, 11 its 250 right after the hole, which the AUTH takes: a 250 proves no outcome.
    session = _one(DATA / "lost-auth-reply.pcapng")
    auth = _step_at(session, "auth", 9)
    assert auth.reply is not None and auth.reply.code == 250
    assert auth.facts["outcome"] == "unknown"
    assert "rejected" not in auth.summary
    assert _finding(session, "data_gap").frames == [11]


def test_a_first_reply_that_is_no_greeting_code_is_no_greeting() -> None:
    # examples/plain.pcapng without frames 1-6: the capture starts after the client's EHLO, so
    # its first SMTP frame (2) is the 250 EHLO reply, which no command in the capture asked for.
    session = _one(DATA / "mid-session-first-reply.pcapng")
    names = [name for name, _ in _steps(session)]
    assert "greeting" not in names
    first = _step_at(session, "command", 2)
    assert (first.facts["variant"], first.reply.code if first.reply else None) == ("unsolicited", 250)
    assert _finding(session, "mid_session").frames == [1]
    assert _finding(session, "unexpected_reply").frames == [2]
    assert names[1:] == ["mail_from", "rcpt_to", "rcpt_to", "data", "message", "quit", "close"]
    assert session.server_name is None  # "mail.example.test" was said in a reply, not a greeting


def test_a_capture_that_starts_inside_tls_shows_no_handshake_and_no_implicit_tls() -> None:
    # examples/starttls.pcapng without frames 1-15: TLS application data records from frame 1,
    # on port 25, which tshark reads as SMTP and so does not dissect as TLS.
    session = _one(DATA / "starts-inside-tls.pcapng")
    assert _steps(session) == [("encrypted", list(range(1, 12))), ("close", [12, 14])]
    encrypted = session.steps[0]
    assert (encrypted.facts["bytes_c2s"], encrypted.facts["bytes_s2c"]) == (543, 427)
    assert encrypted.facts["records"] is None  # tshark dissected none: not "0 encrypted records"
    assert [f.name for f in session.findings] == ["mid_session"]  # no implicit_tls: nothing shows it
    assert session.tls is not None and (session.tls.implicit, session.tls.established) == (False, True)
    assert "The TLS handshake is not visible (not captured, or not dissected as TLS)." in session.notes


def test_one_sided_capture() -> None:
    session = _one(DATA / "one-sided.pcapng")
    assert _findings(session, "one_sided") != []
    # 2: "220 mail.example.test ESMTP Postfix"; every frame is from port 25.
    greeting = _step_at(session, "greeting", 2)
    assert greeting.facts["server_name"] == "mail.example.test"
    assert session.server.port == 25
    assert _findings(session, "mid_session") == []


def test_starttls_not_used_on_plain() -> None:
    session = _one(EXAMPLES / "plain.pcapng")
    found = _finding(session, "starttls_not_used")
    # 8 offers STARTTLS; 9 is the first command sent in the clear after it.
    assert found.frames and found.frames[0] in (8, 9)
    assert [f.name for f in session.findings] == ["starttls_not_used", "mail_cleartext"]


@pytest.mark.parametrize(
    ("capture", "absent"),
    [
        (EXAMPLES / "starttls.pcapng", "starttls_not_used"),
        (DATA / "starttls-split.pcapng", "starttls_not_used"),
        (DATA / "starttls-split.pcapng", "starttls_injection"),
        (DATA / "tls12.pcapng", "tls_alert"),
    ],
    ids=lambda v: v.name if isinstance(v, Path) else v,
)
def test_no_false_finding(capture: Path, absent: str) -> None:
    assert _findings(_one(capture), absent) == []


def test_split_starttls_is_one_command() -> None:
    session = _one(DATA / "starttls-split.pcapng")
    # 9: "STAR"; 11: "TTLS\r\n"; 13: "220 2.0.0 Ready to start TLS".
    assert _steps(session)[4:6] == [("starttls", [9, 11]), ("starttls_reply", [13])]


# == 7. IPv6 ===================================================================================
def test_ipv6_session() -> None:
    session = _one(EXAMPLES / "starttls-ipv6.pcapng")
    assert session.client.address == "::1" and session.server.address == "::1"
    assert str(session.server) == "[::1]:25"
    assert _steps(session)[:7] == [
        ("tcp_handshake", [1, 2, 3]),
        ("greeting", [4]),
        ("ehlo", [6]),
        ("ehlo_reply", [8]),
        ("starttls", [9]),
        ("starttls_reply", [10]),
        ("tls_handshake", [11, 12, 13]),
    ]
    assert _named(session, "tcp_handshake")[0].facts["server"] == "[::1]:25"
    assert _named(session, "close")[0].frames == [30, 31]  # client FIN, then server FIN


def test_ipv6_inside_tls_with_keylog() -> None:
    session = _keyed(EXAMPLES / "starttls-ipv6.pcapng")
    (tr,) = session.transactions
    assert tr.tls and tr.mail_from == "bob@example.test"
    assert [(r.address, r.code) for r in tr.recipients] == [("alice@example.test", 250)]
    assert tr.last_reply == "250 2.0.0 Ok: queued as 56148C7402"


# == 8. Escaping ===============================================================================
SUBJECT = "<script>alert(1)</script>"
FROM = '"Mallory <b>&\\"\'" <mallory@example.test>'  # imf.from of frame 15, byte for byte


def test_json_keeps_the_subject_exactly() -> None:
    report = _json_report(DATA / "subject-script.pcapng")
    (session,) = report["sessions"]
    (tr,) = session["transactions"]
    assert tr["message"]["headers"]["subject"] == SUBJECT
    assert tr["message"]["headers"]["from"] == FROM
    assert tr["mail_from"] == "mallory@example.test"


def test_terminal_shows_the_subject_literally() -> None:
    done = _cli("explain", str(DATA / "subject-script.pcapng"), "--format", "terminal", "--no-color")
    assert done.returncode == 0, done.stderr
    assert SUBJECT in done.stdout
    assert "&lt;" not in done.stdout


def test_html_escapes_the_subject() -> None:
    done = _cli("explain", str(DATA / "subject-script.pcapng"), "--format", "html")
    assert done.returncode == 0, done.stderr
    assert SUBJECT not in done.stdout
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in done.stdout


# == 9. A server that is not SMTP on port 25 =====================================================
# not-smtp-on-25.pcapng: Python's http.server on 127.0.0.1:25. Session 1 (frames 1-12): curl's
# "GET / HTTP/1.1" (4), "HTTP/1.0 200 OK" + headers (6), the page (8), FIN 10/11. Session 2
# (frames 13-22): 26 bytes of binary garbage (16), the server's HTML 400 page without a status
# line (18), FIN 20/21. The server never greets, so nothing but TCP is explained.
NOT_SMTP = DATA / "not-smtp-on-25.pcapng"
# The 24 bytes examples/lab/lab_client.py (GARBAGE) sent before CRLF, read as Latin-1 and quoted.
GARBAGE = bytes.fromhex("8fa30007feff019c42d70000e1b5c3f0117e93ad2c6b88d4")
GARBAGE_DETAIL = "client sent " + repr(GARBAGE.decode("latin-1"))


def _not_smtp_sessions() -> tuple[Session, Session]:
    first, second = sessions_of(NOT_SMTP)
    return first, second


def test_not_smtp_keeps_only_the_tcp_steps() -> None:
    http, garbage = _not_smtp_sessions()
    assert _steps(http) == [("tcp_handshake", [1, 2, 3]), ("close", [10, 11])]
    assert _steps(garbage) == [("tcp_handshake", [13, 14, 15]), ("close", [20, 21])]
    assert http.server.port == garbage.server.port == 25


def test_not_smtp_frames_of_the_other_protocol_have_no_step() -> None:
    http, garbage = _not_smtp_sessions()
    hs, close = "tcp_handshake", "close"
    assert http.frame_steps == {1: hs, 2: hs, 3: hs, 10: close, 11: close}
    assert garbage.frame_steps == {13: hs, 14: hs, 15: hs, 20: close, 21: close}
    # 4 "GET / HTTP/1.1" would read as a command; 6/8 and 16/18 are HTTP and garbage.
    assert not {4, 6, 8, 16, 18} & (set(http.frame_steps) | set(garbage.frame_steps))


def test_not_smtp_is_the_only_finding_on_its_frame() -> None:
    http, garbage = _not_smtp_sessions()
    assert [(f.name, f.frames, f.detail) for f in http.findings] == [("not_smtp", [6], "server sent 'HTTP/1.0 200 OK'")]
    assert [(f.name, f.frames, f.detail) for f in garbage.findings] == [("not_smtp", [16], GARBAGE_DETAIL)]
    # Neither the page's bare LFs (8, 18) nor anything else is judged as SMTP.
    assert _findings(http, "bare_line_ending") == [] and _findings(garbage, "bare_line_ending") == []


def test_not_smtp_note_and_no_transactions() -> None:
    http, garbage = _not_smtp_sessions()
    assert http.notes == [
        "This connection does not speak SMTP (server sent 'HTTP/1.0 200 OK'); "
        "only its TCP set-up and close are explained."
    ]
    assert garbage.notes == [
        f"This connection does not speak SMTP ({GARBAGE_DETAIL}); only its TCP set-up and close are explained."
    ]
    assert http.transactions == [] and garbage.transactions == []
    assert http.tls is None and garbage.tls is None


def test_not_smtp_through_the_cli() -> None:
    runs = _cli_all(
        [
            ("explain", str(NOT_SMTP), "--format", "json"),
            ("explain", str(NOT_SMTP), "--format", "terminal", "--no-color"),
            ("explain", str(NOT_SMTP), "--format", "html"),
        ]
    )
    for done in runs:
        assert done.returncode == 0, done.stderr
        assert "Traceback" not in done.stderr
    report = json.loads(runs[0].stdout)
    first, second = report["sessions"]
    assert [(s["name"], s["frames"]) for s in first["steps"]] == [("tcp_handshake", [1, 2, 3]), ("close", [10, 11])]
    assert first["frame_steps"] == {
        "1": "tcp_handshake",
        "2": "tcp_handshake",
        "3": "tcp_handshake",
        "10": "close",
        "11": "close",
    }
    assert [(f["name"], f["frames"]) for f in first["findings"]] == [("not_smtp", [6])]
    assert [(f["name"], f["frames"], f["detail"]) for f in second["findings"]] == [("not_smtp", [16], GARBAGE_DETAIL)]
    assert first["transactions"] == [] and second["transactions"] == []
    assert "does not speak SMTP" in first["notes"][0]
    assert "does not speak SMTP" in runs[1].stdout
