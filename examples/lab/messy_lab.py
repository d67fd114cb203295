#!/usr/bin/env python3
"""Messy SMTP sessions for the smtpdoc test captures (loopback only, issue 9).

    messy_lab.py SCENARIO [--cert CERT --key KEY]

Each scenario runs a small scripted server (a socket, in a thread, on 127.0.0.1) and a
hand-driven client against it in one process, so that both sides do exactly what real
odd peers do: early talkers, servers that answer 220 to STARTTLS and then go on in
plaintext (what a capture taken behind a TLS-terminating proxy shows), bare-LF message
ends, unsolicited 421/554, HELO-only clients, SASL mechanisms, brute force, RFC 2047
headers, sessions cut short, SMTP inside SOCKS5 and HTTP CONNECT tunnels, implicit TLS
on 587 and on an odd port, random bytes on 465, port probes.  The servers are not mail
servers: they accept nothing and store nothing.  The ports each scenario uses are in
SCENARIOS (the first one is the one make_examples.sh captures).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import os
import random
import socket
import ssl
import struct
import sys
import threading
import time
from collections.abc import Callable

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lab_client import CLIENT_NAME, FROM, TO, Raw, dot_stuffed, message  # noqa: E402

HOST = "127.0.0.1"
SERVER = "mail.example.test"
PASSWORD = "s3cret-Passw0rd"
TOKEN = "ya29.smtpdoc-lab-Bearer-9qT4xVw2"
CERT: str | None = None
KEY: str | None = None
KEYLOG: str | None = None  # the client's TLS key log (--keylog), for the implicit TLS scenarios


# --------------------------------------------------------------------------
# the scripted server
# --------------------------------------------------------------------------
class Conn:
    """One server-side connection; every send() is one write."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.settimeout(20)
        self.buf = b""

    def send(self, *lines: str) -> None:
        data = "".join(line + "\r\n" for line in lines).encode()
        print("S:", data[:200], file=sys.stderr)
        self.sock.sendall(data)

    def _fill(self) -> bool:
        try:
            chunk = self.sock.recv(65536)
        except (OSError, ssl.SSLError):
            return False
        self.buf += chunk
        return bool(chunk)

    def line(self) -> bytes | None:
        """The next line without its CRLF or LF; None at EOF."""
        while b"\n" not in self.buf:
            if not self._fill():
                return None
        raw, self.buf = self.buf.split(b"\n", 1)
        print("C:", raw[:200], file=sys.stderr)
        return raw[:-1] if raw.endswith(b"\r") else raw

    def data(self, bare_lf_end: bool) -> bool:
        """Read a DATA message up to its end line; False at EOF."""
        while True:
            ends = [self.buf.find(b"\r\n.\r\n")]
            if bare_lf_end:
                ends.append(self.buf.find(b"\n.\n"))
            found = [(i, i + 5 if self.buf[i : i + 2] == b"\r\n" else i + 3) for i in ends if i >= 0]
            if found:
                self.buf = self.buf[min(found)[1] :]
                return True
            if not self._fill():
                return False

    def starttls(self) -> None:
        assert CERT and KEY, "--cert/--key needed"
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(CERT, KEY)
        self.sock = ctx.wrap_socket(self.sock, server_side=True)

    def close(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_WR)
            self.sock.settimeout(3)
            while self.sock.recv(65536):
                pass
        except (OSError, ssl.SSLError):
            pass
        self.sock.close()


EHLO_LINES = [f"250-{SERVER}", "250-PIPELINING", "250-SIZE 10240000", "250-8BITMIME", "250 ENHANCEDSTATUSCODES"]

Hook = Callable[[Conn, str], bool]  # (connection, argument) -> go on?


def smtp_loop(
    c: Conn,
    greeting: str | None = f"220 {SERVER} ESMTP smtpdoc-lab",
    ehlo: list[str] | None = None,
    replies: dict[str, str] | None = None,
    hooks: dict[str, Hook] | None = None,
    bare_lf_end: bool = False,
    greet_delay: float = 0.0,
) -> None:
    """A tiny SMTP responder: one reply per command line, in order; no mail is kept."""
    replies = {
        "HELO": f"250 {SERVER}",
        "MAIL": "250 2.1.0 Ok",
        "RCPT": "250 2.1.5 Ok",
        "DATA": "354 End data with <CR><LF>.<CR><LF>",
        ".": "250 2.0.0 Ok: queued as 4F2A91C3E0",
        "RSET": "250 2.0.0 Ok",
        "NOOP": "250 2.0.0 Ok",
        "QUIT": "221 2.0.0 Bye",
        "STARTTLS": "502 5.5.1 Error: command not implemented",
        **(replies or {}),
    }
    hooks = hooks or {}
    if greet_delay:
        time.sleep(greet_delay)
    if greeting is not None:
        try:
            c.send(greeting)
        except OSError:
            c.close()
            return
    while (line := c.line()) is not None:
        verb, _, arg = line.decode("utf-8", "replace").partition(" ")
        verb = verb.upper()
        if verb in hooks:
            if not hooks[verb](c, arg):
                break
            continue
        if verb == "EHLO":
            c.send(*(ehlo or EHLO_LINES))
        elif verb == "DATA":
            c.send(replies["DATA"])
            if not c.data(bare_lf_end):
                break
            c.send(replies["."])
        elif verb in replies:
            c.send(replies[verb])
            if verb == "QUIT":
                break
        else:
            c.send("500 5.5.2 Error: command not recognized")
    c.close()


