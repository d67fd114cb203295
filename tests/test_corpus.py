"""Zeek's test traces, explained end to end through the real tshark.

Zeek is the peer: for each trace with a baseline smtp.log, every transaction
agrees with Zeek's row field by field, or differs for a reason written here.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from smtpdoc.model import Transaction

from conftest import NO_CORPUS, ZEEK, read_zeek_log, run_cli, sessions_of, zeek_baselines, zeek_traces

pytestmark = pytest.mark.skipif(not ZEEK.is_dir(), reason=NO_CORPUS)

# Zeek's set[string] fields: order is not meaningful, and Zeek splits header values on commas.
SET_FIELDS = {"rcptto", "to", "cc"}
# Deliberate differences: (trace, transaction index, field) → why.
DIFFERENCES = {
    ("smtp-bdat-gap.pcap", 0, "subject"): (
        "1000 bytes of the BDAT chunk are missing from the capture; Zeek drops the whole MIME entity "
        "after a gap, smtpdoc still reports the headers it saw before the gap"
    ),
    ("smtp-bdat-gap.pcap", 0, "to"): "same gap as the subject",
}


def _ours(tr: Transaction) -> dict[str, str | None]:
    headers = tr.message.headers if tr.message is not None else {}
    return {
        "helo": tr.helo,
        "mailfrom": tr.mail_from,
        "rcptto": ",".join(r.address for r in tr.recipients) or None,
        "from": headers.get("from"),
        "to": headers.get("to"),
        "cc": headers.get("cc"),
        "subject": headers.get("subject"),
        "msg_id": headers.get("message_id"),
        "in_reply_to": headers.get("in_reply_to"),
        "user_agent": headers.get("user_agent"),
        "date": headers.get("date"),
        "reply_to": headers.get("reply_to"),
        "last_reply": tr.last_reply,
        "tls": "T" if tr.tls else "F",
    }


def _norm(field: str, value: str | None) -> object:
    if value in (None, "-", "(empty)"):
        return None
    assert value is not None
    if field in SET_FIELDS:
        return frozenset(part.strip() for part in value.split(","))
    return value


@pytest.mark.parametrize(("baseline", "trace"), zeek_baselines())
def test_transactions_agree_with_zeek(baseline: str, trace: str) -> None:
    rows = read_zeek_log(ZEEK / "baselines" / baseline)
    ours = [tr for s in sessions_of(ZEEK / "traces" / trace) for tr in s.transactions]
    assert len(ours) == len(rows), f"{trace}: Zeek logs {len(rows)} transactions, smtpdoc found {len(ours)}"
    disagreements = []
    for index, (row, tr) in enumerate(zip(rows, ours, strict=True)):
        mine = _ours(tr)
        for field, value in mine.items():
            if (trace, index, field) in DIFFERENCES:
                assert _norm(field, row[field]) != _norm(field, value), f"documented difference vanished: {field}"
                continue
            if _norm(field, row[field]) != _norm(field, value):
                disagreements.append(f"#{index} {field}: zeek={row[field]!r} smtpdoc={value!r}")
    assert not disagreements, "\n".join(disagreements)


def test_every_baseline_field_we_compare_exists_in_zeek() -> None:
    fields = set(read_zeek_log(ZEEK / "baselines" / "basic.smtp.log")[0])
    compared = set(_ours(Transaction(helo=None, mail_from=None, mail_params={})))
    assert compared <= fields


@pytest.mark.parametrize("trace", zeek_traces(), ids=lambda p: p.name)
def test_every_trace_is_explained_without_error(trace: Path) -> None:
    done = run_cli("explain", str(trace), "--format", "json")
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    import json

    report = json.loads(done.stdout)
    for session in report["sessions"]:
        assert session["steps"], f"session {session['index']} has no steps"
        for step in session["steps"]:
            assert step["frames"], f"step {step['name']} has no frames"
            assert step["title"] and step["explanation"], step["name"]


def test_basic_trace_walkthrough_steps_and_frames() -> None:
    first, second = sessions_of(ZEEK / "traces" / "smtp.pcap")
    names = [s.name for s in first.steps]
    assert names == [
        "tcp_handshake", "greeting", "ehlo", "ehlo_reply", "auth", "mail_from", "rcpt_to",
        "data", "message", "quit", "close",
    ]  # fmt: skip
    by_name = {s.name: s for s in first.steps}
    assert by_name["tcp_handshake"].frames == [3, 4, 5]
    assert by_name["greeting"].frames == [6]
    assert by_name["ehlo"].frames == [7]
    assert by_name["ehlo_reply"].frames == [9]
    assert [e.keyword for e in first.extensions] == ["SIZE", "PIPELINING", "AUTH", "STARTTLS", "HELP"]
    assert by_name["ehlo_reply"].facts["client_address"] == "122.162.143.157"
    assert first.server_name == "xc90.websitewelcome.com"
    assert {f.name for f in first.findings} >= {"auth_cleartext", "starttls_not_used"}
    # AUTH LOGIN's base64 username and password never reach the model.
    auth = by_name["auth"]
    assert auth.facts["mechanism"] == "LOGIN" and auth.facts["outcome"] == "accepted"
    client_lines = [line for line in auth.lines if line.startswith("C: ") and "AUTH" not in line]
    assert client_lines == ["C: [redacted]", "C: [redacted]"]
    assert [s.name for s in second.steps][:4] == ["tcp_handshake", "greeting", "ehlo", "ehlo_reply"]


def test_one_sided_trace_says_so() -> None:
    (session,) = sessions_of(ZEEK / "traces" / "smtp-one-side-only.pcap")
    assert "one_sided" in {f.name for f in session.findings}
    assert any("Only the" in note for note in session.notes)


def test_pipelined_bdat_commands_are_rebuilt_from_the_payload() -> None:
    # tshark 4.0 shows MAIL/RCPT/BDAT sharing a segment as "DATA fragment"; we read them anyway.
    (session,) = sessions_of(ZEEK / "traces" / "smtp-bdat-pipeline-8bitmime.pcap")
    first = session.transactions[0]
    assert first.method == "BDAT"
    assert first.recipients and first.mail_from
    assert first.last_reply is not None and first.last_reply.startswith("250")


def test_early_talker_is_a_finding_not_a_misread_greeting() -> None:
    (session,) = sessions_of(ZEEK / "traces" / "smtp-mail-transactions-invalid.pcap")
    greeting = next(s for s in session.steps if s.name == "greeting")
    assert greeting.frames == [6] and greeting.facts["code"] == 220
    assert "early_talker" in {f.name for f in session.findings}
