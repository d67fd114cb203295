"""What each proxy-tunnel set-up message records (the transition table's tunnel actions).

All the set-up messages make one step, `tunnel`: its transcript (HTTP's head as sent, the
SOCKS messages in words from tunnel.toml), the proxy, the target and the proxy's answer.
Credentials for the proxy (a SOCKS5 login, HTTP's Proxy-Authorization) are redacted unless
secrets are to be shown, as AUTH's are. None of the actions changes the dialogue's mode.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from smtpdoc.catalog.rules import Action
from smtpdoc.catalog.tunnel_words import TunnelWords, load_tunnel_words
from smtpdoc.dialogue_state import REDACTED, DialogueState
from smtpdoc.events import CLIENT
from smtpdoc.model import Step
from smtpdoc.smtp_text import with_decoded
from smtpdoc.tunnel import TunnelMessage

_WORDS: TunnelWords = load_tunnel_words()


def _target(host: str | None, port: int | None) -> str:
    shown = f"[{host}]" if host and ":" in host else (host or "?")
    return f"{shown}:{port}" if port is not None else shown


def _code_words(kind: str, code: int) -> str:
    """A SOCKS reply or an HTTP status in words (for HTTP, by its class digit)."""
    if kind == "http":
        return _WORDS.http_classes.get(code // 100, _WORDS.lines["unknown_code"].format(protocol="HTTP"))
    table = _WORDS.socks5_replies if kind == "socks5" else _WORDS.socks4_replies
    return table.get(code, _WORDS.lines["unknown_code"].format(protocol=_WORDS.protocols[kind]))


def _kind(step: Step) -> str:
    return str(step.facts["kind"])


def _line(st: DialogueState, step: Step, name: str, **facts: Any) -> None:
    st.builder.lines(step, _WORDS.lines[name].format(protocol=step.facts["protocol"], **facts))


def _credentials(st: DialogueState, step: Step, m: TunnelMessage, how: str) -> None:
    detail = _WORDS.details["credentials"].format(protocol=step.facts["protocol"], how=_WORDS.details[how])
    st.builder.finding("proxy_credentials", m.frames, detail)


def _http_head(st: DialogueState, step: Step, m: TunnelMessage, side: str) -> None:
    for i, line in enumerate(m.lines):
        if i == m.secret_line and i:
            name, _, value = line.partition(":")
            scheme, _, token = value.strip().partition(" ")
            shown = with_decoded(token) if st.link.reveal_secrets else REDACTED
            line = f"{name}: {scheme} {shown}"
        st.builder.lines(step, f"{side}: {line}".rstrip())


def _request(st: DialogueState, step: Step, m: TunnelMessage) -> None:
    target = _target(m.host, m.port)
    st.builder.facts(step, target=target, target_port=m.port)
    kind = _kind(step)
    if kind == "http":
        _http_head(st, step, m, "C")
        if m.secret_line is not None:
            _credentials(st, step, m, "http_basic" if m.user is not None else "http_other")
        return
    if m.socks4a:
        st.builder.facts(step, kind="socks4a", protocol=_WORDS.protocols["socks4a"], variant="socks4a")
    if m.user:
        _line(st, step, "request_user", target=target, user=m.user)
    else:
        _line(st, step, "request", target=target)


def _answer(st: DialogueState, step: Step, m: TunnelMessage) -> None:
    kind = _kind(step)
    code = m.code if m.code is not None else 0
    if kind == "http":
        _http_head(st, step, m, "S")
        answer = f"{code} {m.phrase}".rstrip() + f" ({_code_words(kind, code)})"
    else:
        answer = f"0x{code:02x}, {_code_words(kind, code)}"
        words = _code_words(kind, code)
        if m.host and m.granted and kind == "socks5":  # SOCKS4's reply address means nothing for CONNECT
            _line(st, step, "answer_bound", code=f"0x{code:02x}", words=words, bound=_target(m.host, m.port))
        else:
            _line(st, step, "answer", code=f"0x{code:02x}", words=words)
    if m.cut:
        _line(st, step, "answer_cut")
        answer += _WORDS.lines["answer_cut_note"]
    st.builder.facts(step, code=code, answer=answer)


def _message(st: DialogueState, m: TunnelMessage) -> Step:
    step = st.tunnel_step
    assert step is not None
    st.builder.add_frames(step, m.frames)
    st.builder.direction(step, m.side)
    if m.part == "offer":
        methods = ", ".join(_WORDS.socks5_methods.get(n, f"0x{n:02x}") for n in m.methods)
        _line(st, step, "offer", methods=methods)
    elif m.part == "choice":
        code = m.code if m.code is not None else 0
        _line(st, step, "choice", method=_WORDS.socks5_methods.get(code, f"0x{code:02x}"))
        if m.granted is False:
            st.builder.facts(step, code=code, answer=f"0x{code:02x}, {_WORDS.socks5_methods.get(code, '?')}")
    elif m.part == "login":
        shown = st.link.reveal_secrets
        _line(st, step, "login", user=m.user if shown else REDACTED, password=m.secret if shown else REDACTED)
        _credentials(st, step, m, "socks5_login")
    elif m.part == "login_status":
        outcome = _WORDS.lines["login_refused" if m.granted is False else "login_accepted"]
        _line(st, step, "login_status", code=m.code, outcome=outcome)
        if m.granted is False:
            st.builder.facts(step, code=m.code, answer=f"login status {m.code}, {outcome}")
    elif m.part == "request":
        _request(st, step, m)
    elif m.part == "answer":
        _answer(st, step, m)
    return step


def tunnel_request(st: DialogueState, m: TunnelMessage) -> None:
    """The client's first set-up message: the tunnel step begins."""
    assert st.tunnel is not None
    kind = st.tunnel.protocol
    proxy = str(st.builder.session.server)
    time = st.builder.rel(m.time)
    st.tunnel_step = st.step(
        "tunnel", m.frames, time, CLIENT, kind=kind, protocol=_WORDS.protocols[kind], proxy=proxy, variant=kind
    )
    _message(st, m)


