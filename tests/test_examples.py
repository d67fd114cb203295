"""The bundled examples give exactly the walkthrough's steps, with the right frames."""

from __future__ import annotations

import json

import pytest

from smtpdoc.catalog import load_catalog

from conftest import EXAMPLES, run_cli, sessions_of

WALKTHROUGH_EXTENSIONS = {"SIZE", "8BITMIME", "STARTTLS", "ENHANCEDSTATUSCODES", "PIPELINING", "CHUNKING", "SMTPUTF8"}


def _steps(capture: str) -> list[tuple[str, list[int]]]:
    (session,) = sessions_of(EXAMPLES / capture)
    return [(step.name, step.frames) for step in session.steps]


def test_starttls_example_is_the_walkthrough() -> None:
    assert _steps("starttls.pcapng") == [
        ("tcp_handshake", [1, 2, 3]),
        ("greeting", [4]),
        ("ehlo", [6]),
        ("ehlo_reply", [8]),
        ("starttls", [9]),
        ("starttls_reply", [10]),
        ("tls_handshake", [11, 12, 13]),
        ("encrypted", list(range(14, 28))),
        ("close", [27, 29]),
    ]


def test_starttls_example_facts() -> None:
    (session,) = sessions_of(EXAMPLES / "starttls.pcapng")
    keywords = {e.keyword for e in session.extensions}
    assert keywords >= WALKTHROUGH_EXTENSIONS
    size = next(e for e in session.extensions if e.keyword == "SIZE")
    assert size.params == "35882577" and "34.2 MiB" in size.human
    ready = next(s for s in session.steps if s.name == "starttls_reply")
    assert ready.reply is not None and ready.reply.code == 220 and ready.reply.enhanced == "2.0.0"
    assert ready.reply.lines == ["2.0.0 Ready to start TLS"]
    assert session.server_name == "mail.example.test"
    assert session.client_name == "client.example.test"
    assert session.tls is not None and session.tls.established
    assert session.tls.server_hello is not None and session.tls.server_hello["version_name"] == "TLS 1.3"
    assert session.tls.bytes["client"] > 0 and session.tls.bytes["server"] > 0
    encrypted = next(s for s in session.steps if s.name == "encrypted")
    assert "mail travels inside" in encrypted.summary
    assert session.findings == []


def test_every_step_carries_catalog_words_and_its_position() -> None:
    catalog = load_catalog()
    (session,) = sessions_of(EXAMPLES / "starttls.pcapng")
    for position, step in enumerate(session.steps, 1):
        info = catalog.step(step.name)
        assert (step.number, step.title, step.explanation) == (position, info.title, info.explanation)
        assert "?" not in step.summary and "{" not in step.summary, step.summary


def test_ipv6_example_splits_the_ehlo_first_line() -> None:
    (session,) = sessions_of(EXAMPLES / "starttls-ipv6.pcapng")
    reply = next(s for s in session.steps if s.name == "ehlo_reply")
    assert reply.facts["server_name"] == "mail.example.test"
    assert reply.facts["greeting_text"] == "at your service"
    assert reply.facts["client_address"] == "::1"
    assert session.client.address == "::1" and str(session.server) == "[::1]:25"
    assert [s.name for s in session.steps][4:8] == ["starttls", "starttls_reply", "tls_handshake", "encrypted"]


def test_plain_example_has_a_full_transaction() -> None:
    assert _steps("plain.pcapng") == [
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
    (session,) = sessions_of(EXAMPLES / "plain.pcapng")
    (tr,) = session.transactions
    assert tr.mail_from == "bob@example.test"
    assert [(r.address, r.code) for r in tr.recipients] == [("alice@example.test", 250), ("carol@example.test", 250)]
    assert tr.last_reply is not None and tr.last_reply.startswith("250 2.0.0 Ok: queued")
    assert tr.message is not None and tr.message.headers["subject"] == "plain SMTP, two recipients"
    assert [f.name for f in session.findings] == ["starttls_not_used", "mail_cleartext"]


@pytest.mark.parametrize("fmt", ["json", "terminal"])
def test_cli_explains_the_starttls_example(fmt: str) -> None:
    done = run_cli("explain", str(EXAMPLES / "starttls.pcapng"), "--format", fmt)
    assert done.returncode == 0, done.stderr
    if fmt == "json":
        report = json.loads(done.stdout)
        assert report["schema"] == "smtpdoc/1"
        (session,) = report["sessions"]
        assert session["frame_steps"]["10"] == "starttls_reply"
        # The position the terminal prints (catalog order would give close 17).
        assert [s["number"] for s in session["steps"]] == [1, 2, 3, 4, 5, 6, 7, 8, 9]
    else:
        for text in ("TCP handshake", "frames 1-3", "2.0.0 Ready to start TLS", "SMTPUTF8", "CHUNKING"):
            assert text in done.stdout


def test_stream_option_focuses_on_one_stream() -> None:
    from conftest import ZEEK

    if not ZEEK.is_dir():
        pytest.skip("needs the shared corpus")
    done = run_cli("explain", str(ZEEK / "traces" / "smtp.pcap"), "--format", "json", "--stream", "2")
    report = json.loads(done.stdout)
    assert [s["stream"] for s in report["sessions"]] == [2]


def test_json_output_follows_the_documented_schema() -> None:
    import jsonschema

    from conftest import DATA, ROOT

    schema = json.loads((ROOT / "docs" / "json-schema.json").read_text())
    for capture in (EXAMPLES / "starttls.pcapng", EXAMPLES / "plain.pcapng", DATA / "auth-plain-cleartext.pcapng"):
        done = run_cli("explain", str(capture), "--format", "json")
        report = json.loads(done.stdout)
        jsonschema.validate(report, schema)
        for session in report["sessions"]:
            assert [s["number"] for s in session["steps"]] == list(range(1, len(session["steps"]) + 1))
    plain = json.loads(run_cli("explain", str(EXAMPLES / "plain.pcapng"), "--format", "json").stdout)
    mail_from = next(s for s in plain["sessions"][0]["steps"] if s["name"] == "mail_from")
    assert mail_from["number"] == 5  # "5. Sender (MAIL FROM)" in the terminal
