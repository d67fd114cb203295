#!/usr/bin/env python3
"""SMTP inside proxy tunnels, and tunnels refused, for the smtpdoc test captures (loopback only).

    tunnel_lab.py SCENARIO [--cert CERT --key KEY --keylog FILE]

Each scenario runs a small proxy (HTTP CONNECT, SOCKS5 with or without the RFC 1929 login,
SOCKS4a) and, behind it, messy_lab's scripted SMTP server on 127.0.0.1:25, with a hand-driven
client in the same process. The capture (make_examples.sh) holds only the client↔proxy leg.
Proxies and server accept nothing and store nothing; every target is 127.0.0.1 or
"localhost", which the SOCKS4a and SOCKS5 proxies look up as 127.0.0.1.
"""

from __future__ import annotations

import argparse
import base64
import os
import socket
import struct
import sys
import threading
from collections.abc import Callable

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import messy_lab  # noqa: E402
from lab_client import CLIENT_NAME, Raw  # noqa: E402
from messy_lab import EHLO_LINES, HOST, Conn, plain_mail, relay, serve, smtp_loop  # noqa: E402

PROXY_USER = "proxyuser"
PROXY_PASSWORD = "pr0xy-Secret"
KEYLOG: str | None = None


class Wire(Conn):
    """The proxy's side of the client connection (a server-side Conn): exact reads, and what was
    read past them."""

    def _more(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"client closed: {self.buf!r}")
        self.buf += chunk

    def read(self, n: int) -> bytes:
        while len(self.buf) < n:
            self._more()
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def until(self, end: bytes) -> bytes:
        while end not in self.buf:
            self._more()
        data, _, self.buf = self.buf.partition(end)
        return data + end


Handshake = Callable[[Wire], socket.socket | None]  # the upstream connection, or None: refused


