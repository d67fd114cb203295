"""Issue 9 on real loopback captures of messy peers: the words follow what the capture shows.

Each capture is made by examples/make_examples.sh (examples/lab/messy_lab.py) and described in
tests/data/README.md ("Messy sessions").
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import jsonschema
import pytest

from smtpdoc.catalog import load_catalog
from smtpdoc.explain import _extension
from smtpdoc.message import decode_words
from smtpdoc.model import Extension, Finding, Session, Step

from conftest import DATA, EXAMPLES, ROOT, explained, run_cli, sessions_of


def _steps(session: Session, name: str) -> list[Step]:
    return [step for step in session.steps if step.name == name]


def _findings(session: Session, name: str) -> list[Finding]:
    return [found for found in session.findings if found.name == name]


def _step_at(session: Session, frame: int) -> Step:
    (step,) = [step for step in session.steps if frame in step.frames]
    return step


# -- class 8: header text decoded ----------------------------------------------------------


def test_rfc2047_headers_are_decoded_beside_the_raw_form() -> None:
    (session,) = sessions_of(DATA / "headers-encoded.pcapng")
    first, second = session.transactions
    assert first.message is not None and second.message is not None
    assert first.message.headers["subject"] == (
        "=?UTF-8?B?R3LDvMOfZSBhdXMg?= =?UTF-8?Q?K=C3=B6ln?= und =?ISO-2022-JP?B?GyRCRnxLXDhsGyhC?="
    )
    assert first.message.decoded == {
        "from": "Jörg Müller <joerg@example.test>",  # ISO-8859-1, Q
        "to": "Василий <alice@example.test>",  # KOI8-R, B
        "subject": "Grüße aus Köln und 日本語",  # adjacent UTF-8 words joined; ISO-2022-JP
    }
    message = _step_at(session, 15)
    assert message.name == "message"
    assert "subject: Grüße aus Köln und 日本語, sent encoded as =?UTF-8?B?R3LDvMOfZSBhdXMg?=" in message.summary


def test_raw_8bit_headers_are_read_as_utf8_else_latin1_never_dropped() -> None:
    (session,) = sessions_of(DATA / "headers-encoded.pcapng")
    second = session.transactions[1].message
    assert second is not None
    assert second.headers["subject"] == "Grüße, raw UTF-8 — 8 bit"
    assert second.headers["from"] == "Zoë Ångström <zoe@example.test>"  # Latin-1 bytes e9/c5
    assert second.decoded == {}
    assert "subject: Grüße, raw UTF-8 — 8 bit)" in _step_at(session, 23).summary


@pytest.mark.parametrize(
    ("raw", "decoded"),
    [
        ("=?utf-8?q?a?=  =?utf-8?q?b?= c", "ab c"),  # white space between encoded words goes
        ("=?iso-8859-15?q?=A4uro?=", "€uro"),
        ("=?x-no-such-charset?q?abc?=", "abc"),  # unknown charset: read leniently, not dropped
        ("=?utf-8?b?/w==?=", "\ufffd"),  # bytes that are not UTF-8: replacement character
        ("plain text", None),
        ("=?utf-8?q??=", None),
        ("a =? b", None),
    ],
)
def test_decode_words(raw: str, decoded: str | None) -> None:
    assert decode_words(raw) == decoded


# -- class 7: the class digit decides the words -------------------------------------------


def test_success_codes_are_glossed_as_success() -> None:
    (session,) = sessions_of(DATA / "gloss-codes.pcapng")
    mail = _step_at(session, 12).reply
    message = _step_at(session, 18).reply
    assert mail is not None and message is not None
    assert mail.enhanced == "2.1.0" and "2.1.0: Other address status: the address was accepted" in mail.meaning
    assert "caused this" not in mail.meaning
    assert message.enhanced == "2.6.0" and "queued for delivery" in message.meaning
    assert "undeliverable" not in message.meaning
    catalog = load_catalog()
    failure = catalog.enhanced("5.6.0")
    assert failure is not None and failure.detail is not None and "undeliverable" in failure.detail
    odd = catalog.enhanced("2.1.1")  # a detail meant for failures, sent with success
    assert odd is not None and odd.detail is not None and "the class (2, success) is what counts" in odd.detail


@pytest.mark.parametrize("capture", ["gloss-codes.pcapng", "starttls-stripped.pcapng"])
def test_a_refused_starttls_is_not_explained_with_the_220_text(capture: str) -> None:
    (session,) = sessions_of(DATA / capture)
    (reply,) = _steps(session, "starttls_reply")
    assert reply.frames == [10] and reply.reply is not None and reply.reply.code == 502
    assert reply.summary.startswith("The server refused STARTTLS: 502 5.5.1 ")
    assert reply.explanation.startswith("A 5xx reply to STARTTLS refuses it")
    assert "ready to start the TLS handshake" not in reply.explanation
    (accepted,) = _steps(sessions_of(EXAMPLES / "starttls.pcapng")[0], "starttls_reply")
    assert accepted.explanation.startswith("A 220 reply to STARTTLS means the server is ready")


def test_a_refused_ehlo_is_titled_as_a_refusal() -> None:
    (session,) = sessions_of(DATA / "ehlo-refused-helo.pcapng")
    refused = _step_at(session, 8)
    assert refused.name == "ehlo_reply" and refused.title == "Server refuses the hello (5xx)"
    assert refused.summary == "The server refused the EHLO with 502: 5.5.2 Error: command not implemented."
    assert "fall back to HELO" in refused.explanation


def test_tls_versions_and_alerts_in_words() -> None:
    (old,) = sessions_of(DATA / "tls10-accepted.pcapng")
    assert [(f.detail, f.frames) for f in _findings(old, "tls_old_version")] == [("TLS 1.0 (0x0301)", [12])]
    (alerted,) = sessions_of(DATA / "tls-alert-old-version.pcapng")
    assert [f.detail for f in _findings(alerted, "tls_alert")] == ["alert protocol_version (70)"]
    assert [f.detail for f in _findings(alerted, "tls_handshake_failure")] == ["fatal alert protocol_version (70)"]


def test_static_rsa_key_exchange_is_flagged_with_its_rfc() -> None:
    (session,) = sessions_of(DATA / "tls-no-forward-secrecy.pcapng")
    (found,) = _findings(session, "tls_no_forward_secrecy")
    assert (found.frames, found.detail, found.rfc) == ([12], "TLS_RSA_WITH_AES_128_GCM_SHA256", "RFC 9325 §4.1")
    assert not _findings(session, "tls_rc4")
    for modern in ("starttls.pcapng",):
        assert not _findings(sessions_of(EXAMPLES / modern)[0], "tls_no_forward_secrecy")
    catalog = load_catalog()
    assert catalog.cipher_weaknesses(0x0005) == ("tls_rc4", "tls_no_forward_secrecy")  # RC4, RFC 7465
    assert catalog.finding("tls_rc4").rfc == "RFC 7465"
    assert catalog.cipher_weaknesses(0xC030) == ()  # ECDHE-RSA-AES256-GCM-SHA384


# -- class 12: say what the client did ----------------------------------------------------


def test_smtp_on_an_unusual_port_is_said() -> None:
    (session,) = sessions_of(DATA / "smtp-port-2526.pcapng")
    assert [(f.detail, f.frames) for f in _findings(session, "smtp_unusual_port")] == [("port 2526", [1])]
    assert not _findings(sessions_of(EXAMPLES / "plain.pcapng")[0], "smtp_unusual_port")


def test_mail_in_cleartext_is_a_finding_of_its_own() -> None:
    (plain,) = sessions_of(EXAMPLES / "plain.pcapng")
    (found,) = _findings(plain, "mail_cleartext")
    assert found.detail == "1 message without TLS" and found.severity == "warning"
    (two,) = sessions_of(DATA / "headers-encoded.pcapng")
    assert [f.detail for f in _findings(two, "mail_cleartext")] == ["2 messages without TLS"]
    assert not _findings(sessions_of(EXAMPLES / "starttls.pcapng")[0], "mail_cleartext")
    # after a refused STARTTLS the sharper finding says it already
    (refused,) = sessions_of(DATA / "starttls-refused.pcapng")
    assert _findings(refused, "cleartext_after_refusal") and not _findings(refused, "mail_cleartext")


# -- class 11: odd input never crashes ----------------------------------------------------


def test_a_size_with_a_non_ascii_digit_is_no_size() -> None:
    """Found by tests/test_fuzz.py: a bit flip made "SIZE 3588²577", which str.isdigit accepts."""
    ext = _extension(Extension(keyword="SIZE", params="3588²577"), load_catalog())
    assert ext.human == "the server announces no fixed size limit"


def test_timestamps_out_of_order_and_with_a_negative_fraction_are_explained() -> None:
    """broken/odd-timestamps.pcap: plain.pcapng with frame 5 two seconds before frame 4 and
    frame 9's microseconds 0xfffff000, which tshark prints as "1795863122.-04096000"."""
    done = run_cli("explain", str(DATA / "broken" / "odd-timestamps.pcap"), "--format", "json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    jsonschema.validate(report, json.loads((ROOT / "docs" / "json-schema.json").read_text()))
    (session,) = report["sessions"]
    plain = sessions_of(EXAMPLES / "plain.pcapng")[0]
    assert [s["name"] for s in session["steps"]] == [s.name for s in plain.steps]
    mail = next(s for s in session["steps"] if s["name"] == "mail_from")
    assert mail["frames"] == [9, 10] and mail["time"] < next(s for s in plain.steps if s.name == "mail_from").time


# -- class 6: AUTH judged by what the mechanism exposes -----------------------------------


@pytest.mark.parametrize(
    ("capture", "frames", "severity", "title"),
    [
        ("auth-plain-cleartext.pcapng", [9], "critical", "Password sent without encryption"),
        ("auth-login-cleartext.pcapng", [9], "critical", "Password sent without encryption"),
        ("auth-cram-md5.pcapng", [9], "warning", "Challenge-response login without encryption"),
        ("auth-digest-md5.pcapng", [9], "warning", "Challenge-response login without encryption"),
        ("auth-ntlm.pcapng", [9], "warning", "Challenge-response login without encryption"),
        ("auth-xoauth2.pcapng", [9], "critical", "Bearer token sent without encryption"),
        ("auth-oauthbearer.pcapng", [9], "critical", "Bearer token sent without encryption"),
        ("auth-scram-sha-256.pcapng", [9], "info", "Login without encryption, by a mechanism made for it"),
    ],
)
def test_cleartext_auth_is_judged_by_what_the_mechanism_exposes(
    capture: str, frames: list[int], severity: str, title: str
) -> None:
    (session,) = sessions_of(DATA / capture)
    (found,) = _findings(session, "auth_cleartext")  # one name, so Wireshark's frames still agree
    assert (found.frames, found.severity, found.title) == (frames, severity, title)
    if severity != "critical":
        assert "password is" not in found.explanation.lower()


def test_a_zero_byte_or_media_file_is_not_a_capture_but_a_header_without_packets_is() -> None:
    empty = run_cli("explain", str(DATA / "broken" / "empty-file.pcapng"), "--format", "json")
    assert empty.returncode == 4 and empty.stdout == ""
    assert "the file is empty (0 bytes), so it is not a capture" in empty.stderr
    media = run_cli("explain", str(DATA / "broken" / "short-text.txt"), "--format", "json")
    assert media.returncode == 4, media.stderr
    assert "tshark reads it as MP4 media (file type mp4), not a network capture" in media.stderr
    assert "Traceback" not in media.stderr
    header_only = run_cli("explain", str(DATA / "no-packets.pcapng"), "--format", "json")
    assert header_only.returncode == 0, header_only.stderr
    report = json.loads(header_only.stdout)
    assert report["sessions"] == [] and [(f["name"], f["detail"]) for f in report["findings"]] == [
        ("no_smtp", "no packets")
    ]


# -- class 9: unfinished is said ------------------------------------------------------------


def test_a_message_without_a_final_reply_is_never_said_to_be_sent() -> None:
    (cut,) = sessions_of(DATA / "cut-mid-data.pcapng")
    message = _step_at(cut, 15)
    assert message.name == "message" and message.reply is None
    assert "was sent" not in message.summary and ") was accepted" not in message.summary
    assert "no reply from the server is in the capture, so nothing shows it was accepted" in message.summary
    (plain,) = sessions_of(EXAMPLES / "plain.pcapng")
    assert "(subject: plain SMTP, two recipients) was accepted: the server answered 250." in _step_at(plain, 17).summary


def test_many_failed_logins_across_sessions_are_a_capture_finding() -> None:
    report, sessions = explained(str(DATA / "auth-brute-force.pcapng"))
    assert len(sessions) == 5
    (found,) = [f for f in report.findings if f.name == "auth_brute_force"]
    assert found.detail == "10 failed logins from 127.0.0.1 in 5 sessions" and found.severity == "warning"
    assert found.frames[:2] == [9, 15] and len(found.frames) == 10  # each AUTH LOGIN step's first frame
    one, _ = explained(str(DATA / "auth-failed-535.pcapng"))
    assert not [f for f in one.findings if f.name == "auth_brute_force"]  # one failure is no guessing


@pytest.mark.parametrize("fmt", ["json", "markdown", "terminal"])
def test_a_capture_cut_short_is_said_in_every_format(fmt: str) -> None:
    done = run_cli("explain", str(DATA / "broken" / "truncated-capture.pcapng"), "--format", fmt, "--no-color")
    assert done.returncode == 5, done.stderr
    if fmt == "json":
        findings = json.loads(done.stdout)["findings"]
        assert [(f["name"], f["detail"]) for f in findings] == [
            ("capture_cut_short", "the file ends in the middle of a packet")
        ]
    else:
        assert "The capture file is cut short" in done.stdout


OPEN_AT_END = (
    "The capture ends before this connection closed (no FIN or RST either way): "
    "what the two sides did after frame {} is not in it."
)


def test_a_connection_still_open_when_the_capture_ends_is_said_to_be_open(tmp_path: Path) -> None:
    cut = tmp_path / "plain-until-quit.pcapng"  # the QUIT (19) is the last frame: no 221, no FIN
    subprocess.run(["editcap", "-r", str(EXAMPLES / "plain.pcapng"), str(cut), "1-19"], check=True, capture_output=True)
    (session,) = sessions_of(cut)
    assert [step.name for step in session.steps][-2:] == ["message", "quit"]
    assert session.notes == [OPEN_AT_END.format(19)]
    (whole,) = sessions_of(EXAMPLES / "plain.pcapng")
    assert whole.notes == []  # both FINs are in it
    (reset,) = sessions_of(DATA / "random-bytes-465.pcapng")
    assert OPEN_AT_END.format(reset.last_frame) not in reset.notes  # a RST ends a connection too
    probes = sessions_of(DATA / "port-probe.pcapng")  # a lone SYN was never open
    assert probes and not [n for s in probes for n in s.notes if "capture ends before" in n]
    (cut_short,) = sessions_of(DATA / "broken" / "truncated-capture.pcapng")
    assert OPEN_AT_END.format(16) in cut_short.notes


# -- the session machine (issue 9, on the rule-table engine) --------------------------------


def test_after_helo_the_extensions_are_unknown() -> None:
    (session,) = sessions_of(DATA / "helo-only.pcapng")
    reply = _step_at(session, 8)
    assert reply.name == "ehlo_reply" and "extensions" not in reply.facts
    assert reply.summary == "mail.example.test answered the HELO."
    assert not _findings(session, "starttls_not_offered")  # HELO asked for no list: nothing to judge
    assert session.extensions == []


def test_an_echoed_client_name_is_not_taken_for_the_server_name() -> None:
    (session,) = sessions_of(DATA / "ehlo-refused-helo.pcapng")
    assert session.server_name == "mail.example.test"  # from the greeting, not "client.example.test"
    helo_reply = _step_at(session, 10)
    assert helo_reply.facts.get("echoed_name") == "client.example.test" and not helo_reply.facts.get("server_name")
    assert "client.example.test, is the client's own, echoed back" in helo_reply.summary
    assert [s.name for s in session.steps][2:6] == ["ehlo", "ehlo_reply", "ehlo", "ehlo_reply"]


def test_pipelined_commands_say_so() -> None:
    (session,) = sessions_of(DATA / "pipelining.pcapng")
    pipelined = [(s.name, s.frames) for s in session.steps if s.facts.get("pipelined")]
    assert pipelined == [("rcpt_to", [9, 10]), ("rcpt_to", [9, 10]), ("data", [9, 10])]
    phrase = "(pipelined: sent before the replies to earlier commands came)"
    assert all(phrase in s.summary for s in session.steps if s.facts.get("pipelined"))
    (plain,) = sessions_of(EXAMPLES / "plain.pcapng")  # smtplib waits for each reply
    assert not [s for s in plain.steps if s.facts.get("pipelined")]


@pytest.mark.parametrize(
    ("capture", "name", "frames", "detail"),
    [
        ("cut-mid-data.pcapng", "message_unfinished", [15], "no end-of-data line"),
        ("no-server-reply.pcapng", "no_server_reply", [4], "the server sent no byte"),
        ("hangup-before-greeting.pcapng", "client_left_before_greeting", [4], "the client closed before the server said anything"),
        ("tls-cut-mid-handshake.pcapng", "tls_handshake_unfinished", [11], "the capture ends inside the handshake"),
    ],
)
def test_unfinished_is_said(capture: str, name: str, frames: list[int], detail: str) -> None:
    (session,) = sessions_of(DATA / capture)
    assert [(f.frames, f.detail) for f in _findings(session, name)] == [(frames, detail)]
    assert not _findings(session, "tls_handshake_failure")


def test_a_bare_lf_end_the_server_accepted_ends_the_message() -> None:
    (session,) = sessions_of(DATA / "bare-lf-end.pcapng")
    assert [(s.name, s.frames) for s in session.steps][6:] == [
        ("data", [13, 14]),
        ("message", [15, 16]),
        ("quit", [17, 18]),
        ("close", [19, 20]),
    ]
    message = _step_at(session, 16)
    assert message.reply is not None and message.reply.code == 250
    (found,) = _findings(session, "smtp_smuggling")
    assert found.frames == [15] and "CVE-2023-51766" in found.rfc
    assert found.detail == "the message ended with LF . LF and the server answered 250"
    assert not _findings(session, "unexpected_reply")
    (tr,) = session.transactions
    assert tr.last_reply == "250 2.0.0 Ok: queued as 4F2A91C3E0" and tr.message is not None
    assert tr.message.headers["subject"] == "ended by a bare LF"
    # a bare LF inside a message ended by CR LF . CR LF is no such end
    assert not _findings(sessions_of(DATA / "bare-lf.pcapng")[0], "smtp_smuggling")


def test_plaintext_after_starttls_goes_on_as_smtp() -> None:
    (session,) = sessions_of(DATA / "plaintext-after-starttls.pcapng")
    assert [(s.name, s.frames) for s in session.steps][4:] == [
        ("starttls", [9]),
        ("starttls_reply", [10]),
        ("ehlo", [11]),
        ("ehlo_reply", [12]),
        ("auth", [13, 14]),
        ("mail_from", [15, 16]),
        ("rcpt_to", [17, 18]),
        ("data", [19, 20]),
        ("message", [21, 22]),
        ("quit", [23, 24]),
        ("close", [25, 26]),
    ]
    assert session.tls is None
    names = {f.name for f in session.findings}
    assert "tls_handshake_failure" not in names and "starttls_stripped" not in names
    (found,) = _findings(session, "starttls_plaintext")
    assert found.frames == [11] and found.detail == "SMTP commands, not TLS records, after the 220"
    (tr,) = session.transactions
    assert tr.tls is False and tr.message is not None and tr.message.headers["subject"] == "plaintext after STARTTLS"
    # a real TLS handshake after the 220 is still TLS
    assert sessions_of(EXAMPLES / "starttls.pcapng")[0].tls is not None


def test_a_syn_without_syn_ack_is_no_connection() -> None:
    refused, _, lone = sessions_of(DATA / "port-probe.pcapng")
    first = refused.steps[0]
    assert (first.name, first.frames, first.title) == ("tcp_handshake", [1], "No TCP connection (SYN answered by RST)")
    assert "opened" not in first.summary and "refused it with RST" in first.summary
    assert [(f.frames, f.detail) for f in _findings(refused, "no_connection")] == [
        ([1], "SYN answered by RST: the port is closed")
    ]
    assert lone.steps[0].title == "No TCP connection (SYN unanswered)"
    assert [f.detail for f in _findings(lone, "no_connection")] == ["SYN without an answer in the capture"]
    assert not _findings(sessions_of(EXAMPLES / "plain.pcapng")[0], "no_connection")


def test_tls_is_told_by_the_bytes_not_the_port() -> None:
    (random_465,) = sessions_of(DATA / "random-bytes-465.pcapng")
    assert random_465.tls is None and not _findings(random_465, "implicit_tls")
    (on_587,) = sessions_of(DATA / "implicit-tls-587.pcapng")
    assert on_587.tls is not None and on_587.tls.implicit
    assert [(f.frames, f.detail) for f in _findings(on_587, "implicit_tls")] == [([4], "port 587")]
    assert not _findings(on_587, "not_smtp")
    assert not _findings(on_587, "tls_handshake_failure")  # tshark read no record there: nothing to judge


def test_an_unsolicited_421_or_554_is_the_server_closing_the_session() -> None:
    idle, blocked = sessions_of(DATA / "unsolicited-replies.pcapng")
    timeout = _step_at(idle, 10)
    assert (timeout.name, timeout.facts["variant"], timeout.title) == ("command", "server_closes", "Server closes the session")
    assert timeout.summary.startswith("The server sent 421 without being asked: 4.4.2 ")
    assert "Other command" not in timeout.title and not timeout.summary.startswith(";")
    refusal = _step_at(blocked, 26)
    assert refusal.title == "Server closes the session" and refusal.summary.startswith("The server sent 554 without")
    assert [f.frames for f in _findings(blocked, "unexpected_reply")] == [[26]]  # still a reply nobody asked for


def test_implicit_tls_on_a_port_tshark_does_not_know_is_smtp() -> None:
    (odd,) = sessions_of(DATA / "implicit-tls-odd-port.pcapng")
    assert odd.server.port == 4650 and odd.tls is not None and odd.tls.implicit
    assert [step.name for step in odd.steps][:2] == ["tcp_handshake", "tls_handshake"]
    assert _step_at(odd, 4).name == "tls_handshake"
    assert [(f.frames, f.detail) for f in _findings(odd, "implicit_tls")] == [([4], "port 4650")]
    assert not _findings(odd, "no_smtp") and not _findings(odd, "not_smtp")


# -- class 11: cuts (a snap length) --------------------------------------------------------


def test_frames_cut_by_a_snap_length_are_never_glued_and_show_what_they_prove() -> None:
    (cut,) = sessions_of(DATA / "snaplen-80.pcapng")
    greeting = _step_at(cut, 4)
    assert greeting.name == "greeting" and greeting.reply is not None and greeting.reply.code == 220
    assert greeting.reply.lines == ["mail.examp…"]  # the reply ends where the capture does
    ehlo = _step_at(cut, 6)
    assert (ehlo.name, ehlo.facts["variant"], ehlo.facts["verb"]) == ("command", "cut", "EHLO")
    assert ehlo.title == "Command cut by the snap length" and ehlo.frames == [6, 8]
    assert ehlo.summary == "The client sent EHLO; the capture keeps only “EHLO client.ex…”, the server answered 250."
    for frame, verb, code in ((9, "MAIL", 250), (11, "RCPT", 250)):
        step = _step_at(cut, frame)
        assert (step.facts["variant"], step.facts["verb"], step.reply and step.reply.code) == ("cut", verb, code)
    assert [step.name for step in cut.steps][-4:] == ["data", "message", "quit", "close"]
    assert _step_at(cut, 16).name == "message" and _step_at(cut, 18).name == "quit"
    (found,) = _findings(cut, "snaplen_cut")
    assert found.frames == [4, 6, 8, 9, 11, 14, 15, 16, 18]
    assert found.detail == "snap length 80 bytes: 9 frames cut, 503 bytes not captured"
    assert not _findings(cut, "unexpected_reply") and not _findings(cut, "bare_line_ending")
    assert not _findings(cut, "data_gap")  # counted once, in the snap length finding