class Server:
    """Accept `len(handlers)` connections on 127.0.0.1:port, one after the other."""

    def __init__(self, port: int, handlers: list[Callable[[Conn], None]], tls: bool = False) -> None:
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind((HOST, port))
        self.listener.listen(8)
        self.handlers = handlers
        self.tls = tls
        self.errors: list[BaseException] = []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        for handler in self.handlers:
            sock, _ = self.listener.accept()
            c = Conn(sock)
            try:
                if self.tls:
                    c.starttls()
                handler(c)
            except (OSError, ssl.SSLError) as exc:
                print("server:", exc, file=sys.stderr)
                c.sock.close()
            except BaseException as exc:  # reported by join()
                self.errors.append(exc)
                c.sock.close()
        self.listener.close()

    def join(self) -> None:
        self.thread.join(30)
        if self.errors:
            raise self.errors[0]


def serve(port: int, *handlers: Callable[[Conn], None], tls: bool = False) -> Server:
    return Server(port, list(handlers), tls)


def plain_mail(c: Raw, subject: str, ehlo: bool = True) -> None:
    """EHLO (optional), one mail, QUIT, close: the ordinary tail of a session."""
    if ehlo:
        c.cmd(f"EHLO {CLIENT_NAME}")
    c.cmd(f"MAIL FROM:<{FROM}>")
    c.cmd(f"RCPT TO:<{TO}>")
    c.cmd("DATA")
    c.send(dot_stuffed(message(subject, f"{subject}.\n")))
    c.reply()
    c.cmd("QUIT")
    c.close()


# --------------------------------------------------------------------------
# scenarios
# --------------------------------------------------------------------------
def sc_plaintext_after_starttls() -> None:
    """220 to STARTTLS, then both sides go on in plaintext: the view behind a TLS-terminating
    proxy (or of a capture already decrypted).  The second EHLO, AUTH PLAIN, a mail, QUIT."""
    state = {"tls": False}

    def starttls(c: Conn, arg: str) -> bool:
        c.send("220 2.0.0 Ready to start TLS")
        state["tls"] = True
        return True

    def ehlo(c: Conn, arg: str) -> bool:
        extra = ["250-AUTH PLAIN LOGIN"] if state["tls"] else ["250-STARTTLS"]
        c.send(*EHLO_LINES[:-1], *extra, EHLO_LINES[-1])
        return True

    def auth(c: Conn, arg: str) -> bool:
        c.send("235 2.7.0 Authentication successful")
        return True

    srv = serve(25, lambda c: smtp_loop(c, hooks={"STARTTLS": starttls, "EHLO": ehlo, "AUTH": auth}))
    c = Raw(HOST, 25)
    c.reply()
    c.cmd(f"EHLO {CLIENT_NAME}")
    assert c.cmd("STARTTLS").startswith("220")
    c.cmd(f"EHLO {CLIENT_NAME}")
    blob = base64.b64encode(f"\0alice\0{PASSWORD}".encode()).decode()
    c.cmd(f"AUTH PLAIN {blob}")
    plain_mail(c, "plaintext after STARTTLS", ehlo=False)
    srv.join()


def sc_early_talker() -> None:
    """The client sends EHLO, MAIL, RCPT and DATA in one segment before the greeting (no
    PIPELINING offered); the server greets 0.5 s later and answers them one by one."""
    ehlo = [f"250-{SERVER}", "250-SIZE 10240000", "250 8BITMIME"]
    srv = serve(25, lambda c: smtp_loop(c, ehlo=ehlo, greet_delay=0.5))
    c = Raw(HOST, 25)
    c.send(f"EHLO {CLIENT_NAME}\r\nMAIL FROM:<{FROM}>\r\nRCPT TO:<{TO}>\r\nDATA\r\n".encode())
    for _ in range(5):
        c.reply()
    c.send(dot_stuffed(message("early talker", "Sent before the server said hello.\n")))
    c.reply()
    c.cmd("QUIT")
    c.close()
    srv.join()


