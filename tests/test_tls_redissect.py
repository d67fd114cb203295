"""TLS on ports tshark does not know, with keys: the SMTP inside is explained.

tests/data/implicit-tls-odd-port.pcapng is TLS from the first byte on port 4650. tshark finds
the TLS there by its heuristics and, with keys, decrypts it, but hands the bytes to no
protocol; a second pass over that stream with `-d tcp.port==4650,tls -d tls.port==4650,smtp`
reads the SMTP inside. Without keys nothing more can be read and no second pass runs.
STARTTLS on port 2525 (a 220 greeting found by content) is re-read with `-d tcp.port==2525,smtp`.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from unittest import mock

import pytest

from smtpdoc import passes, pcapng
from smtpdoc import tshark as tshark_mod
from smtpdoc.explain import Settings, explain_capture
from smtpdoc.model import Session
from smtpdoc.tshark import Tshark

from conftest import DATA, EXAMPLES, sessions_of

ODD = DATA / "implicit-tls-odd-port.pcapng"
ODD_KEYS = DATA / "implicit-tls-odd-port.keylog"

# (step, frames, inside TLS) as tshark numbers the frames of the capture.
ODD_STEPS = [
    ("tcp_handshake", [1, 2, 3], False),
    ("tls_handshake", [4, 6, 8], False),
    ("encrypted", [9, 10, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 26], False),
    ("greeting", [12], True),
    ("ehlo", [13], True),
    ("ehlo_reply", [14], True),
    ("mail_from", [15, 16], True),
    ("rcpt_to", [17, 18], True),
    ("data", [19, 20], True),
    ("message", [21, 22], True),
    ("quit", [23, 24], True),
    ("close", [25, 27], False),
]


def _steps(session: Session) -> list[tuple[str, list[int], bool]]:
    return [(step.name, step.frames, step.inside_tls) for step in session.steps]


def _explained(capture: Path, keylog: Path | None) -> tuple[list[Session], list[list[str]]]:
    """The sessions, and every tshark pass's arguments (counted, not changed)."""
    spawned: list[list[str]] = []
    real_spawn, real_run = tshark_mod.spawn, tshark_mod.run

    def spawn(tshark: Tshark, args: list[str]) -> tshark_mod.Spawned:
        spawned.append(args)
        return real_spawn(tshark, args)

    def run(tshark: Tshark, args: list[str], capture: str) -> str:
        spawned.append(args)
        return real_run(tshark, args, capture)

    with mock.patch.object(tshark_mod, "spawn", spawn), mock.patch.object(tshark_mod, "run", run):
        report, _ = explain_capture(
            str(capture), tshark_mod.find_tshark(), Settings(keylog=str(keylog) if keylog else None)
        )
        sessions = list(report.sessions)
    return sessions, spawned


def test_implicit_tls_on_an_unknown_port_is_explained_inside_with_a_key_log() -> None:
    (session,) = sessions_of(ODD, keylog=str(ODD_KEYS))
    assert session.server.port == 4650 and session.tls is not None and session.tls.implicit
    assert _steps(session) == ODD_STEPS
    assert session.inner_extensions is not None
    assert [ext.keyword for ext in session.inner_extensions] == [
        "PIPELINING",
        "SIZE",
        "8BITMIME",
        "ENHANCEDSTATUSCODES",
    ]
    (transaction,) = session.transactions
    assert transaction.tls and transaction.mail_from == "bob@example.test"
    assert [(r.address, r.code, r.frames) for r in transaction.recipients] == [("alice@example.test", 250, [17])]
    assert transaction.message is not None and transaction.message.headers["subject"] == "implicit TLS on port 4650"
    assert [(f.frames, f.detail) for f in session.findings if f.name == "implicit_tls"] == [([4], "port 4650")]


def test_the_second_pass_decodes_the_port_as_tls_carrying_smtp() -> None:
    sessions, passes_run = _explained(ODD, ODD_KEYS)
    assert _steps(sessions[0]) == ODD_STEPS
    rules = [args[args.index("-d") :] for args in passes_run if "-d" in args]
    assert rules and all(
        {"tcp.port==4650,tls", "tls.port==4650,smtp"} <= {args[i + 1] for i, a in enumerate(args) if a == "-d"}
        for args in rules
    )
    assert passes.decode_as_rules([2525], [4650]) == [
        "tcp.port==2525,smtp",
        "tcp.port==4650,tls",
        "tls.port==4650,smtp",
    ]


def test_without_keys_the_stream_is_read_once_and_stays_encrypted() -> None:
    sessions, passes_run = _explained(ODD, None)
    (session,) = sessions
    assert [name for name, _, _ in _steps(session)] == ["tcp_handshake", "tls_handshake", "encrypted", "close"]
    assert not any(step.inside_tls for step in session.steps) and session.transactions == []
    assert len(passes_run) == 1 and "-d" not in passes_run[0]  # nothing to decrypt: no second pass


def test_keys_inside_the_capture_are_used_on_an_unknown_port(tmp_path: Path) -> None:
    embedded = tmp_path / "odd-dsb.pcapng"
    subprocess.run(
        ["editcap", "--inject-secrets", f"tls,{ODD_KEYS}", str(ODD), str(embedded)], check=True, capture_output=True
    )
    with open(embedded, "rb") as src:
        assert pcapng.has_tls_secrets(src)
    sessions, _ = _explained(embedded, None)
    assert _steps(sessions[0]) == ODD_STEPS


@pytest.mark.parametrize(
    ("capture", "secrets"),
    [(EXAMPLES / "starttls-dsb.pcapng", True), (EXAMPLES / "starttls.pcapng", False), (ODD, False)],
    ids=lambda v: v.name if isinstance(v, Path) else None,
)
def test_tls_secrets_are_found_in_a_pcapng(capture: Path, secrets: bool) -> None:
    with open(capture, "rb") as src:
        assert pcapng.has_tls_secrets(src) is secrets


def test_a_pcap_file_has_no_secrets_block(tmp_path: Path) -> None:
    classic = tmp_path / "starttls.pcap"
    subprocess.run(["editcap", "-F", "pcap", str(EXAMPLES / "starttls.pcapng"), str(classic)], check=True)
    with open(classic, "rb") as src:
        assert not pcapng.has_tls_secrets(src)


def test_starttls_on_an_unknown_port_with_keys_is_read_again_as_smtp() -> None:
    sessions, passes_run = _explained(DATA / "starttls-port-2525.pcapng", DATA / "starttls-port-2525.keylog")
    (session,) = sessions
    inside = [(name, frames) for name, frames, tls in _steps(session) if tls]
    assert inside == [
        ("ehlo", [15]),
        ("ehlo_reply", [16]),
        ("mail_from", [17, 18]),
        ("rcpt_to", [19, 20]),
        ("data", [21, 22]),
        ("message", [23, 24]),
        ("quit", [25, 26]),
    ]
    assert any("tcp.port==2525,smtp" in args for args in passes_run)
    assert not any(rule.endswith(",tls") for args in passes_run for rule in args)
