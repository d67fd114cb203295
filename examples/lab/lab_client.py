#!/usr/bin/env python3
"""SMTP clients for the smtpdoc example captures (loopback only).

    lab_client.py SCENARIO HOST PORT [--keylog FILE]

Each scenario is one short SMTP session.  "smtplib" scenarios use the
standard library client exactly as an application would (note: smtplib sends
lowercase "ehlo", "mail", "rcpt", "data", "quit" but uppercase "STARTTLS" and
"AUTH").  "raw" scenarios drive a socket by hand so the byte layout on the wire
(pipelining, split commands, BDAT, bare LF ...) is under control.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import os
import secrets
import smtplib
import socket
import ssl
import sys
import time
from collections.abc import Callable
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

CLIENT_NAME = "client.example.test"
FROM = "bob@example.test"
TO = "alice@example.test"
TO2 = "carol@example.test"
USER = "alice"
PASSWORD = "s3cret-Passw0rd"
# The lab's made-up OAuth 2.0 bearer token for alice (lab_server.py sasl mode).
TOKEN = "ya29.smtpdoc-lab-Bearer-9qT4xVw2"

# A tiny but well-formed one-page PDF (used as attachment).
PDF = (
    b"%PDF-1.4\n"
    b"1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 100]/Contents 4 0 R"
    b"/Resources<</Font<</F1 5 0 R>>>>>>endobj\n"
    b"4 0 obj<</Length 44>>stream\nBT /F1 18 Tf 20 40 Td (Q3 report) Tj ET\nendstream endobj\n"
    b"5 0 obj<</Type/Font/Subtype/Type1/BaseFont/Helvetica>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------
def tls_context(keylog: str | None, max_tls12: bool = False) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    # Throwaway self-signed lab certificate: no verification.
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if max_tls12:
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    if keylog:
        ctx.keylog_filename = keylog
    return ctx


class ResumingContext(ssl.SSLContext):
    """A client context that offers `session` (an earlier ssl.SSLSession) on every wrap.

    smtplib.starttls() calls context.wrap_socket(sock, server_hostname=...) and has no
    way to pass session=; this context adds it."""

    session: ssl.SSLSession | None = None

    def wrap_socket(self, sock, *args, **kwargs):  # type: ignore[no-untyped-def, override]
        kwargs.setdefault("session", self.session)
        return super().wrap_socket(sock, *args, **kwargs)


def resuming_context(keylog: str | None) -> ResumingContext:
    ctx = ResumingContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if keylog:
        ctx.keylog_filename = keylog
    return ctx


def message(
    subject: str,
    body: str,
    to: list[str] | None = None,  # type: ignore[assignment]
    sender: object = FROM,
) -> EmailMessage:
    m = EmailMessage()
    m["Subject"] = subject
    m["From"] = sender
    m["To"] = ", ".join(to or [TO])
    m["Message-ID"] = make_msgid(domain=CLIENT_NAME)
    m["Date"] = formatdate(localtime=False)
    m.set_content(body)
    return m


def smtp(host: str, port: int) -> smtplib.SMTP:
    s = smtplib.SMTP(host, port, local_hostname=CLIENT_NAME, timeout=20)
    s.set_debuglevel(1)
    return s


def close_politely(sock: socket.socket) -> None:
    """End a session without an RST, the way a careful client does.

    With TLS: read up to the server's close_notify.  If the server has also
    closed TCP (Postfix sends close_notify + FIN and is gone), just close: a
    close_notify of ours would hit a closed socket and draw an RST.  If the
    server waits for our close_notify (asyncio/aiosmtpd), send it.  Then
    half-close and read to EOF, so unread bytes never trigger an RST."""
    sock.settimeout(5)
    if isinstance(sock, ssl.SSLSocket):
        try:
            while sock.recv(65536):
                pass
        except (ssl.SSLError, OSError):
            pass
        peer_gone = True
        view = socket.socket(fileno=os.dup(sock.fileno()))
        try:
            peer_gone = view.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
        except BlockingIOError:
            peer_gone = False
        except OSError:
            pass
        finally:
            view.close()
        if not peer_gone:
            try:
                sock = sock.unwrap()
            except (ssl.SSLError, OSError):
                pass
    try:
        sock.shutdown(socket.SHUT_WR)
        while sock.recv(65536):
            pass
    except OSError:
        pass
    sock.close()


def quit_politely(s: smtplib.SMTP) -> None:
    """smtplib's quit() without its abrupt close()."""
    s.docmd("quit")
    if s.file:
        s.file.close()
        s.file = None
    if s.sock:
        close_politely(s.sock)
        s.sock = None
    s.close()