def sc_bare_lf_end() -> None:
    """A message written with LF line ends and ended by LF . LF, which the server accepts."""
    srv = serve(25, lambda c: smtp_loop(c, bare_lf_end=True))
    c = Raw(HOST, 25)
    c.reply()
    c.cmd(f"EHLO {CLIENT_NAME}")
    c.cmd(f"MAIL FROM:<{FROM}>")
    c.cmd(f"RCPT TO:<{TO}>")
    c.cmd("DATA")
    c.send(
        f"From: {FROM}\nTo: {TO}\nSubject: ended by a bare LF\nMessage-ID: <barelf-end.1@{CLIENT_NAME}>\n\n"
        "Every line of this message ends with a bare LF, and so does its end.\n.\n".encode()
    )
    assert c.reply().startswith("250")
    c.cmd("QUIT")
    c.close()
    srv.join()


def sc_unsolicited_replies() -> None:
    """Session 1: after EHLO the client goes quiet; the server times out with an unsolicited
    421 and closes.  Session 2: after EHLO and MAIL the server pushes an unsolicited 554 and
    closes."""

    def idle_421(c: Conn) -> None:
        c.send(f"220 {SERVER} ESMTP smtpdoc-lab")
        c.line()
        c.send(*EHLO_LINES)
        c.sock.settimeout(1.0)
        try:
            got = c.line()
        except TimeoutError:
            got = None
        assert got is None, got
        c.sock.settimeout(20)
        c.send(f"421 4.4.2 {SERVER} Error: timeout exceeded")
        c.close()

    def push_554(c: Conn) -> None:
        c.send(f"220 {SERVER} ESMTP smtpdoc-lab")
        c.line()
        c.send(*EHLO_LINES)
        c.line()
        c.send("250 2.1.0 Ok")
        time.sleep(0.3)
        c.send("554 5.7.1 Service unavailable; client [127.0.0.1] blocked using a local list")
        c.close()

    srv = serve(25, idle_421, push_554)
    c = Raw(HOST, 25)
    c.reply()
    c.cmd(f"EHLO {CLIENT_NAME}")
    assert c.reply().startswith("421")
    c.close()
    time.sleep(0.3)
    c = Raw(HOST, 25)
    c.reply()
    c.cmd(f"EHLO {CLIENT_NAME}")
    c.cmd(f"MAIL FROM:<{FROM}>")
    assert c.reply().startswith("554")
    c.close()
    srv.join()


def sc_helo_only() -> None:
    """An old client: HELO, then a mail, no EHLO at all."""
    srv = serve(25, lambda c: smtp_loop(c))
    c = Raw(HOST, 25)
    c.reply()
    c.cmd(f"HELO {CLIENT_NAME}")
    plain_mail(c, "HELO only", ehlo=False)
    srv.join()


def sc_ehlo_refused_helo() -> None:
    """EHLO answered 502; the client falls back to HELO; the HELO reply starts with the
    client's own name (the server echoes it)."""
    replies = {"HELO": f"250 {CLIENT_NAME} Hello [127.0.0.1]"}

    def ehlo(c: Conn, arg: str) -> bool:
        c.send("502 5.5.2 Error: command not implemented")
        return True

    srv = serve(25, lambda c: smtp_loop(c, greeting=f"220 {SERVER} SMTP smtpdoc-lab", replies=replies, hooks={"EHLO": ehlo}))
    c = Raw(HOST, 25)
    c.reply()
    assert c.cmd(f"EHLO {CLIENT_NAME}").startswith("502")
    c.cmd(f"HELO {CLIENT_NAME}")
    plain_mail(c, "EHLO refused, HELO used", ehlo=False)
    srv.join()


def _auth_server(mechs: str, exchange: Hook) -> Callable[[Conn], None]:
    ehlo = [*EHLO_LINES[:-1], f"250-AUTH {mechs}", EHLO_LINES[-1]]
    return lambda c: smtp_loop(c, ehlo=ehlo, hooks={"AUTH": exchange})


def b64(data: bytes | str) -> str:
    return base64.b64encode(data.encode() if isinstance(data, str) else data).decode()


