"""Packets of a whole capture → finished sessions, released in capture order.

Each TCP stream gets its own `SessionMachine`; a session is handed on as soon as it
is closed and every session that started before it has been handed on, so memory
does not grow with the number of sessions in the capture.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from smtpdoc.builder import number
from smtpdoc.model import Session, Step
from smtpdoc.packets import Packet
from smtpdoc.session import OTHER_TLS_PORTS, Options, Redissect, SessionMachine


class Demux:
    """Packets of a whole capture → finished Sessions, in order of their first frame."""

    def __init__(self, options: Options | None = None, can_decrypt: Callable[[], bool] | None = None) -> None:
        self.options = options or Options()
        # Are there TLS keys (a key log, or secrets in the capture)? Asked only when an
        # implicit-TLS session could be read again with them.
        self.can_decrypt = can_decrypt or (lambda: False)
        self.machines: dict[int, SessionMachine] = {}
        self.order: list[int] = []  # streams by first frame, not yet released
        self.done: dict[int, Session] = {}
        self.closed_streams: set[int] = set()
        self.index = 0
        # Streams waiting for a second tshark pass with a decode-as (stream → how). Later
        # sessions wait behind them, so order is kept; this only happens for SMTP with TLS
        # on a port tshark does not know.
        self.held: dict[int, Redissect] = {}

    def feed(self, packet: Packet) -> tuple[Session, ...]:
        """The sessions this packet lets go (most packets: none). A tuple, not a generator: this
        runs for every packet, and most of them release nothing."""
        machine = self.machines.get(packet.stream)
        if machine is None:
            if packet.stream in self.closed_streams:
                return ()  # a late retransmission after the close
            machine = SessionMachine(packet.stream, self.options)
            self.machines[packet.stream] = machine
            self.order.append(packet.stream)
        machine.feed(packet)
        if machine.closed and self._both_sides_done(machine):
            self._finish(packet.stream)
            return tuple(self._release())
        return ()

    @staticmethod
    def _both_sides_done(machine: SessionMachine) -> bool:
        return machine.reset or (len(machine.fins) == 2 and not machine.reading_message)

    def _finish(self, stream: int) -> None:
        machine = self.machines.pop(stream)
        self.closed_streams.add(stream)
        session = self.done[stream] = machine.finish()
        redo = machine.needs_decode_as()
        if redo is not None and redo.implicit_tls and not (_implicit_tls(session) and self.can_decrypt()):
            redo = None  # no keys, or not SMTP: nothing more to read inside
        if redo is not None:
            self.held[stream] = redo

    def _release(self) -> Iterator[Session]:
        while self.order and self.order[0] in self.done and self.order[0] not in self.held:
            session = self.done.pop(self.order.pop(0))
            if is_smtp(session, self.options):
                self.index += 1
                number(session, self.index)
                yield session

    def close(self) -> Iterator[Session]:
        for stream in list(self.machines):
            self._finish(stream)
        yield from self._release()

    def resolve(self, sessions: dict[int, Session]) -> Iterator[Session]:
        """Replace held sessions by their second-pass versions (or keep the first), release all."""
        for stream in list(self.held):
            if stream in sessions:
                self.done[stream] = sessions[stream]
            del self.held[stream]
        yield from self._release()


def run_streams(packets: Iterable[Packet], options: Options) -> dict[int, Session]:
    """Every stream's session from a finite set of packets (for a second, focused pass)."""
    machines: dict[int, SessionMachine] = {}
    for packet in packets:
        machine = machines.get(packet.stream)
        if machine is None:
            machine = machines[packet.stream] = SessionMachine(packet.stream, options)
        machine.feed(packet)
    return {stream: machine.finish() for stream, machine in machines.items()}


def is_smtp(session: Session, options: Options) -> bool:
    """Is this stream an SMTP session (port or content), as opposed to other TCP?"""
    tunnel = next((st for st in session.steps if st.name == "tunnel"), None)
    if tunnel is not None:
        return _tunnelled_smtp(session, tunnel, options)
    if session.server.port in options.smtp_ports or session.client.port in options.smtp_ports:
        return True
    if _implicit_tls(session):
        return True
    greeting = next((st for st in session.steps if st.name == "greeting"), None)
    if greeting is not None and greeting.facts.get("code") == 220:
        return True
    return any(st.name in ("ehlo", "mail_from") for st in session.steps) and not any(
        f.name == "not_smtp" for f in session.findings
    )


def _tunnelled_smtp(session: Session, tunnel: Step, options: Options) -> bool:
    """A proxy tunnel is SMTP when it was asked for an SMTP port, or carried a 220 greeting (or
    implicit TLS to a port no other TLS protocol owns); a tunnel to a web site is not."""
    target = tunnel.facts.get("target_port")
    if target in options.smtp_ports:
        return True
    greeting = next((st for st in session.steps if st.name == "greeting"), None)
    if greeting is not None and greeting.facts.get("code") == 220:
        return True
    return target not in OTHER_TLS_PORTS and _implicit_tls(session)


def _implicit_tls(session: Session) -> bool:
    """A ClientHello as the first bytes, on a port no other TLS protocol owns, offering no other protocol (ALPN)."""
    tls = session.tls
    if tls is None or not tls.implicit or tls.client_hello is None or session.server.port in OTHER_TLS_PORTS:
        return False
    offered = tls.client_hello.get("alpn") or ()
    return all(str(name).lower() == "smtp" for name in offered)