def proxy(port: int, handshake: Handshake) -> threading.Thread:
    """Accept one client on 127.0.0.1:port; after its handshake relay both ways (bytes the client
    pipelined behind its request go upstream first), or close after a refusal."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((HOST, port))
    listener.listen(1)

    def run() -> None:
        sock, _ = listener.accept()
        listener.close()
        wire = Wire(sock)
        upstream = handshake(wire)
        if upstream is None:
            messy_lab.Conn(sock).close()
            return
        upstream.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if wire.buf:
            upstream.sendall(wire.buf)
        relay(sock, upstream)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def _lookup(host: str) -> str:
    """Only loopback targets: 'localhost' is 127.0.0.1, anything else must already be 127.0.0.1."""
    address = "127.0.0.1" if host == "localhost" else host
    assert address == HOST, host
    return address


def _connect(host: str, port: int) -> socket.socket | None:
    try:
        return socket.create_connection((_lookup(host), port), timeout=5)
    except ConnectionRefusedError:
        return None


# --------------------------------------------------------------------------
# the proxies
# --------------------------------------------------------------------------
def http_connect(answer_refused: bytes | None = None, need_login: bool = False, coalesce: bool = False) -> Handshake:
    """RFC 9110 §9.3.6: CONNECT host:port, headers up to a blank line; 200 opens the tunnel."""

    def handshake(w: Wire) -> socket.socket | None:
        head = w.until(b"\r\n\r\n").decode()
        target = head.split(" ")[1]
        if answer_refused is not None:
            w.sock.sendall(answer_refused)
            return None
        if need_login:
            token = base64.b64encode(f"{PROXY_USER}:{PROXY_PASSWORD}".encode()).decode()
            assert f"Proxy-Authorization: Basic {token}" in head, head
        host, _, port = target.rpartition(":")
        upstream = _connect(host, int(port))
        assert upstream is not None
        answer = b"HTTP/1.1 200 Connection established\r\nProxy-Agent: smtpdoc-lab\r\n\r\n"
        if coalesce:  # the server's greeting in the same segment as the proxy's 200
            answer += upstream.recv(65536)
        w.sock.sendall(answer)
        return upstream

    return handshake


def socks5(login: bool = False, short_refusal: bool = False) -> Handshake:
    """RFC 1928 (and RFC 1929's username/password when `login`)."""

    def handshake(w: Wire) -> socket.socket | None:
        version, count = w.read(2)
        assert version == 5
        methods = w.read(count)
        method = 2 if login else 0
        assert method in methods, methods
        w.sock.sendall(bytes([5, method]))
        if login:
            assert w.read(1) == b"\x01"
            user = w.read(w.read(1)[0]).decode()
            password = w.read(w.read(1)[0]).decode()
            ok = (user, password) == (PROXY_USER, PROXY_PASSWORD)
            w.sock.sendall(b"\x01" + (b"\x00" if ok else b"\x01"))
            if not ok:
                return None
        head = w.read(4)
        assert head[:3] == b"\x05\x01\x00", head
        if head[3] == 1:
            host = socket.inet_ntoa(w.read(4))
        elif head[3] == 3:
            host = w.read(w.read(1)[0]).decode()
        else:
            host = socket.inet_ntop(socket.AF_INET6, w.read(16))
        port = struct.unpack(">H", w.read(2))[0]
        upstream = _connect(host, port)
        if upstream is None:  # 0x05: connection refused (RFC 1928 §6)
            if short_refusal:  # as some small proxies do: the version and code, no address
                w.sock.sendall(b"\x05\x05")
                return None
            w.sock.sendall(b"\x05\x05\x00\x01" + socket.inet_aton("0.0.0.0") + struct.pack(">H", 0))
            return None
        bound_host, bound_port = upstream.getsockname()[:2]
        w.sock.sendall(b"\x05\x00\x00\x01" + socket.inet_aton(bound_host) + struct.pack(">H", bound_port))
        return upstream

    return handshake


def socks4(w: Wire) -> socket.socket | None:
    """SOCKS4, and 4a: address 0.0.0.x and the target's name after the user id."""
    head = w.read(8)
    assert head[:2] == b"\x04\x01", head
    port = struct.unpack(">H", head[2:4])[0]
    w.until(b"\0")  # the user id
    host = socket.inet_ntoa(head[4:8])
    if head[4:7] == b"\0\0\0":
        host = w.until(b"\0")[:-1].decode()
    upstream = _connect(host, port)
    code = 0x5A if upstream is not None else 0x5B
    w.sock.sendall(bytes([0, code]) + struct.pack(">H", port) + socket.inet_aton(_lookup(host)))
    return upstream


# --------------------------------------------------------------------------
# scenarios
# --------------------------------------------------------------------------
CONNECT = b"CONNECT 127.0.0.1:25 HTTP/1.1\r\nHost: 127.0.0.1:25\r\n"


def _wait_closed(c: Raw) -> bytes:
    data = c.until_closed()
    c.sock.close()
    return data


def sc_http_connect_refused() -> None:
    """An HTTP proxy on 8080 wants a login: the client (spam-bot style) sends CONNECT and its EHLO
    in one segment; the proxy answers 407 and closes. No SMTP server is reached."""
    refusal = (
        b"HTTP/1.1 407 Proxy Authentication Required\r\n"
        b'Proxy-Authenticate: Basic realm="smtpdoc-lab"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n'
    )
    t = proxy(8080, http_connect(answer_refused=refusal))
    c = Raw(HOST, 8080)
    c.send(CONNECT + b"\r\n" + f"EHLO {CLIENT_NAME}\r\n".encode())
    assert _wait_closed(c).startswith(b"HTTP/1.1 407")
    t.join(10)


def sc_http_connect_starttls() -> None:
    """HTTP CONNECT with Proxy-Authorization: Basic on 8080, the client's EHLO pipelined behind
    its CONNECT (before the 200); inside the tunnel STARTTLS, TLS, and a mail inside TLS."""

    def starttls(c: Conn, arg: str) -> bool:
        c.send("220 2.0.0 Ready to start TLS")
        c.starttls()
        state["tls"] = True
        return True

    def ehlo(c: Conn, arg: str) -> bool:
        c.send(*EHLO_LINES[:-1], *([] if state["tls"] else ["250-STARTTLS"]), EHLO_LINES[-1])
        return True

    state = {"tls": False}
    srv = serve(25, lambda c: smtp_loop(c, hooks={"STARTTLS": starttls, "EHLO": ehlo}))
    t = proxy(8080, http_connect(need_login=True))
    c = Raw(HOST, 8080)
    token = base64.b64encode(f"{PROXY_USER}:{PROXY_PASSWORD}".encode())
    c.send(CONNECT + b"Proxy-Authorization: Basic " + token + b"\r\n\r\n" + f"EHLO {CLIENT_NAME}\r\n".encode())
    while b"\r\n\r\n" not in c.buf:
        c.buf += c.sock.recv(4096)
    status, _, c.buf = c.buf.partition(b"\r\n\r\n")
    assert status.startswith(b"HTTP/1.1 200"), status
    assert c.reply().startswith("220")
    assert "STARTTLS" in c.reply()
    assert c.cmd("STARTTLS").startswith("220")
    c.starttls(KEYLOG)
    plain_mail(c, "STARTTLS inside an HTTP CONNECT tunnel")
    t.join(10)
    srv.join()


def sc_http_connect_coalesced() -> None:
    """HTTP CONNECT on 8080 whose proxy sends its 200 and the server's 220 greeting in one
    segment (a proxy that waits for the upstream's first bytes); the client sends CONNECT,
    waits, then an ordinary mail."""
    srv = serve(25, lambda c: smtp_loop(c))
    t = proxy(8080, http_connect(coalesce=True))
    c = Raw(HOST, 8080)
    c.send(CONNECT + b"\r\n")
    while b"\r\n\r\n" not in c.buf:
        c.buf += c.sock.recv(4096)
    status, _, c.buf = c.buf.partition(b"\r\n\r\n")
    assert status.startswith(b"HTTP/1.1 200"), status
    assert c.reply().startswith("220")
    plain_mail(c, "greeting in the proxy's answer segment")
    t.join(10)
    srv.join()


def sc_socks5_refused() -> None:
    """SOCKS5 on 1080, CONNECT to 127.0.0.1:25 where nothing listens in this scenario: the
    proxy's own connection is refused, and it answers 0x05 (connection refused, RFC 1928 §6)."""
    t = proxy(1080, socks5())
    c = Raw(HOST, 1080)
    c.send(b"\x05\x01\x00")
    assert c.sock.recv(2) == b"\x05\x00"
    c.send(b"\x05\x01\x00\x01" + socket.inet_aton(HOST) + struct.pack(">H", 25))
    assert _wait_closed(c)[:2] == b"\x05\x05"
    t.join(10)


def sc_socks5_refused_short() -> None:
    """SOCKS5 on 1080, CONNECT to 127.0.0.1:25 where nothing listens: the proxy writes only
    `05 05` (version, connection refused) and closes, without the address RFC 1928 §6 asks for."""
    t = proxy(1080, socks5(short_refusal=True))
    c = Raw(HOST, 1080)
    c.send(b"\x05\x01\x00")
    assert c.sock.recv(2) == b"\x05\x00"
    c.send(b"\x05\x01\x00\x01" + socket.inet_aton(HOST) + struct.pack(">H", 25))
    assert _wait_closed(c) == b"\x05\x05"
    t.join(10)


def sc_http_connect_status_only() -> None:
    """An HTTP proxy on 8080 answers CONNECT with only a status line, `HTTP/1.0 403 Forbidden`,
    and closes: no headers, no blank line."""
    t = proxy(8080, http_connect(answer_refused=b"HTTP/1.0 403 Forbidden\r\n"))
    c = Raw(HOST, 8080)
    c.send(CONNECT + b"\r\n")
    assert _wait_closed(c) == b"HTTP/1.0 403 Forbidden\r\n"
    t.join(10)


def sc_socks5_login() -> None:
    """SOCKS5 on 1080 with the RFC 1929 username/password login, the target named 'localhost'
    (address type 3); then an ordinary mail through the tunnel."""
    srv = serve(25, lambda c: smtp_loop(c))
    t = proxy(1080, socks5(login=True))
    c = Raw(HOST, 1080)
    c.send(b"\x05\x02\x00\x02")
    assert c.sock.recv(2) == b"\x05\x02"
    user, password = PROXY_USER.encode(), PROXY_PASSWORD.encode()
    c.send(b"\x01" + bytes([len(user)]) + user + bytes([len(password)]) + password)
    assert c.sock.recv(2) == b"\x01\x00"
    c.send(b"\x05\x01\x00\x03\x09localhost" + struct.pack(">H", 25))
    assert c.sock.recv(10)[:2] == b"\x05\x00"
    c.reply()
    plain_mail(c, "through a SOCKS5 tunnel with a login")
    t.join(10)
    srv.join()


def sc_socks4a_tunnel() -> None:
    """SOCKS4a on 1080 (spam-bot style: user id 'bot', the target named 'localhost'), then HELO
    and one mail."""
    srv = serve(25, lambda c: smtp_loop(c))
    t = proxy(1080, socks4)
    c = Raw(HOST, 1080)
    c.send(b"\x04\x01" + struct.pack(">H", 25) + b"\x00\x00\x00\x01" + b"bot\x00localhost\x00")
    answer = c.sock.recv(8)
    assert answer[:2] == b"\x00\x5a", answer
    c.reply()
    c.cmd(f"HELO {CLIENT_NAME}")
    plain_mail(c, "through a SOCKS4a tunnel", ehlo=False)
    t.join(10)
    srv.join()


SCENARIOS: dict[str, Callable[[], None]] = {
    "http-connect-refused": sc_http_connect_refused,
    "http-connect-starttls": sc_http_connect_starttls,
    "http-connect-coalesced": sc_http_connect_coalesced,
    "socks5-refused": sc_socks5_refused,
    "socks5-refused-short": sc_socks5_refused_short,
    "http-connect-status-only": sc_http_connect_status_only,
    "socks5-login": sc_socks5_login,
    "socks4a-tunnel": sc_socks4a_tunnel,
}


def main() -> None:
    global KEYLOG
    ap = argparse.ArgumentParser()
    ap.add_argument("scenario", choices=sorted(SCENARIOS))
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--keylog")
    a = ap.parse_args()
    messy_lab.CERT, messy_lab.KEY, KEYLOG = a.cert, a.key, a.keylog
    SCENARIOS[a.scenario]()


if __name__ == "__main__":
    main()
