"""The sans-IO session machine: packet events of one TCP stream → a Session.

Theory of operation
-------------------
A `SessionMachine` is fed the `Packet`s of one TCP stream in capture order
and never does I/O. It rebuilds both byte streams (client → server and
server → client) from TCP sequence numbers, so SMTP lines are cut from the
bytes themselves rather than from tshark's SMTP fields (which mis-read a
split STARTTLS, pipelined commands and BDAT). Complete lines drive a
`Dialogue` (smtpdoc.dialogue); every reply answers the oldest command still
waiting, which is also what RFC 2920 pipelining requires.

After "220" answers STARTTLS, or from the first byte on an implicit-TLS port,
the stream is TLS. Records then come from tshark's TLS dissection
(`Packet.tls`) and are sorted into the TLS handshake or the encrypted phase
by `smtpdoc.tls_phase`; decrypted bytes, when tshark had keys, feed a second, inner
dialogue whose steps are marked `inside_tls`.

Surprises are never raised: they become findings, named data with frames.
The machine fills the model's structure; the words come from the catalog
later (smtpdoc.explain); the findings that need the whole session come from
`smtpdoc.judge`. `smtpdoc.demux` hands the packets of many streams to their
machines and releases each finished session in capture order.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from smtpdoc import smtp_text
from smtpdoc.dialogue import Dialogue
from smtpdoc.dialogue_types import Mode, Side
from smtpdoc.judge import judge
from smtpdoc.model import Endpoint, Finding, Session, Step, TlsSummary
from smtpdoc.packets import (
    APPLICATION_DATA,
    Alert,
    Certificate,
    ClientHello,
    Packet,
    ServerHello,
)
from smtpdoc.reassembly import Chunk
from smtpdoc.tls_phase import TLS12, TLS13, TlsPhase

SMTP_PORTS = frozenset({25, 587, 465})
IMPLICIT_TLS_PORTS = frozenset({465})
_CLOSE_NOTIFY = 0


@dataclass
class _Handshake:
    syn: Packet | None = None
    synack: Packet | None = None
    ack: Packet | None = None


@dataclass
class Options:
    reveal_secrets: bool = False
    smtp_ports: frozenset[int] = SMTP_PORTS
    implicit_tls_ports: frozenset[int] = IMPLICIT_TLS_PORTS


class SessionMachine:
    def __init__(self, stream: int, options: Options | None = None) -> None:
        self.options = options or Options()
        self.stream = stream
        self.session: Session = Session(
            index=0,
            stream=stream,
            client=Endpoint("", 0),
            server=Endpoint("", 0),
            start=0.0,
            first_frame=0,
            last_frame=0,
        )
        self.started = False
        self.client_addr: tuple[str, int] | None = None
        self.outer = Dialogue(self, inside_tls=False)
        self.inner: Dialogue | None = None
        self.handshake = _Handshake()
        self.tls: TlsPhase | None = None
        self.tls_active = False
        self.starttls_requested = False
        self.fins: set[Side] = set()
        self.reset = False
        self.close_step: Step | None = None
        self.handshake_step: Step | None = None
        self.seen: dict[Side, int] = {Side.CLIENT: 0, Side.SERVER: 0}
        self.payload_seen: dict[Side, int] = {Side.CLIENT: 0, Side.SERVER: 0}
        self.not_smtp_seen = False
        self._findings: dict[tuple[str, str], Finding] = {}
        self.last_time = 0.0
        self._inside = False  # True while the inner (decrypted) dialogue is being read

    # -- helpers used by the dialogue ----------------------------------------------------
    @property
    def reveal_secrets(self) -> bool:
        return self.options.reveal_secrets

    def rel(self, time: float) -> float:
        return round(max(0.0, time - self.session.start), 6)

    def step(
        self,
        name: str,
        frames: list[int],
        time: float,
        side: Side,
        lines: list[str] | None = None,
        facts: dict[str, object] | None = None,
    ) -> Step:
        step = Step(
            name=name,
            frames=list(frames),
            time=time,
            direction=side.value,
            lines=lines or [],
            facts=dict(facts or {}),
            inside_tls=self._inside,
        )
        self.session.steps.append(step)
        self._assign(frames, name)
        return step

    def add_frames(self, step: Step, frames: Iterable[int]) -> None:
        for frame in frames:
            if frame not in step.frames:
                step.frames.append(frame)
        self._assign(step.frames, step.name)

    def _assign(self, frames: Iterable[int], name: str) -> None:
        for frame in frames:
            self.session.frame_steps.setdefault(frame, name)

    def finding(self, name: str, frames: list[int], detail: str = "") -> None:
        key = (name, detail) if name in ("error_reply",) else (name, "")
        existing = self._findings.get(key)
        if existing is not None:
            for frame in frames:
                if frame not in existing.frames:
                    existing.frames.append(frame)
            return
        found = Finding(name=name, frames=list(frames), detail=detail)
        self._findings[key] = found
        self.session.findings.append(found)

    def check_line(self, chunk: Chunk, limit: int, kind: str) -> None:
        if len(chunk.data) > limit:
            self.finding("line_too_long", chunk.frames, f"{kind} line of {len(chunk.data)} bytes (limit {limit})")
        problem = smtp_text.line_ending_problem(chunk.data)
        if problem:
            self.finding("bare_line_ending", chunk.frames, f"{problem} in a {kind} line")

    def check_text(self, chunk: Chunk, data: bytes) -> None:
        """Message text: bare CR/LF and over-long lines."""
        for line in data.split(b"\n"):
            if len(line) + 1 > smtp_text.MAX_TEXT_LINE:
                self.finding("line_too_long", chunk.frames, f"message line of {len(line) + 1} bytes (limit 1000)")
                break
        stripped = data.replace(b"\r\n", b"")
        kinds = [kind for kind, byte in (("bare LF", b"\n"), ("bare CR", b"\r")) if byte in stripped]
        if kinds:
            self.finding("bare_line_ending", chunk.frames, f"{' and '.join(kinds)} in the message")

    def not_smtp(self, chunk: Chunk, side: Side) -> None:
        if not self.not_smtp_seen:
            self.not_smtp_seen = True
            sample = smtp_text.text(chunk.data[:40]).strip()
            self.finding("not_smtp", chunk.frames, f"{side.value} sent {sample!r}")

    def server_silent(self) -> bool:
        return self.payload_seen[Side.SERVER] == 0

    def gap_in(self, frames: list[int]) -> bool:
        gaps = {g.frame for g in self.outer.client.gaps}
        return any(frame in gaps for frame in frames)

    # -- feeding -------------------------------------------------------------------------
    def feed(self, packet: Packet) -> None:
        if not self.started:
            self._start(packet)
        side = self._side(packet)
        self.seen[side] += 1
        self.session.last_frame = packet.number
        self.last_time = packet.time
        self._tcp_flags(packet, side)
        if packet.payload:
            self.payload_seen[side] += 1
        if self.tls is not None:
            self._tls_packet(packet, side)
        elif packet.payload or packet.ack:
            peer = self.outer.server if side is Side.CLIENT else self.outer.client
            if packet.ack and peer.acked(packet.ack_number):
                self.outer.pump()
            stream = self.outer.client if side is Side.CLIENT else self.outer.server
            if packet.syn:
                stream.start_at(packet.seq + 1)
            if stream.add(packet.seq, packet.payload, packet.number, packet.time):
                if self._looks_like_tls(packet, side):
                    self.start_tls(implicit=True, frame=packet.number)
                    self._tls_packet(packet, side, already_added=True)
                else:
                    self.outer.pump()
                    if self.tls is not None:
                        self._tls_leftover()

    def _start(self, packet: Packet) -> None:
        self.started = True
        self.session.start = packet.time
        self.session.first_frame = packet.number
        ports = self.options.smtp_ports
        if packet.syn and not packet.ack:
            client = (packet.src, packet.sport)
        elif packet.syn and packet.ack:
            client = (packet.dst, packet.dport)
        elif packet.dport in ports and packet.sport not in ports:
            client = (packet.src, packet.sport)
        elif packet.sport in ports and packet.dport not in ports:
            client = (packet.dst, packet.dport)
        elif packet.payload[:3].isdigit():
            client = (packet.dst, packet.dport)  # the server speaks first: "220 ..."
        else:
            client = (packet.src, packet.sport)
        self.client_addr = client
        if client == (packet.src, packet.sport):
            self.session.client = Endpoint(packet.src, packet.sport)
            self.session.server = Endpoint(packet.dst, packet.dport)
        else:
            self.session.client = Endpoint(packet.dst, packet.dport)
            self.session.server = Endpoint(packet.src, packet.sport)

    def _side(self, packet: Packet) -> Side:
        return Side.CLIENT if (packet.src, packet.sport) == self.client_addr else Side.SERVER

    def _looks_like_tls(self, packet: Packet, side: Side) -> bool:
        if self.outer.greeted or self.outer.commands:
            return False
        if packet.tls or packet.tls_layer:
            return True
        return self.session.server.port in self.options.implicit_tls_ports and packet.payload[:1] == b"\x16"

    # -- TCP -----------------------------------------------------------------------------
    def _tcp_flags(self, packet: Packet, side: Side) -> None:
        hs = self.handshake
        if packet.syn and not packet.ack and hs.syn is None:
            hs.syn = packet
            self._handshake_step(packet)
        elif packet.syn and packet.ack and hs.synack is None:
            hs.synack = packet
            self._handshake_step(packet)
        elif (
            side is Side.CLIENT
            and hs.synack is not None
            and hs.ack is None
            and packet.ack
            and not (packet.syn or packet.fin or packet.rst)
            and not packet.payload
        ):
            hs.ack = packet
            self._handshake_step(packet)
        if packet.fin or packet.rst:
            if packet.fin:
                self.fins.add(side)
            if packet.rst:
                self.reset = True
            how = "RST" if self.reset else "FIN"
            if self.close_step is None:
                self.close_step = self.step(
                    "close", [packet.number], self.rel(packet.time), side, facts={"how": how, "by": side.value}
                )
            else:
                self.add_frames(self.close_step, [packet.number])
                self.close_step.facts["how"] = how
                self.close_step.direction = "both"

    def _handshake_step(self, packet: Packet) -> None:
        hs = self.handshake
        if self.handshake_step is None:
            self.handshake_step = self.step("tcp_handshake", [packet.number], self.rel(packet.time), Side.CLIENT)
        else:
            self.add_frames(self.handshake_step, [packet.number])
        facts = self.handshake_step.facts
        facts["client"] = str(self.session.client)
        facts["server"] = str(self.session.server)
        if hs.syn is not None and hs.ack is not None:
            facts["rtt_ms"] = round((hs.ack.time - hs.syn.time) * 1000, 3)
        elif hs.syn is not None and hs.synack is not None:
            facts["rtt_ms"] = round((hs.synack.time - hs.syn.time) * 1000, 3)
        self.handshake_step.direction = "both"

    def needs_decode_as(self) -> int | None:
        """The server port to re-dissect as SMTP: SMTP went to TLS on a port tshark does not know.

        tshark may still find the TLS by its heuristics, but only a decode-as makes it hand
        the decrypted bytes to SMTP and read TLS from the right frame on.
        """
        port = self.session.server.port
        if port in self.options.smtp_ports or not self.outer.greeted or self.session.tls is None:
            return None
        return port

    @property
    def closed(self) -> bool:
        return self.reset or len(self.fins) == 2

    # -- TLS -----------------------------------------------------------------------------
    def start_tls(self, implicit: bool, frame: int | None = None) -> None:
        self.tls = TlsPhase()
        self.tls_active = True
        self.outer.mode = Mode.TLS
        self.session.tls = TlsSummary(implicit=implicit)
        if implicit:
            self.finding("implicit_tls", [frame] if frame else [], f"port {self.session.server.port}")

    def _tls_leftover(self) -> None:
        """Bytes read past the STARTTLS reply belong to TLS: hand them over."""
        for side, stream in ((Side.CLIENT, self.outer.client), (Side.SERVER, self.outer.server)):
            if len(stream):
                chunk = stream.take(len(stream))
                self._count(side, len(chunk.data))

    def _tls_packet(self, packet: Packet, side: Side, already_added: bool = False) -> None:
        assert self.tls is not None and self.session.tls is not None
        if packet.payload:
            # The connection's byte stream goes on through TLS: it still drops retransmissions.
            stream = self.outer.client if side is Side.CLIENT else self.outer.server
            if not already_added:
                stream.add(packet.seq, packet.payload, packet.number, packet.time)
            self._count(side, len(stream.take(len(stream)).data))
        for record in packet.tls:
            self._tls_record(packet, side, record.content_type, record.messages)
        if packet.payload and not packet.tls and packet.number not in self.session.frame_steps:
            # Continuation of a record tshark reassembled elsewhere: same phase as before.
            current = self.tls.encrypted if self.tls.established else self.tls.handshake
            if current is not None:
                self.add_frames(current, [packet.number])
            elif self.tls.handshake is None and not packet.tls_layer:
                self._tls_step("tls_handshake", packet, side)
        if packet.decrypted:
            self.session.tls.decrypted = True
        if packet.plaintext:
            self._inner(packet, side)

    def _count(self, side: Side, size: int) -> None:
        assert self.session.tls is not None
        self.session.tls.bytes[side.value] += size

    def _tls_record(self, packet: Packet, side: Side, ctype: int, messages: tuple[object, ...]) -> None:
        tls = self.tls
        summary = self.session.tls
        assert tls is not None and summary is not None
        for message in messages:
            if isinstance(message, ClientHello):
                summary.client_hello = {
                    "sni": message.sni,
                    "versions": list(message.versions),
                    "alpn": list(message.alpn),
                    "cipher_count": message.cipher_count,
                    "session_id": message.session_id,
                    "frame": packet.number,
                }
            elif isinstance(message, ServerHello):
                tls.version = message.version
                summary.server_hello = {
                    "version": message.version,
                    "cipher": message.cipher,
                    "alpn": message.alpn,
                    "frame": packet.number,
                }
                if message.version < TLS12:
                    self.finding("tls_old_version", [packet.number], f"0x{message.version:04x}")
                offered = (summary.client_hello or {}).get("session_id")
                echoed = message.version < TLS13 and message.session_id and message.session_id == offered
                if message.psk or echoed:
                    summary.resumed = True
                    self.finding("tls_resumed", [packet.number], "pre-shared key" if message.psk else "session id")
            elif isinstance(message, Certificate) and summary.certificate is None:
                summary.certificate = {
                    "subject": message.subject,
                    "issuer": message.issuer,
                    "not_before": message.not_before,
                    "not_after": message.not_after,
                    "frame": packet.number,
                }
            elif isinstance(message, Alert) and not message.encrypted:
                summary.alerts.append(
                    {
                        "level": message.level,
                        "description": message.description,
                        "frame": packet.number,
                        "by": side.value,
                    }
                )
                if message.description != _CLOSE_NOTIFY:
                    self.finding("tls_alert", [packet.number], f"alert {message.description}")
                    if message.level == 2 and not tls.established:
                        self.finding("tls_handshake_failure", [packet.number], f"fatal alert {message.description}")
        if ctype == APPLICATION_DATA:
            summary.records[side.value] += 1
        phase = tls.phase(side, ctype)
        summary.established = tls.established
        self._tls_step(phase, packet, side)

    def _tls_step(self, name: str, packet: Packet, side: Side) -> None:
        tls = self.tls
        assert tls is not None
        current = tls.handshake if name == "tls_handshake" else tls.encrypted
        if current is None:
            current = self.step(name, [packet.number], self.rel(packet.time), side)
            if name == "tls_handshake":
                tls.handshake = current
            else:
                tls.encrypted = current
        else:
            self.add_frames(current, [packet.number])
            if current.direction != side.value:
                current.direction = "both"

    def _inner(self, packet: Packet, side: Side) -> None:
        assert self.session.tls is not None and packet.plaintext is not None
        if self.inner is None:
            self.inner = Dialogue(self, inside_tls=True)
            # After STARTTLS the greeting came before TLS; with implicit TLS it comes inside.
            self.inner.greeted = self.outer.greeted
            self.inner.helo = self.outer.helo
        stream = self.inner.client if side is Side.CLIENT else self.inner.server
        seq = stream.next_seq if stream.next_seq is not None else 0
        stream.add(seq, packet.plaintext, packet.number, packet.time)
        self._inside = True
        try:
            self.inner.pump()
        finally:
            self._inside = False

    # -- the end -------------------------------------------------------------------------
    def finish(self) -> Session:
        """The capture (or this stream) ended: settle what is pending, judge the session."""
        for stream in (self.outer.client, self.outer.server):
            while stream.skip_hole():
                pass
        self.outer.pump()
        s = self.session
        s.duration = round(max(0.0, self.last_time - s.start), 6)
        for stream in (self.outer.client, self.outer.server):
            for gap in stream.gaps:
                self.finding("data_gap", [gap.frame], f"{gap.size} bytes missing")
        if self.outer.mode is Mode.DATA and self.outer.data_step is not None:
            self.outer._summarise(self.outer.data_step, truncated=True)
        if self.not_smtp_seen and not self.outer.greeted and self.tls is None:
            self._not_smtp_at_all()
        if self.tls is not None and self.tls.encrypted is not None and s.tls is not None:
            enc = self.tls.encrypted
            enc.facts.update(
                records=s.tls.records["client"] + s.tls.records["server"],
                bytes_c2s=s.tls.bytes["client"],
                bytes_s2c=s.tls.bytes["server"],
                duration=round(self._duration(enc), 3),
            )
        if self.tls is not None and self.tls.handshake is not None and s.tls is not None:
            hello = s.tls.server_hello or {}
            client_hello = s.tls.client_hello or {}
            self.tls.handshake.facts.update(
                version=hello.get("version"), cipher=hello.get("cipher"), sni=client_hello.get("sni")
            )
            if not self.tls.established and self.closed:
                self.finding(
                    "tls_handshake_failure", self.tls.handshake.frames[-1:], "closed before the handshake finished"
                )
        judge(self)
        s.steps.sort(key=lambda st: st.frames[0] if st.frames else 0)
        return s

    def _not_smtp_at_all(self) -> None:
        """The server never greeted and spoke something else: no SMTP step is real here.

        Words the client sent (an HTTP request line looks like a command) are not explained
        as SMTP; the TCP set-up and close still are, with one sentence on what was seen.
        """
        s = self.session
        kept = ("tcp_handshake", "close")
        s.steps = [st for st in s.steps if st.name in kept]
        s.frame_steps = {frame: name for frame, name in s.frame_steps.items() if name in kept}
        s.findings = [f for f in s.findings if f.name == "not_smtp"]
        s.transactions = []
        detail = s.findings[0].detail if s.findings else "no SMTP reply"
        s.notes.append(f"This connection does not speak SMTP ({detail}); only its TCP set-up and close are explained.")

    def _duration(self, step: Step) -> float:
        return self.last_time - (self.session.start + step.time)