def sc_auth_digest_md5() -> None:
    """SASL DIGEST-MD5 (RFC 2831): challenge, response, rspauth, empty line, 235."""
    nonce = "OA6MG9tEQGm2hh"
    cnonce = "OA6MHXh6VqTrRk"
    uri = f"smtp/{SERVER}"

    def digest(a2_prefix: str) -> str:
        a1 = hashlib.md5(f"alice:{SERVER}:{PASSWORD}".encode()).digest() + f":{nonce}:{cnonce}".encode()
        a2 = f"{a2_prefix}:{uri}"
        ha1 = hashlib.md5(a1).hexdigest()
        ha2 = hashlib.md5(a2.encode()).hexdigest()
        return hashlib.md5(f"{ha1}:{nonce}:00000001:{cnonce}:auth:{ha2}".encode()).hexdigest()

    def exchange(c: Conn, arg: str) -> bool:
        c.send("334 " + b64(f'realm="{SERVER}",nonce="{nonce}",qop="auth",charset=utf-8,algorithm=md5-sess'))
        c.line()
        c.send("334 " + b64("rspauth=" + digest("")))
        c.line()
        c.send("235 2.7.0 Authentication successful")
        return True

    srv = serve(587, _auth_server("DIGEST-MD5 PLAIN", exchange))
    c = Raw(HOST, 587)
    c.reply()
    c.cmd(f"EHLO {CLIENT_NAME}")
    c.cmd("AUTH DIGEST-MD5")
    response = (
        f'charset=utf-8,username="alice",realm="{SERVER}",nonce="{nonce}",nc=00000001,'
        f'cnonce="{cnonce}",digest-uri="{uri}",response={digest("AUTHENTICATE")},qop=auth'
    )
    c.cmd(b64(response))
    c.cmd("")
    plain_mail(c, "sent after AUTH DIGEST-MD5", ehlo=False)
    srv.join()


def _ntlm_negotiate() -> bytes:
    flags = 0x00000001 | 0x00000004 | 0x00000200 | 0x00008000 | 0x00080000 | 0x20000000 | 0x80000000
    return b"NTLMSSP\0" + struct.pack("<II", 1, flags) + b"\0" * 16


def _ntlm_challenge(challenge: bytes) -> bytes:
    target = "EXAMPLE".encode("utf-16-le")
    flags = 0x00000001 | 0x00000004 | 0x00000200 | 0x00010000 | 0x00080000 | 0x20000000
    head = b"NTLMSSP\0" + struct.pack("<I", 2) + struct.pack("<HHI", len(target), len(target), 48)
    head += struct.pack("<I", flags) + challenge + b"\0" * 8 + struct.pack("<HHI", 0, 0, 48 + len(target))
    return head + target


def _ntlm_authenticate(challenge: bytes, user: str, domain: str, host: str) -> bytes:
    """An NTLMv2 AUTHENTICATE message (MS-NLMP 2.2.1.3) for user/domain/host."""
    # The NT hash is MD4 of the password, which OpenSSL 3 no longer offers by default; the lab
    # server checks nothing, so any 16 bytes keep the message's layout true.
    nt_hash = hashlib.sha256(PASSWORD.encode("utf-16-le")).digest()[:16]
    v2_key = hmac.new(nt_hash, (user.upper() + domain).encode("utf-16-le"), hashlib.md5).digest()
    client_challenge = bytes(range(8))
    blob = b"\x01\x01\0\0\0\0\0\0" + struct.pack("<Q", 133_000_000_000_000_000) + client_challenge + b"\0" * 8
    proof = hmac.new(v2_key, challenge + blob, hashlib.md5).digest()
    nt = proof + blob
    lm = hmac.new(v2_key, challenge + client_challenge, hashlib.md5).digest() + client_challenge
    fields = [lm, nt, domain.encode("utf-16-le"), user.encode("utf-16-le"), host.encode("utf-16-le"), b""]
    offset = 8 + 4 + 6 * 8 + 4
    head = b"NTLMSSP\0" + struct.pack("<I", 3)
    payload = b""
    for field in fields:
        head += struct.pack("<HHI", len(field), len(field), offset + len(payload))
        payload += field
    flags = 0x00000001 | 0x00000200 | 0x00080000 | 0x20000000
    return head + struct.pack("<I", flags) + payload


def sc_auth_ntlm() -> None:
    """AUTH NTLM (MS-SMTPNTLM): NEGOTIATE as the initial response, CHALLENGE in a 334,
    AUTHENTICATE with user alice, domain EXAMPLE, host WORKSTATION7; 235."""
    challenge = bytes.fromhex("0123456789abcdef")

    def exchange(c: Conn, arg: str) -> bool:
        c.send("334 " + b64(_ntlm_challenge(challenge)))
        c.line()
        c.send("235 2.7.0 Authentication successful")
        return True

    srv = serve(587, _auth_server("NTLM LOGIN", exchange))
    c = Raw(HOST, 587)
    c.reply()
    c.cmd(f"EHLO {CLIENT_NAME}")
    c.cmd("AUTH NTLM " + b64(_ntlm_negotiate()))
    c.cmd(b64(_ntlm_authenticate(challenge, "alice", "EXAMPLE", "WORKSTATION7")))
    plain_mail(c, "sent after AUTH NTLM", ehlo=False)
    srv.join()


