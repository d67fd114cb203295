#!/usr/bin/env python3
"""aiosmtpd-based lab servers for the smtpdoc example captures.

Used only for the scenarios that a stock Postfix cannot produce on demand
(custom EHLO greeting line, refused/masked/missing STARTTLS, cleartext AUTH
with a known password).  Python's default server context refuses TLS < 1.2,
which the old-TLS-version alert capture relies on.  Loopback only.

    lab_server.py MODE HOST PORT [--cert CERT --key KEY] [--pidfile F]

MODE is one of:
  walkthrough  EHLO like the walkthrough ("250-<host> at your service, [<peer>]"),
               advertises SIZE 8BITMIME STARTTLS ENHANCEDSTATUSCODES PIPELINING
               CHUNKING SMTPUTF8, answers STARTTLS with "220 2.0.0 Ready to start TLS"
  auth         cleartext AUTH PLAIN / LOGIN / CRAM-MD5 (no TLS), one user:
               alice / s3cret-Passw0rd
  refused      advertises STARTTLS, answers it with
               "454 4.7.0 TLS not available due to local problem"
  masked       EHLO carries "250-XXXXXXXA" where STARTTLS would be
               (what a STARTTLS-stripping firewall produces)
  notls        no STARTTLS in the EHLO reply at all; STARTTLS sent anyway gets
               "502 5.5.1 Error: command not implemented"
  sasl         cleartext AUTH XOAUTH2 / SCRAM-SHA-256 (no TLS): XOAUTH2 takes the
               bearer token TOKEN for alice; SCRAM-SHA-256 is RFC 5802/7677, with
               a fresh salt per exchange, i=4096 and the password above
  starttls-again  like walkthrough, but the EHLO reply inside TLS lists STARTTLS
               again (which RFC 3207 forbids)
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import os
import secrets
import signal
import ssl
import time
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword, auth_mechanism

HOSTNAME = "mail.example.test"
USER = b"alice"
PASSWORD = b"s3cret-Passw0rd"
SIZE = 35882577
# The lab's OAuth 2.0 bearer token for alice (XOAUTH2); a made-up value, like the password.
TOKEN = b"ya29.smtpdoc-lab-Bearer-9qT4xVw2"
SCRAM_ITERATIONS = 4096

# aiosmtpd's built-in replies carry no enhanced status codes; add them for the
# common ones, since these servers advertise ENHANCEDSTATUSCODES.
ENHANCED = {
    "250 OK": "250 2.0.0 OK",
    "221 Bye": "221 2.0.0 Bye",
    "354 End data with <CR><LF>.<CR><LF>": "354 End data with <CR><LF>.<CR><LF>",
    "220 Ready to start TLS": "220 2.0.0 Ready to start TLS",
    "250 Message accepted for delivery": "250 2.0.0 Ok: queued",
}


class Handler:
    def __init__(self, mode: str) -> None:
        self.mode = mode

    async def handle_EHLO(
        self,
        server: SMTP,
        session: Any,
        envelope: Any,
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        session.host_name = hostname
        peer = session.peer[0] if session.peer else "?"
        lines = [f"{HOSTNAME} at your service, [{peer}]"]
        lines.append(f"SIZE {SIZE}")
        lines.append("8BITMIME")
        tls_active = server._tls_protocol is not None
        if self.mode in ("walkthrough", "refused") and not tls_active:
            lines.append("STARTTLS")
        elif self.mode == "starttls-again":
            lines.append("STARTTLS")  # also inside TLS: the broken server of this mode
        elif self.mode == "masked":
            lines.append("XXXXXXXA")
        lines.append("ENHANCEDSTATUSCODES")
        lines.append("PIPELINING")
        if self.mode == "auth":
            lines.append("AUTH PLAIN LOGIN CRAM-MD5")
        elif self.mode == "sasl":
            lines.append("AUTH SCRAM-SHA-256 XOAUTH2")
        lines.append("CHUNKING")
        lines.append("SMTPUTF8")
        out = [f"250-{x}" for x in lines[:-1]] + [f"250 {lines[-1]}"]
        # One write, so the whole reply travels in one TCP segment like a real MTA.
        return ["\r\n".join(out)]

    async def handle_DATA(self, server: SMTP, session: Any, envelope: Any) -> str:
        qid = secrets.token_hex(5).upper()
        return f"250 2.0.0 Ok: queued as {qid}"


def authenticator(
    server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
) -> AuthResult:
    if isinstance(auth_data, LoginPassword):
        ok = auth_data.login == USER and auth_data.password == PASSWORD
    else:
        ok = bool(auth_data)
    if ok:
        return AuthResult(success=True, auth_data=auth_data)
    return AuthResult(success=False, handled=False)


class LabSMTP(SMTP):
    mode = "walkthrough"

    async def push(self, status: Any) -> None:
        if isinstance(status, str):
            status = ENHANCED.get(status, status)
        await super().push(status)

    async def smtp_STARTTLS(self, arg: str) -> None:
        if self.mode == "refused":
            await self.push("454 4.7.0 TLS not available due to local problem")
            return
        if self.mode == "starttls-again" and self._tls_protocol is not None:
            await self.push("503 5.5.1 Error: TLS already active")
            return
        if self.mode in ("masked", "notls", "auth", "sasl"):
            await self.push("502 5.5.1 Error: command not implemented")
            return
        await super().smtp_STARTTLS(arg)

    async def smtp_BDAT(self, arg: str) -> None:
        await self.push("502 5.5.1 BDAT not implemented by this lab server")

    @auth_mechanism("CRAM-MD5")
    async def auth_CRAM_MD5(self, _: Any, args: list[str]) -> AuthResult:
        challenge = f"<{os.getpid()}.{int(time.time())}@{HOSTNAME}>".encode()
        blob = await self.challenge_auth(challenge)
        if not isinstance(blob, bytes):
            return AuthResult(success=False, handled=False)
        try:
            user, digest = blob.decode().rsplit(" ", 1)
        except ValueError:
            return AuthResult(success=False, handled=False)
        want = hmac.new(PASSWORD, challenge, hashlib.md5).hexdigest()
        if user.encode() == USER and hmac.compare_digest(digest, want):
            return AuthResult(success=True, auth_data=user)
        return AuthResult(success=False, handled=False)

    async def _initial(self, args: list[str]) -> bytes | None:
        """The RFC 4954 initial response, or the answer to an empty "334 " challenge."""
        if len(args) > 1:
            if args[1] == "=":
                return b""
            try:
                return base64.b64decode(args[1], validate=True)
            except ValueError:
                await self.push("501 5.5.2 Can't decode base64")
                return None
        blob = await self.challenge_auth(b"")
        return blob if isinstance(blob, bytes) else None

    @auth_mechanism("XOAUTH2")
    async def auth_XOAUTH2(self, _: Any, args: list[str]) -> AuthResult:
        """user=alice^Aauth=Bearer TOKEN^A^A (Google's and Microsoft's SASL XOAUTH2)."""
        blob = await self._initial(args)
        if blob is None:
            return AuthResult(success=False, handled=True)
        fields = dict(part.split(b"=", 1) for part in blob.split(b"\x01") if b"=" in part)
        if fields.get(b"user") == USER and hmac.compare_digest(fields.get(b"auth", b""), b"Bearer " + TOKEN):
            return AuthResult(success=True, auth_data=USER.decode())
        # The provider's way: a JSON error in a 334, the client answers with an empty line.
        error = b'{"status":"401","schemes":"Bearer","scope":"https://mail.example.test/"}'
        await self.challenge_auth(error)
        return AuthResult(success=False, handled=False)

    @auth_mechanism("SCRAM-SHA-256")
    async def auth_SCRAM_SHA_256(self, _: Any, args: list[str]) -> AuthResult:
        """RFC 5802 / RFC 7677, server side, for the one lab user."""
        first = await self._initial(args)
        if first is None:
            return AuthResult(success=False, handled=True)
        gs2 = b"n,,"  # no channel binding, no authzid
        bare = first[len(gs2) :]
        attrs = dict(p.split(b"=", 1) for p in bare.split(b",") if b"=" in p)
        if not first.startswith(gs2) or attrs.get(b"n") != USER or not attrs.get(b"r"):
            return AuthResult(success=False, handled=False)
        nonce = attrs[b"r"] + base64.b64encode(secrets.token_bytes(18))
        salt = secrets.token_bytes(16)
        server_first = b"r=" + nonce + b",s=" + base64.b64encode(salt) + b",i=%d" % SCRAM_ITERATIONS
        final = await self.challenge_auth(server_first)
        if not isinstance(final, bytes):
            return AuthResult(success=False, handled=True)
        without_proof, _, proof_b64 = final.rpartition(b",p=")
        fattrs = dict(p.split(b"=", 1) for p in without_proof.split(b",") if b"=" in p)
        if fattrs.get(b"c") != base64.b64encode(gs2) or fattrs.get(b"r") != nonce:
            return AuthResult(success=False, handled=False)
        salted = hashlib.pbkdf2_hmac("sha256", PASSWORD, salt, SCRAM_ITERATIONS)
        client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
        stored_key = hashlib.sha256(client_key).digest()
        auth_message = bare + b"," + server_first + b"," + without_proof
        signature = hmac.new(stored_key, auth_message, hashlib.sha256).digest()
        try:
            proof = base64.b64decode(proof_b64, validate=True)
        except ValueError:
            return AuthResult(success=False, handled=False)
        if not hmac.compare_digest(bytes(a ^ b for a, b in zip(client_key, signature, strict=True)), proof):
            return AuthResult(success=False, handled=False)
        server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
        verifier = hmac.new(server_key, auth_message, hashlib.sha256).digest()
        # SMTP has no "success with data": server-final goes in a 334, answered by an empty line.
        done = await self.challenge_auth(b"v=" + base64.b64encode(verifier))
        if not isinstance(done, bytes):
            return AuthResult(success=False, handled=True)  # "*" or bad base64: 501 already sent
        if done != b"":
            return AuthResult(success=False, handled=False)
        return AuthResult(success=True, auth_data=USER.decode())


def make_tls(cert: str, key: str) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)  # TLS 1.2 minimum by default
    ctx.load_cert_chain(cert, key)
    return ctx


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument(
        "mode",
        choices=["walkthrough", "auth", "refused", "masked", "notls", "sasl", "starttls-again"],
    )
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("--cert")
    ap.add_argument("--key")
    a = ap.parse_args()
    if a.host not in ("127.0.0.1", "::1"):
        raise SystemExit("loopback only")

    tls = None
    if a.mode in ("walkthrough", "refused", "starttls-again"):
        if not (a.cert and a.key):
            raise SystemExit("--cert/--key needed for this mode")
        tls = make_tls(a.cert, a.key)

    handler = Handler(a.mode)
    LabSMTP.mode = a.mode

    def factory() -> SMTP:
        return LabSMTP(
            handler,
            hostname=HOSTNAME,
            ident="ESMTP smtpdoc-lab",
            tls_context=tls,
            data_size_limit=SIZE,
            enable_SMTPUTF8=True,
            decode_data=False,
            auth_require_tls=False,
            authenticator=authenticator,
        )

    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        factory, host=a.host, port=a.port, reuse_address=True
    )
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    server.close()
    await server.wait_closed()


if __name__ == "__main__":
    asyncio.run(main())