def tunnel_message(st: DialogueState, m: TunnelMessage) -> None:
    _message(st, m)


def tunnel_open(st: DialogueState, m: TunnelMessage) -> None:
    """The proxy opened the tunnel: what follows is the tunnelled stream (SMTP from its greeting)."""
    step = _message(st, m)
    facts = {k: step.facts.get(k, "?") for k in ("protocol", "target", "proxy")}
    st.builder.finding("proxy_tunnel", step.frames[:1], _WORDS.details["tunnel"].format(**facts))
    st.tunnel = None


def tunnel_refused(st: DialogueState, m: TunnelMessage) -> None:
    """The proxy refused: no tunnel, so nothing after this is SMTP."""
    step = _message(st, m)
    st.builder.facts(step, variant=f"{_kind(step)}_refused")
    facts = {k: step.facts.get(k, "?") for k in ("protocol", "target", "answer")}
    st.builder.finding("proxy_tunnel_refused", m.frames, _WORDS.details["tunnel_refused"].format(**facts))


def tunnel_not_proxy(st: DialogueState, m: TunnelMessage) -> None:
    """The server answered, but not as a proxy: its bytes are read as SMTP again."""
    step = st.tunnel_step
    assert step is not None
    st.builder.facts(step, variant="not_proxy", answer=None)
    st.tunnel = None


def proxy_header(st: DialogueState, m: TunnelMessage) -> None:
    """A load balancer's PROXY header: one step naming the client it speaks for; SMTP goes on.
    A header that could not be read (granted False) records nothing: SMTP reads its bytes."""
    st.tunnel = None
    if not m.granted:
        return
    variant = "local" if m.local else f"v{m.version}"
    facts: dict[str, Any] = {"version": m.version, "variant": variant, "balancer": str(st.builder.session.client)}
    if not m.local:
        facts.update(source=_target(m.host, m.port), destination=_target(m.to_host, m.to_port))
    if m.lines:
        lines = [f"C: {line}" for line in m.lines]  # version 1: the text line as sent
    else:
        lines = [_WORDS.lines["proxy_v2_local" if m.local else "proxy_v2"].format(**facts)]
    st.step("proxy_header", m.frames, st.builder.rel(m.time), CLIENT, lines=lines, **facts)


ACTIONS: dict[Action, Callable[[DialogueState, Any], None]] = {
    Action.TUNNEL_REQUEST: tunnel_request,
    Action.TUNNEL_MESSAGE: tunnel_message,
    Action.TUNNEL_OPEN: tunnel_open,
    Action.TUNNEL_REFUSED: tunnel_refused,
    Action.TUNNEL_NOT_PROXY: tunnel_not_proxy,
    Action.PROXY_HEADER: proxy_header,
}