def sc_auth_oauthbearer() -> None:
    """AUTH OAUTHBEARER (RFC 7628) with the bearer token as the initial response; 235."""

    def exchange(c: Conn, arg: str) -> bool:
        c.send("235 2.7.0 Authentication successful")
        return True

    srv = serve(587, _auth_server("OAUTHBEARER XOAUTH2", exchange))
    c = Raw(HOST, 587)
    c.reply()
    c.cmd(f"EHLO {CLIENT_NAME}")
    c.cmd("AUTH OAUTHBEARER " + b64(f"n,a=alice@example.test,\x01host={SERVER}\x01port=587\x01auth=Bearer {TOKEN}\x01\x01"))
    plain_mail(c, "sent after AUTH OAUTHBEARER", ehlo=False)
    srv.join()


BRUTE_SESSIONS = 5
BRUTE_TRIES = 2


def sc_auth_brute_force() -> None:
    """A password-guessing client: 5 sessions, each with 2 AUTH LOGIN tries, all 535."""

    def exchange(c: Conn, arg: str) -> bool:
        c.send("334 VXNlcm5hbWU6")
        c.line()
        c.send("334 UGFzc3dvcmQ6")
        c.line()
        c.send("535 5.7.8 Error: authentication failed: authentication failure")
        return True

    srv = serve(587, *[_auth_server("PLAIN LOGIN", exchange)] * BRUTE_SESSIONS)
    guesses = iter(["123456", "password", "alice2024", "qwerty", "letmein", "Summer2026!", "admin", "welcome1", "s3cret", "iloveyou"])
    for _ in range(BRUTE_SESSIONS):
        c = Raw(HOST, 587)
        c.reply()
        c.cmd(f"EHLO {CLIENT_NAME}")
        for _ in range(BRUTE_TRIES):
            c.cmd("AUTH LOGIN")
            c.cmd(b64("alice"))
            assert c.cmd(b64(next(guesses))).startswith("535")
        c.cmd("QUIT")
        c.close()
        time.sleep(0.1)
    srv.join()


def sc_gloss_codes() -> None:
    """Exchange-like replies: 250 2.1.0 to MAIL, 250 2.1.5 to RCPT, 250 2.6.0 "Queued mail
    for delivery" after the message, and 502 to STARTTLS (not offered)."""
    replies = {
        "MAIL": "250 2.1.0 Sender OK",
        "RCPT": "250 2.1.5 Recipient OK",
        ".": f"250 2.6.0 <gloss.1@{CLIENT_NAME}> [InternalId=42949672961] Queued mail for delivery",
        "QUIT": "221 2.0.0 Service closing transmission channel",
        "STARTTLS": "502 5.5.1 STARTTLS is not available",
    }
    srv = serve(25, lambda c: smtp_loop(c, greeting=f"220 {SERVER} Microsoft ESMTP MAIL Service ready", replies=replies))
    c = Raw(HOST, 25)
    c.reply()
    c.cmd(f"EHLO {CLIENT_NAME}")
    c.cmd("STARTTLS")
    plain_mail(c, "queued, 2.6.0", ehlo=False)
    srv.join()


def sc_tls_no_forward_secrecy() -> None:
    """STARTTLS, TLS 1.2 with RSA key exchange (AES128-GCM-SHA256): no forward secrecy."""
    state = {"tls": False}

    def starttls(c: Conn, arg: str) -> bool:
        c.send("220 2.0.0 Ready to start TLS")
        assert CERT and KEY
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(CERT, KEY)
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        ctx.set_ciphers("AES128-GCM-SHA256")
        c.sock = ctx.wrap_socket(c.sock, server_side=True)
        state["tls"] = True
        return True

    def ehlo(c: Conn, arg: str) -> bool:
        c.send(*EHLO_LINES[:-1], *([] if state["tls"] else ["250-STARTTLS"]), EHLO_LINES[-1])
        return True

    srv = serve(25, lambda c: smtp_loop(c, hooks={"STARTTLS": starttls, "EHLO": ehlo}))
    c = Raw(HOST, 25)
    c.reply()
    c.cmd(f"EHLO {CLIENT_NAME}")
    assert c.cmd("STARTTLS").startswith("220")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers("AES128-GCM-SHA256")
    c.sock = ctx.wrap_socket(c.sock)
    plain_mail(c, "TLS 1.2 without forward secrecy")
    srv.join()


