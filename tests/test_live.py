"""`smtpdoc watch` for real: an aiosmtpd server on loopback, smtplib as the client, tshark on `lo`.

Capturing needs the rights to (CI runs as root); without them each test is skipped with
smtpdoc's own message. The server offers STARTTLS with a throwaway certificate made here;
the client writes its TLS secrets to a key log (ssl's keylog_filename), so the steps inside
TLS can be explained too.
"""

from __future__ import annotations

import json
import os
import signal
import smtplib
import socket
import ssl
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import IO, Any

import pytest

from conftest import run_cli

aiosmtpd_controller = pytest.importorskip("aiosmtpd.controller", reason="aiosmtpd is in the test extra")

READY = "smtpdoc: capturing on"


@dataclass
class Server:
    port: int
    keylog: Path


class _Accept:
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        return "250 2.0.0 Ok: queued"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-days", "1", "-subj", "/CN=mail.example.test", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    port = _free_port()
    controller = aiosmtpd_controller.Controller(
        _Accept(), hostname="127.0.0.1", port=port, tls_context=context, server_hostname="mail.example.test"
    )
    controller.start()
    keylog = tmp_path / "keys.txt"
    keylog.write_text("")
    try:
        yield Server(port=port, keylog=keylog)
    finally:
        controller.stop()


def _send(server: Server, starttls: bool) -> None:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "alice@example.test", "bob@example.test", "live test"
    message.set_content("Hello from the live test.\n")
    with smtplib.SMTP("127.0.0.1", server.port, local_hostname="client.example.test", timeout=30) as client:
        client.ehlo()
        if starttls:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            context.keylog_filename = str(server.keylog)
            client.starttls(context=context)
            client.ehlo()
        client.send_message(message)


@pytest.fixture
def watch() -> Iterator[Callable[..., subprocess.Popen[str]]]:
    """Start `smtpdoc watch -i lo ARGS`; a watchdog kills it if a test hangs (tshark dies with it)."""
    started: list[subprocess.Popen[str]] = []

    def start(*args: str) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            [sys.executable, "-m", "smtpdoc", "watch", "-i", "lo", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        started.append(proc)
        return proc

    timers: list[threading.Timer] = []

    def watchdog() -> None:
        for proc in started:
            if proc.poll() is None:
                proc.kill()

    timers.append(threading.Timer(120, watchdog))
    timers[0].start()
    try:
        yield start
    finally:
        timers[0].cancel()
        watchdog()
        for proc in started:
            proc.wait()


def _wait_ready(proc: subprocess.Popen[str]) -> None:
    """Connect only once tshark captures: smtpdoc says so on stderr. Skip without capture rights."""
    assert proc.stderr is not None
    line = proc.stderr.readline()
    if line.startswith(READY):
        return
    rest = proc.communicate(timeout=60)[1]
    if proc.returncode == 8:
        pytest.skip(f"no capture rights here (CI runs as root): {line.strip()}")
    raise AssertionError(f"watch did not start (exit {proc.returncode}): {line}{rest}")


def _lines(stream: IO[str] | str) -> list[dict[str, Any]]:
    text = stream if isinstance(stream, str) else stream.read()
    return [json.loads(line) for line in text.splitlines()]


def _names(session: dict[str, Any], inside: bool | None = None) -> list[str]:
    return [s["name"] for s in session["steps"] if inside is None or s["inside_tls"] is inside]


def test_watch_with_a_key_log_explains_the_steps_inside_starttls(server: Server, watch: Callable[..., subprocess.Popen[str]]) -> None:
    proc = watch("-f", f"tcp port {server.port}", "--keylog", str(server.keylog), "--duration", "6", "--format", "jsonl")
    _wait_ready(proc)
    _send(server, starttls=True)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    (session,) = _lines(out)
    assert session["capture"] == f"live capture on lo (tcp port {server.port})"
    assert session["server"] == {"address": "127.0.0.1", "port": server.port}
    assert _names(session, inside=False)[:7] == [
        "tcp_handshake", "greeting", "ehlo", "ehlo_reply", "starttls", "starttls_reply", "tls_handshake",
    ]  # fmt: skip
    inner = _names(session, inside=True)
    assert inner == ["ehlo", "ehlo_reply", "mail_from", "rcpt_to", "data", "message", "quit"]
    assert inner == ["ehlo", "ehlo_reply", "mail_from", "rcpt_to", "data", "message", "quit"]
    (transaction,) = session["transactions"]
    assert transaction["mail_from"] == "alice@example.test" and transaction["tls"] is True
    assert [r["address"] for r in transaction["recipients"]] == ["bob@example.test"]
    assert transaction["message"]["headers"]["subject"] == "live test"
    assert session["tls"]["decrypted"] is True


def test_watch_streams_each_session_as_it_closes_and_ctrl_c_stops_it(server: Server, watch: Callable[..., subprocess.Popen[str]]) -> None:
    proc = watch("-f", f"tcp port {server.port}", "--format", "jsonl")
    _wait_ready(proc)
    assert proc.stdout is not None
    _send(server, starttls=False)
    first = json.loads(proc.stdout.readline())  # printed while the capture still runs
    assert proc.poll() is None
    assert first["capture"] == f"live capture on lo (tcp port {server.port})"
    assert _names(first)[:4] == ["tcp_handshake", "greeting", "ehlo", "ehlo_reply"]
    assert first["transactions"][0]["message"]["headers"]["subject"] == "live test"
    _send(server, starttls=False)
    second = json.loads(proc.stdout.readline())
    assert second["index"] == 2 and second["client"]["port"] != first["client"]["port"]
    proc.send_signal(signal.SIGINT)  # what Ctrl-C does
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert out == ""
    assert "stopped by Ctrl-C; explained the 2 session(s) seen" in err


def test_watch_count_stops_after_n_packets_and_explains_what_it_saw(server: Server, watch: Callable[..., subprocess.Popen[str]]) -> None:
    proc = watch("-f", f"tcp port {server.port}", "--count", "6", "--format", "jsonl")
    _wait_ready(proc)
    _send(server, starttls=False)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    (session,) = _lines(out)
    assert session["last_frame"] <= 6
    assert _names(session)[:2] == ["tcp_handshake", "greeting"]


def test_watch_refuses_an_interface_that_does_not_exist() -> None:
    done = run_cli("watch", "-i", "smtpdoc-no-such-if0", "--duration", "1")
    assert done.returncode == 2
    (line,) = done.stderr.splitlines()
    assert line.startswith("smtpdoc: there is no interface 'smtpdoc-no-such-if0'") and "lo" in line


def test_watch_refuses_a_bad_capture_filter() -> None:
    if os.geteuid() != 0:
        pytest.skip("tshark checks the filter only once it may capture; CI runs as root")
    done = run_cli("watch", "-i", "lo", "-f", "tcp prot 25", "--duration", "1")
    assert done.returncode == 2
    (line,) = done.stderr.splitlines()
    assert 'Invalid capture filter "tcp prot 25"' in line and "pcap-filter" in line


def test_duration_and_count_together_are_a_usage_error() -> None:
    done = run_cli("watch", "-i", "lo", "--duration", "1", "--count", "5")
    assert done.returncode == 2 and "not both" in done.stderr