class Raw:
    """A hand-driven SMTP client; every send() is one write on the socket."""

    def __init__(self, host: str, port: int) -> None:
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock: socket.socket = socket.socket(fam, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.settimeout(20)
        self.sock.connect((host, port))
        self.buf = b""
        self.host = host

    def send(self, data: bytes) -> None:
        print("C:", data[:200], file=sys.stderr)
        self.sock.sendall(data)

    def reply(self) -> str:
        """Read one complete (possibly multi-line) reply."""
        lines = []
        while True:
            while b"\r\n" not in self.buf:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise ConnectionError(f"server closed: {self.buf!r}")
                self.buf += chunk
            line, self.buf = self.buf.split(b"\r\n", 1)
            lines.append(line.decode("utf-8", "replace"))
            if len(line) < 4 or line[3:4] != b"-":
                break
        text = "\n".join(lines)
        print("S:", text, file=sys.stderr)
        return text

    def cmd(self, line: str) -> str:
        self.send(line.encode() + b"\r\n")
        return self.reply()

    def until_closed(self) -> bytes:
        """Whatever is still to read, up to the server's close (or a failed connection)."""
        data, self.buf = self.buf, b""
        try:
            while chunk := self.sock.recv(65536):
                data += chunk
        except OSError:
            pass
        return data

    def starttls(self, keylog: str | None, max_tls12: bool = False) -> None:
        assert not self.buf, f"unread data before TLS: {self.buf!r}"
        self.sock = tls_context(keylog, max_tls12).wrap_socket(self.sock)

    def close(self) -> None:
        close_politely(self.sock)


def dot_stuffed(m: EmailMessage) -> bytes:
    data = m.as_bytes(policy=m.policy.clone(linesep="\r\n"))
    lines = data.split(b"\r\n")
    lines = [b"." + x if x.startswith(b".") else x for x in lines]
    data = b"\r\n".join(lines)
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    return data + b".\r\n"


# --------------------------------------------------------------------------
# smtplib scenarios
# --------------------------------------------------------------------------
def sc_starttls(host: str, port: int, keylog: str | None, max_tls12: bool = False) -> None:
    s = smtp(host, port)
    s.ehlo()
    s.starttls(context=tls_context(keylog, max_tls12))
    s.ehlo()
    m = message(
        "smtpdoc walkthrough",
        "Hello Alice,\n\nthis mail travelled inside STARTTLS.\n\nBob\n",
    )
    s.send_message(m, FROM, [TO])
    quit_politely(s)


def sc_tls12(host: str, port: int, keylog: str | None) -> None:
    sc_starttls(host, port, keylog, max_tls12=True)


def sc_implicit(host: str, port: int, keylog: str | None) -> None:
    s = smtplib.SMTP_SSL(host, port, local_hostname=CLIENT_NAME, timeout=20, context=tls_context(keylog))
    s.set_debuglevel(1)
    s.ehlo()
    s.send_message(message("implicit TLS on 465", "Sent over SMTPS (implicit TLS).\n"), FROM, [TO])
    quit_politely(s)


def sc_plain(host: str, port: int, keylog: str | None) -> None:
    s = smtp(host, port)
    s.ehlo()
    m = message(
        "plain SMTP, two recipients",
        "Hello Alice and Carol,\n\nno TLS here.\n\nBob\n",
        to=[TO, TO2],
    )
    s.send_message(m, FROM, [TO, TO2])
    quit_politely(s)


def sc_refused(host: str, port: int, keylog: str | None) -> None:
    s = smtp(host, port)
    s.ehlo()
    try:
        s.starttls(context=tls_context(keylog))
    except smtplib.SMTPResponseException as e:
        print("STARTTLS refused:", e.smtp_code, e.smtp_error, file=sys.stderr)
    # carry on in cleartext, as opportunistic clients do
    s.send_message(
        message(
            "STARTTLS refused, sent in cleartext",
            "The server said 454, so this went in the clear.\n",
        ),
        FROM,
        [TO],
    )
    quit_politely(s)


def sc_no_starttls(host: str, port: int, keylog: str | None) -> None:
    s = smtp(host, port)
    s.ehlo()
    assert not s.has_extn("starttls"), "server offered STARTTLS"
    s.send_message(
        message(
            "no STARTTLS offered",
            "STARTTLS was not in the EHLO reply, so this went in the clear.\n",
        ),
        FROM,
        [TO],
    )
    quit_politely(s)


def sc_starttls_anyway(host: str, port: int, keylog: str | None) -> None:
    """The EHLO reply has no STARTTLS; the client asks for it anyway, is refused, goes on."""
    s = smtp(host, port)
    s.ehlo()
    assert not s.has_extn("starttls"), "server offered STARTTLS"
    # smtplib.starttls() would not even send it; a client with a TLS policy does.
    code, text = s.docmd("STARTTLS")
    print("STARTTLS refused:", code, text, file=sys.stderr)
    assert code >= 500, code
    s.send_message(
        message(
            "STARTTLS not offered, asked anyway, refused",
            "No STARTTLS in the EHLO reply, 5xx to STARTTLS: this went in the clear.\n",
        ),
        FROM,
        [TO],
    )
    quit_politely(s)


def sc_tls_resumed(host: str, port: int, keylog: str | None) -> None:
    """Two STARTTLS sessions, one after the other; the second resumes the first's TLS session."""
    ctx = resuming_context(keylog)
    for n in (1, 2):
        s = smtp(host, port)
        s.ehlo()
        s.starttls(context=ctx)
        assert isinstance(s.sock, ssl.SSLSocket)
        print(f"session {n}: {s.sock.version()} reused={s.sock.session_reused}", file=sys.stderr)
        assert s.sock.session_reused == (n == 2), n
        s.ehlo()  # reads the reply, and with it the server's NewSessionTicket (TLS 1.3)
        s.send_message(
            message(f"TLS session {n} of 2", f"Connection {n}; the second one resumes the first's TLS session.\n"),
            FROM,
            [TO],
        )
        if n == 1:
            ctx.session = s.sock.session
            assert ctx.session is not None and ctx.session.has_ticket, "no session ticket"
        quit_politely(s)


def sc_subject_script(host: str, port: int, keylog: str | None) -> None:
    s = smtp(host, port)
    s.ehlo()
    sender = Address(display_name="Mallory <b>&\"'", addr_spec="mallory@example.test")
    m = message(
        "<script>alert(1)</script>",
        'Escaping test: <i>not italic</i> & "quotes".\n',
        sender=sender,
    )
    s.send_message(m, "mallory@example.test", [TO])
    quit_politely(s)


def sc_attachment(host: str, port: int, keylog: str | None) -> None:
    s = smtp(host, port)
    s.ehlo()
    m = message("Q3 report attached", "Hi Alice,\n\nthe report is attached.\n\nBob\n")
    m.add_attachment(PDF, maintype="application", subtype="pdf", filename="report.pdf")
    s.send_message(m, FROM, [TO])
    quit_politely(s)


def _auth_session(host: str, port: int, mech: str, password: str, initial_ok: bool) -> None:
    s = smtp(host, port)
    s.ehlo()
    s.user, s.password = USER, password
    obj: dict[str, Callable] = {
        "PLAIN": s.auth_plain,
        "LOGIN": s.auth_login,
        "CRAM-MD5": s.auth_cram_md5,
    }
    try:
        s.auth(mech, obj[mech], initial_response_ok=initial_ok)
    except smtplib.SMTPAuthenticationError as e:
        print("AUTH failed:", e.smtp_code, e.smtp_error, file=sys.stderr)
        quit_politely(s)
        return
    me = USER + "@example.test"
    s.send_message(
        message(f"sent after AUTH {mech}", "Authenticated submission.\n", sender=me),
        me,
        [TO2],
    )
    quit_politely(s)


def sc_auth_plain(host: str, port: int, keylog: str | None) -> None:
    _auth_session(host, port, "PLAIN", PASSWORD, True)


def sc_auth_login(host: str, port: int, keylog: str | None) -> None:
    _auth_session(host, port, "LOGIN", PASSWORD, False)


def sc_auth_cram_md5(host: str, port: int, keylog: str | None) -> None:
    _auth_session(host, port, "CRAM-MD5", PASSWORD, True)


def sc_auth_failed(host: str, port: int, keylog: str | None) -> None:
    _auth_session(host, port, "PLAIN", "wrong-password", True)


def _sasl_session(host: str, port: int, mech: str, authobject: Callable[..., str]) -> None:
    s = smtp(host, port)
    s.ehlo()
    assert mech in s.esmtp_features.get("auth", "").split(), s.esmtp_features
    s.auth(mech, authobject)  # smtplib sends the initial response on the AUTH line
    me = USER + "@example.test"
    s.send_message(message(f"sent after AUTH {mech}", "Authenticated submission.\n", sender=me), me, [TO2])
    quit_politely(s)


def sc_auth_xoauth2(host: str, port: int, keylog: str | None) -> None:
    def xoauth2(challenge: bytes | None = None) -> str:
        # Only one message: the initial response. (A 334 would carry a JSON error: answer empty.)
        return f"user={USER}\x01auth=Bearer {TOKEN}\x01\x01" if challenge is None else ""

    _sasl_session(host, port, "XOAUTH2", xoauth2)


class ScramSha256:
    """The client side of SCRAM-SHA-256 (RFC 5802, RFC 7677), as smtplib's authobject."""

    def __init__(self, user: str, password: str) -> None:
        self.user, self.password = user, password.encode()
        self.nonce = base64.b64encode(secrets.token_bytes(18)).decode()
        self.first_bare = f"n={user},r={self.nonce}"
        self.server_signature = b""

    def __call__(self, challenge: bytes | None = None) -> str:
        if challenge is None:
            return "n,," + self.first_bare  # client-first, sent as the initial response
        text = challenge.decode()
        if text.startswith("v="):  # server-final: check the server knows the password too
            assert hmac.compare_digest(base64.b64decode(text[2:]), self.server_signature), "bad server signature"
            return ""
        attrs = dict(part.split("=", 1) for part in text.split(","))
        assert attrs["r"].startswith(self.nonce), "server nonce does not extend ours"
        salted = hashlib.pbkdf2_hmac("sha256", self.password, base64.b64decode(attrs["s"]), int(attrs["i"]))
        client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
        stored_key = hashlib.sha256(client_key).digest()
        without_proof = f"c={base64.b64encode(b'n,,').decode()},r={attrs['r']}"
        auth_message = f"{self.first_bare},{text},{without_proof}".encode()
        signature = hmac.new(stored_key, auth_message, hashlib.sha256).digest()
        proof = bytes(a ^ b for a, b in zip(client_key, signature, strict=True))
        server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
        self.server_signature = hmac.new(server_key, auth_message, hashlib.sha256).digest()
        return f"{without_proof},p={base64.b64encode(proof).decode()}"  # client-final


def sc_auth_scram_sha_256(host: str, port: int, keylog: str | None) -> None:
    _sasl_session(host, port, "SCRAM-SHA-256", ScramSha256(USER, PASSWORD))


# --------------------------------------------------------------------------
# raw scenarios
# --------------------------------------------------------------------------
def sc_pipelining(host: str, port: int, keylog: str | None) -> None:
    c = Raw(host, port)
    c.reply()
    assert "PIPELINING" in c.cmd(f"EHLO {CLIENT_NAME}")
    # 1) MAIL, RCPT, RCPT, DATA pipelined in a single segment (RFC 2920)
    c.send(f"MAIL FROM:<{FROM}>\r\nRCPT TO:<{TO}>\r\nRCPT TO:<{TO2}>\r\nDATA\r\n".encode())
    for _ in range(4):
        c.reply()
    c.send(
        dot_stuffed(
            message(
                "pipelined transaction",
                "MAIL, RCPT, RCPT and DATA in one segment.\n",
                to=[TO, TO2],
            )
        )
    )
    c.reply()
    # 2) a command split over two segments
    c.send(b"MAI")
    time.sleep(0.2)
    c.send(f"L FROM:<{FROM}>\r\n".encode())
    c.reply()
    # 3) lowercase commands
    c.cmd(f"rcpt to:<{TO}>")
    c.cmd("data")
    c.send(dot_stuffed(message("split and lowercase commands", "MAIL was split, rcpt/data lowercase.\n")))
    c.reply()
    c.cmd("quit")
    c.close()


def sc_starttls_split(host: str, port: int, keylog: str | None) -> None:
    c = Raw(host, port)
    c.reply()
    c.cmd(f"EHLO {CLIENT_NAME}")
    c.send(b"STAR")
    time.sleep(0.2)
    c.send(b"TTLS\r\n")
    r = c.reply()
    assert r.startswith("220"), r
    c.starttls(keylog)
    c.cmd(f"EHLO {CLIENT_NAME}")
    c.cmd(f"MAIL FROM:<{FROM}>")
    c.cmd(f"RCPT TO:<{TO}>")
    c.cmd("DATA")
    c.send(dot_stuffed(message("STARTTLS split in two segments", "STAR + TTLS\\r\\n\n")))
    c.reply()
    c.cmd("QUIT")
    c.close()


def sc_starttls_injection(host: str, port: int, keylog: str | None) -> None:
    c = Raw(host, port)
    c.reply()
    c.cmd(f"EHLO {CLIENT_NAME}")
    # CVE-2011-0411 pattern: a plaintext command queued behind STARTTLS
    c.send(b"STARTTLS\r\nRSET\r\n")
    r = c.reply()
    if not r.startswith("220"):
        c.close()
        return
    if c.buf:
        # A vulnerable server would answer the injected RSET in cleartext here.
        print("cleartext bytes after 220:", c.buf, file=sys.stderr)
        c.buf = b""
    c.sock.settimeout(20)
    try:
        c.starttls(keylog)
    except (ssl.SSLError, OSError) as e:
        print("TLS handshake failed:", e, file=sys.stderr)
        c.close()
        return
    try:
        c.cmd(f"EHLO {CLIENT_NAME}")
        c.cmd("QUIT")
    except (ConnectionError, OSError, ssl.SSLError) as e:
        print("server ended the session:", e, file=sys.stderr)
    c.close()


def sc_bdat(host: str, port: int, keylog: str | None) -> None:
    c = Raw(host, port)
    c.reply()
    assert "CHUNKING" in c.cmd(f"EHLO {CLIENT_NAME}")
    c.cmd(f"MAIL FROM:<{FROM}>")
    c.cmd(f"RCPT TO:<{TO}>")
    head = (f"From: {FROM}\r\nTo: {TO}\r\nSubject: BDAT test\r\nMessage-ID: <bdat.1@{CLIENT_NAME}>\r\n\r\n").encode()
    body_len = 150 - len(head) - 2
    msg = head + (b"Chunked body " + b"x" * 200)[:body_len] + b"\r\n"
    assert len(msg) == 150
    c.send(b"BDAT 100\r\n" + msg[:100])
    c.reply()
    c.send(b"BDAT 50 LAST\r\n" + msg[100:])
    c.reply()
    c.cmd("QUIT")
    c.close()


def sc_errors(host: str, port: int, keylog: str | None) -> None:
    c = Raw(host, port)
    c.reply()
    c.cmd(f"EHLO {CLIENT_NAME}")
    c.cmd("RCPT TO:<alice@example.test>")  # 503 need MAIL first
    c.cmd("MAIL TO:<bob@example.test>")  # 501 syntax
    c.cmd("FROBNICATE now")  # unknown command (Postfix: 500)
    c.cmd("NOOP")  # 250
    c.cmd("VRFY alice")  # 252
    c.cmd("VRFY nobody@example.test")  # 550 unknown
    c.cmd("VRFY")  # 501 syntax
    c.cmd("HELP")  # Postfix has no HELP: 500
    c.cmd(f"MAIL FROM:<{FROM}>")  # 250
    c.cmd("RCPT TO:<nobody@example.test>")  # 550 unknown recipient
    c.cmd("RSET")  # 250
    c.cmd("QUIT")  # 221
    c.close()


def sc_mail_params(host: str, port: int, keylog: str | None) -> None:
    c = Raw(host, port)
    c.reply()
    ehlo = c.cmd(f"EHLO {CLIENT_NAME}")
    assert "8BITMIME" in ehlo and "SMTPUTF8" in ehlo and "SIZE" in ehlo, ehlo
    # 1) SIZE=, BODY=8BITMIME and SMTPUTF8, all advertised by Postfix: 250
    data = (
        f"From: {FROM}\r\nTo: {TO}\r\nSubject: Grüße: 8BITMIME and SMTPUTF8\r\n"
        f"Message-ID: <mail-params.1@{CLIENT_NAME}>\r\nMIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        "Grüße aus dem Labor: this body is 8-bit UTF-8, sent as is.\r\n"
    ).encode()
    c.cmd(f"MAIL FROM:<{FROM}> SIZE={len(data)} BODY=8BITMIME SMTPUTF8")
    c.cmd(f"RCPT TO:<{TO}>")
    c.cmd("DATA")
    c.send(data + b".\r\n")
    c.reply()
    # 2) REQUIRETLS (RFC 8689), which Postfix does not implement: refused
    c.cmd(f"MAIL FROM:<{FROM}> REQUIRETLS")
    c.cmd("QUIT")
    c.close()


def sc_no_ehlo_after_tls(host: str, port: int, keylog: str | None) -> None:
    c = Raw(host, port)
    c.reply()
    c.cmd(f"EHLO {CLIENT_NAME}")
    r = c.cmd("STARTTLS")
    assert r.startswith("220"), r
    c.starttls(keylog)
    # RFC 3207 4.2: the client should send EHLO again here. This one goes straight to MAIL.
    c.cmd(f"MAIL FROM:<{FROM}>")
    c.cmd(f"EHLO {CLIENT_NAME}")
    c.cmd("QUIT")
    c.close()


def sc_bare_lf(host: str, port: int, keylog: str | None) -> None:
    c = Raw(host, port)
    c.reply()
    c.cmd(f"EHLO {CLIENT_NAME}")
    c.cmd(f"MAIL FROM:<{FROM}>")
    c.cmd(f"RCPT TO:<{TO}>")
    c.cmd("DATA")
    data = (
        f"From: {FROM}\r\nTo: {TO}\r\nSubject: bare LF and bare CR\r\nMessage-ID: <barelf.1@{CLIENT_NAME}>\r\n\r\n"
    ).encode()
    data += b"This line ends with a bare LF\nand this one has a bare CR\rinside.\r\n"
    data += b"last line\r\n.\r\n"
    c.send(data)
    c.reply()
    # over-long command line (> 512 bytes, RFC 5321 section 4.5.3.1.4)
    c.cmd("MAIL FROM:<" + "x" * 560 + "@example.test>")
    c.cmd("RSET")
    c.cmd("QUIT")
    c.close()


# Bytes that are no protocol at all (for the non-SMTP server of not-smtp-on-25): no 0x16 first
# (that would look like a TLS record), no LF but the final one, so it is one "line".
GARBAGE = bytes.fromhex("8fa30007feff019c42d70000e1b5c3f0117e93ad2c6b88d4") + b"\r\n"


def sc_binary_garbage(host: str, port: int, keylog: str | None) -> None:
    """Connect, send one segment of binary garbage, read whatever comes back until the server
    closes, then close too.  Used against a server that is not SMTP (http.server on port 25)."""
    c = Raw(host, port)
    c.send(GARBAGE)
    answer = c.until_closed()
    print("S:", answer[:200], file=sys.stderr)
    c.close()


SCENARIOS: dict[str, Callable[[str, int, str | None], None]] = {
    "starttls": sc_starttls,
    "tls12": sc_tls12,
    "implicit": sc_implicit,
    "plain": sc_plain,
    "refused": sc_refused,
    "no-starttls": sc_no_starttls,
    "subject-script": sc_subject_script,
    "attachment": sc_attachment,
    "auth-plain": sc_auth_plain,
    "auth-login": sc_auth_login,
    "auth-cram-md5": sc_auth_cram_md5,
    "auth-failed": sc_auth_failed,
    "auth-xoauth2": sc_auth_xoauth2,
    "auth-scram-sha-256": sc_auth_scram_sha_256,
    "starttls-anyway": sc_starttls_anyway,
    "tls-resumed": sc_tls_resumed,
    "mail-params": sc_mail_params,
    "no-ehlo-after-tls": sc_no_ehlo_after_tls,
    "pipelining": sc_pipelining,
    "starttls-split": sc_starttls_split,
    "starttls-injection": sc_starttls_injection,
    "bdat": sc_bdat,
    "errors": sc_errors,
    "bare-lf": sc_bare_lf,
    "binary-garbage": sc_binary_garbage,
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("scenario", choices=sorted(SCENARIOS))
    ap.add_argument("host", choices=["127.0.0.1", "::1"])
    ap.add_argument("port", type=int)
    ap.add_argument("--keylog")
    a = ap.parse_args()
    SCENARIOS[a.scenario](a.host, a.port, a.keylog)


if __name__ == "__main__":
    main()