def sc_headers_encoded() -> None:
    """Two mails: RFC 2047 encoded words (UTF-8 B and Q, ISO-8859-1, KOI8-R, ISO-2022-JP;
    adjacent words), then raw 8-bit headers: a UTF-8 Subject and a Latin-1 From."""
    srv = serve(25, lambda c: smtp_loop(c))
    c = Raw(HOST, 25)
    c.reply()
    c.cmd(f"EHLO {CLIENT_NAME}")
    mails = [
        (
            "From: =?ISO-8859-1?Q?J=F6rg_M=FCller?= <joerg@example.test>\r\n"
            "To: =?KOI8-R?B?98HTyczJyg==?= <alice@example.test>\r\n"
            "Subject: =?UTF-8?B?R3LDvMOfZSBhdXMg?= =?UTF-8?Q?K=C3=B6ln?= und\r\n"
            " =?ISO-2022-JP?B?GyRCRnxLXDhsGyhC?=\r\n"
            f"Message-ID: <rfc2047.1@{CLIENT_NAME}>\r\nMIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=us-ascii\r\n\r\nEncoded words in the header.\r\n"
        ).encode(),
        b"From: " + "Zoë Ångström".encode("latin-1") + b" <zoe@example.test>\r\n"
        + b"To: <alice@example.test>\r\n"
        + b"Subject: " + "Grüße, raw UTF-8 — 8 bit".encode() + b"\r\n"
        + f"Message-ID: <raw8bit.1@{CLIENT_NAME}>\r\n\r\nRaw 8-bit header bytes.\r\n".encode(),
    ]
    for data in mails:
        c.cmd(f"MAIL FROM:<{FROM}>")
        c.cmd(f"RCPT TO:<{TO}>")
        c.cmd("DATA")
        c.send(data + b".\r\n")
        c.reply()
    c.cmd("QUIT")
    c.close()
    srv.join()


def sc_cut_mid_data() -> None:
    """The client sends half a message after DATA and hangs up."""
    srv = serve(25, lambda c: smtp_loop(c))
    c = Raw(HOST, 25)
    c.reply()
    c.cmd(f"EHLO {CLIENT_NAME}")
    c.cmd(f"MAIL FROM:<{FROM}>")
    c.cmd(f"RCPT TO:<{TO}>")
    c.cmd("DATA")
    data = dot_stuffed(message("cut off mid-DATA", "This message never reaches its end line.\n" * 4))
    c.send(data[: len(data) // 2])
    time.sleep(0.2)
    c.close()
    srv.join()


def sc_no_server_reply() -> None:
    """The server accepts the connection and never says anything; the client sends EHLO
    after waiting for a greeting, waits again, and gives up."""

    def silent(c: Conn) -> None:
        c.sock.settimeout(3)
        while c._fill():
            pass
        c.sock.close()

    srv = serve(25, silent)
    c = Raw(HOST, 25)
    time.sleep(1.0)
    c.send(f"EHLO {CLIENT_NAME}\r\n".encode())
    time.sleep(1.0)
    c.sock.close()
    srv.join()


def sc_hangup_before_greeting() -> None:
    """The client hangs up 0.2 s after connecting; the server was going to greet at 1 s."""

    def slow(c: Conn) -> None:
        time.sleep(1.0)
        try:
            c.send(f"220 {SERVER} ESMTP smtpdoc-lab")
        except OSError:
            pass
        c.close()

    srv = serve(25, slow)
    c = Raw(HOST, 25)
    time.sleep(0.2)
    c.sock.close()
    srv.join()


def relay(a: socket.socket, b: socket.socket) -> None:
    """Copy bytes both ways until each side has closed (the proxies of this lab and tunnel_lab)."""
    def pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while chunk := src.recv(65536):
                dst.sendall(chunk)
        except OSError:
            pass
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    t = threading.Thread(target=pump, args=(b, a), daemon=True)
    t.start()
    pump(a, b)
    t.join(10)
    a.close()
    b.close()


def _proxy(port: int, handshake: Callable[[socket.socket], tuple[str, int]]) -> threading.Thread:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((HOST, port))
    listener.listen(1)

    def run() -> None:
        client, _ = listener.accept()
        listener.close()
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        host, dport = handshake(client)
        assert host == HOST, host
        upstream = socket.create_connection((host, dport))
        upstream.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        client.sendall(proxy_ok[port])
        relay(client, upstream)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


proxy_ok: dict[int, bytes] = {}


def sc_socks5_tunnel() -> None:
    """SMTP through a SOCKS5 proxy on 127.0.0.1:1080 (RFC 1928, no authentication); the
    capture holds only the client↔proxy leg."""

    def socks5(s: socket.socket) -> tuple[str, int]:
        head = s.recv(2)
        s.recv(head[1])
        s.sendall(b"\x05\x00")
        req = s.recv(10)
        assert req[:4] == b"\x05\x01\x00\x01", req
        return socket.inet_ntoa(req[4:8]), struct.unpack(">H", req[8:10])[0]

    proxy_ok[1080] = b"\x05\x00\x00\x01" + socket.inet_aton(HOST) + struct.pack(">H", 40000)
    srv = serve(25, lambda c: smtp_loop(c))
    t = _proxy(1080, socks5)
    c = Raw(HOST, 1080)
    c.send(b"\x05\x01\x00")
    assert c.sock.recv(2) == b"\x05\x00"
    c.send(b"\x05\x01\x00\x01" + socket.inet_aton(HOST) + struct.pack(">H", 25))
    assert c.sock.recv(10)[:2] == b"\x05\x00"
    c.reply()
    plain_mail(c, "through a SOCKS5 tunnel")
    t.join(10)
    srv.join()


def sc_http_connect_tunnel() -> None:
    """SMTP through an HTTP CONNECT proxy on 127.0.0.1:8080 (RFC 9110 §9.3.6)."""

    def connect(s: socket.socket) -> tuple[str, int]:
        buf = b""
        while b"\r\n\r\n" not in buf:
            buf += s.recv(4096)
        target = buf.split(b" ")[1].decode()
        host, _, port = target.rpartition(":")
        return host, int(port)

    proxy_ok[8080] = b"HTTP/1.1 200 Connection established\r\nProxy-Agent: smtpdoc-lab\r\n\r\n"
    srv = serve(25, lambda c: smtp_loop(c))
    t = _proxy(8080, connect)
    c = Raw(HOST, 8080)
    c.send(b"CONNECT 127.0.0.1:25 HTTP/1.1\r\nHost: 127.0.0.1:25\r\n\r\n")
    while b"\r\n\r\n" not in c.buf:
        c.buf += c.sock.recv(4096)
    c.buf = c.buf.split(b"\r\n\r\n", 1)[1]
    c.reply()
    plain_mail(c, "through an HTTP CONNECT tunnel")
    t.join(10)
    srv.join()


def _implicit(port: int) -> None:
    srv = serve(port, lambda c: smtp_loop(c), tls=True)
    c = Raw(HOST, port)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if KEYLOG:
        ctx.keylog_filename = KEYLOG
    c.sock = ctx.wrap_socket(c.sock)
    c.reply()
    plain_mail(c, f"implicit TLS on port {port}")
    srv.join()


def sc_implicit_tls_587() -> None:
    """TLS from the first byte on port 587 (a submission server in wrapper mode)."""
    _implicit(587)


def sc_implicit_tls_odd_port() -> None:
    """TLS from the first byte on port 4650, a port tshark knows nothing about."""
    _implicit(4650)


def sc_random_bytes_465() -> None:
    """A client sends 64 random bytes (seeded, first byte not 0x16) to an SMTPS server on 465;
    its TLS handshake fails and it closes."""
    rnd = random.Random(9)
    data = bytes(rnd.randrange(256) for _ in range(64))
    data = bytes([0x9B]) + data[1:]
    srv = serve(465, lambda c: smtp_loop(c), tls=True)
    c = Raw(HOST, 465)
    c.send(data)
    c.until_closed()
    c.sock.close()
    srv.join()


def sc_port_probe() -> None:
    """Port probes: a SYN to the closed port 25 answered by RST (twice), and a SYN to the closed
    port 587 whose RST the capture filter leaves out (a lone SYN)."""
    for port in (25, 25, 587):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.connect((HOST, port))
            raise SystemExit(f"port {port} is open")
        except ConnectionRefusedError:
            pass
        s.close()
        time.sleep(0.2)


def sc_plain_session() -> None:
    """An ordinary cleartext session against the scripted server (port from argv)."""
    port = PORT
    srv = serve(port, lambda c: smtp_loop(c))
    c = Raw(HOST, port)
    c.reply()
    plain_mail(c, f"plain SMTP on port {port}")
    srv.join()


def sc_message_in_segments() -> None:
    """A cleartext session whose message goes out in four writes (headers, Subject, body, the
    final dot), a twentieth of a second apart: with a small snap length each long segment is
    cut, so the message text the capture keeps comes in pieces."""
    port = PORT
    srv = serve(port, lambda c: smtp_loop(c))
    c = Raw(HOST, port)
    c.reply()
    c.cmd(f"EHLO {CLIENT_NAME}")
    c.cmd(f"MAIL FROM:<{FROM}>")
    c.cmd(f"RCPT TO:<{TO}>")
    c.cmd("DATA")
    for segment in (
        f"From: Bob <{FROM}>\r\nTo: Alice <{TO}>\r\n",
        "Subject: a message sent in four segments, each cut\r\n",
        "\r\nThe body.\r\n",
        ".\r\n",
    ):
        c.send(segment.encode())
        time.sleep(0.05)
    c.reply()
    c.cmd("QUIT")
    c.close()
    srv.join()


PORT = 25

# HAProxy's PROXY protocol (www.haproxy.org/download/2.8/doc/proxy-protocol.txt): a load balancer
# in front of the mail server opens each connection with a header naming the original client;
# the server reads it before it greets. Both ends are on loopback, and so are the addresses
# the header names (127.0.0.2:40312, the "real" client, to 127.0.0.1:25).
PROXY_V1 = b"PROXY TCP4 127.0.0.2 127.0.0.1 40312 25\r\n"
PROXY_V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"
PROXY_V2 = (
    PROXY_V2_SIGNATURE
    + bytes([0x21, 0x11])  # version 2, PROXY; AF_INET over STREAM
    + struct.pack("!H", 12)
    + socket.inet_aton("127.0.0.2")
    + socket.inet_aton("127.0.0.1")
    + struct.pack("!HH", 40312, 25)
)


def _read_proxy_header(c: Conn) -> bool:
    """Read the PROXY header (v1 line or v2 block) before greeting, as a server behind a balancer does."""
    while len(c.buf) < 16:
        if not c._fill():
            return False
    if c.buf.startswith(PROXY_V2_SIGNATURE):
        size = 16 + struct.unpack("!H", c.buf[14:16])[0]
        while len(c.buf) < size:
            if not c._fill():
                return False
        print("C:", c.buf[:size], file=sys.stderr)
        c.buf = c.buf[size:]
        return True
    line = c.line()
    return line is not None and line.startswith(b"PROXY ")


def _proxied(header: bytes) -> None:
    srv = serve(25, lambda c: smtp_loop(c) if _read_proxy_header(c) else c.close())
    c = Raw(HOST, 25)
    c.send(header)
    c.reply()
    plain_mail(c, "behind a load balancer")
    srv.join()


def sc_proxy_protocol_v1() -> None:
    """The balancer's PROXY v1 line, then the greeting and a plain mail."""
    _proxied(PROXY_V1)


def sc_proxy_protocol_v2() -> None:
    """The same with the binary PROXY v2 header (AF_INET, STREAM)."""
    _proxied(PROXY_V2)


SCENARIOS: dict[str, Callable[[], None]] = {
    "plaintext-after-starttls": sc_plaintext_after_starttls,
    "early-talker": sc_early_talker,
    "bare-lf-end": sc_bare_lf_end,
    "unsolicited-replies": sc_unsolicited_replies,
    "helo-only": sc_helo_only,
    "ehlo-refused-helo": sc_ehlo_refused_helo,
    "auth-digest-md5": sc_auth_digest_md5,
    "auth-ntlm": sc_auth_ntlm,
    "auth-oauthbearer": sc_auth_oauthbearer,
    "auth-brute-force": sc_auth_brute_force,
    "gloss-codes": sc_gloss_codes,
    "tls-no-forward-secrecy": sc_tls_no_forward_secrecy,
    "headers-encoded": sc_headers_encoded,
    "cut-mid-data": sc_cut_mid_data,
    "no-server-reply": sc_no_server_reply,
    "hangup-before-greeting": sc_hangup_before_greeting,
    "socks5-tunnel": sc_socks5_tunnel,
    "http-connect-tunnel": sc_http_connect_tunnel,
    "implicit-tls-587": sc_implicit_tls_587,
    "implicit-tls-odd-port": sc_implicit_tls_odd_port,
    "random-bytes-465": sc_random_bytes_465,
    "port-probe": sc_port_probe,
    "plain-session": sc_plain_session,
    "message-in-segments": sc_message_in_segments,
    "proxy-protocol-v1": sc_proxy_protocol_v1,
    "proxy-protocol-v2": sc_proxy_protocol_v2,
}


def main() -> None:
    global CERT, KEY, PORT, KEYLOG
    ap = argparse.ArgumentParser()
    ap.add_argument("scenario", choices=sorted(SCENARIOS))
    ap.add_argument("--port", type=int, default=25)
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--keylog", help="the client writes its TLS secrets here (implicit TLS scenarios)")
    a = ap.parse_args()
    CERT, KEY, PORT, KEYLOG = a.cert, a.key, a.port, a.keylog
    SCENARIOS[a.scenario]()


if __name__ == "__main__":
    main()
