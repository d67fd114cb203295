"""The sans-IO session machine: packet events of one TCP stream → a Session.

Theory of operation
-------------------
A `SessionMachine` is fed the `Packet`s of one TCP stream in capture order
and never does I/O. It rebuilds both byte streams (client → server and
server → client) from TCP sequence numbers, so SMTP lines are cut from the
bytes themselves rather than from tshark's SMTP fields (which mis-read a
split STARTTLS, pipelined commands and BDAT). The bytes drive a `Dialogue`
(smtpdoc.dialogue): readers cut them into SMTP events, and the transition
table loaded from the catalog says what each event means.

After "220" answers STARTTLS, or from the first byte on an implicit-TLS port,
the stream is TLS. Records then come from tshark's TLS dissection
(`Packet.tls`) and are sorted into the TLS handshake or the encrypted phase
(smtpdoc.tls_records, smtpdoc.tls_phase); decrypted bytes, when tshark had
keys, feed a second, inner dialogue whose steps are marked `inside_tls`.

Surprises are never raised: they become findings, named data with frames.
A `SessionBuilder` (smtpdoc.builder) is the only writer of the Session; the
words come from the catalog later (smtpdoc.explain); the findings that need
the whole session come from `smtpdoc.judge`. `smtpdoc.demux` hands the
packets of many streams to their machines and releases each finished
session in capture order.
"""

from __future__ import annotations

from dataclasses import dataclass

from smtpdoc import judge, smtp_text, tls_records
from smtpdoc.builder import SessionBuilder
from smtpdoc.catalog.rules import State, load_rules
from smtpdoc.dialogue import Dialogue, Link
from smtpdoc.events import CLIENT, SERVER, Closed, Side
from smtpdoc.model import Endpoint, Session, Step
from smtpdoc.names import StepName
from smtpdoc.packets import ACK, APPLICATION_DATA, CHANGE_CIPHER_SPEC, FIN, HANDSHAKE, RST, SYN, Packet
from smtpdoc.reassembly import ByteStream
from smtpdoc.tls_phase import ENCRYPTED_STEP, HANDSHAKE_STEP, TlsPhase

_RULES = load_rules()
SMTP_PORTS = _RULES.smtp_ports
IMPLICIT_TLS_PORTS = _RULES.implicit_tls_ports
OTHER_TLS_PORTS = _RULES.other_tls_ports
_TLS_HANDSHAKE_BYTE = bytes([HANDSHAKE])  # a TLS record of a ClientHello starts with its content type
_KEPT_WHEN_NOT_SMTP: frozenset[StepName] = frozenset({"tcp_handshake", "close"})


@dataclass
class _Handshake:
    syn: Packet | None = None
    synack: Packet | None = None
    ack: Packet | None = None


@dataclass(frozen=True)
class Redissect:
    """A second pass over one stream: its server port read as SMTP, or as TLS carrying SMTP."""

    port: int
    implicit_tls: bool = False


@dataclass
class Options:
    reveal_secrets: bool = False
    smtp_ports: frozenset[int] = SMTP_PORTS
    implicit_tls_ports: frozenset[int] = IMPLICIT_TLS_PORTS


class SessionMachine:
    def __init__(self, stream: int, options: Options | None = None) -> None:
        self.options = options or Options()
        self.rules = _RULES
        self.b = SessionBuilder(stream, self.rules)
        self.session: Session = self.b.session  # read-only here: the builder writes it
        self.started = False
        self.client_addr: tuple[str, int] | None = None
        client = ByteStream(self.rules.max_pending_segments)
        self.link = Link(self.options.reveal_secrets, outer_client=client)
        self.outer = Dialogue(self.b, self.rules, self.link, inside_tls=False, client=client)
        self.inner: Dialogue | None = None
        self.handshake = _Handshake()
        self.tls: TlsPhase | None = None
        self.fins: set[Side] = set()
        self.reset = False
        self.closed = False  # a RST, or a FIN each way (kept by _closed: read for every packet)
        self.close_step: Step | None = None
        self.handshake_step: Step | None = None
        self.seen: dict[Side, int] = {CLIENT: 0, SERVER: 0}
        self.client_payloads = 0
        self.left_before_greeting: int | None = None  # the client's FIN/RST before any byte either way
        self.last_time = 0.0
        self.last_number = 0
        self.cut_frames: list[int] = []  # frames a snap length cut
        self.cut_bytes = 0
        self.snaplen = 0

    # -- feeding -------------------------------------------------------------------------
    def feed(self, packet: Packet) -> None:
        if not self.started:
            self._start(packet)
        side: Side = CLIENT if (packet.src, packet.sport) == self.client_addr else SERVER
        self.seen[side] += 1
        self.last_number = packet.number  # the session's last frame, written by finish
        self.last_time = packet.time
        flags = packet.flags  # tested as bits here, not through Packet's properties: this runs for every packet
        if flags & (SYN | FIN | RST) or self.handshake.ack is None:
            self._tcp_flags(packet, side)  # nothing to do there for most packets
            if flags & FIN and not packet.payload:
                (self.outer.client if side is CLIENT else self.outer.server).ends_at(packet.seq, packet.number)
        if packet.payload:
            if side is SERVER:
                self.link.server_payloads += 1
            else:
                self.client_payloads += 1
        tls = self.tls
        if tls is not None and self._encrypted_packet(tls, packet, side):
            return  # the common case of a long session, recorded at once
        if tls is not None and self._plaintext_where_tls_was_due(packet, side):
            self.tls = None
            self.outer.plaintext_after_starttls(packet.number)
        if self.tls is not None:
            self._tls_packet(packet, side)
        elif packet.payload or flags & ACK:
            peer = self.outer.server if side is CLIENT else self.outer.client
            if flags & ACK and peer.acked(packet.ack_number):
                self._pump_outer()
            stream = self.outer.client if side is CLIENT else self.outer.server
            if flags & SYN:
                stream.start_at(packet.seq + 1)
            if packet.cut:
                self.cut_frames.append(packet.number)
                self.cut_bytes += packet.cut
                self.snaplen = packet.snaplen
            if stream.add(packet.seq, packet.payload, packet.number, packet.time, packet.cut):
                st = self.outer.st
                if not (st.greeted or st.commands) and self._looks_like_tls(packet):
                    self._start_tls(implicit=not self._tls_midway(packet), frame=packet.number)
                    self._tls_packet(packet, side, already_added=True)
                elif side is CLIENT and self._client_hello_after_starttls(packet):
                    self._start_tls(implicit=False)
                    self.outer.tls_without_go_ahead(packet.number)
                    self._tls_packet(packet, side, already_added=True)
                else:
                    self._pump_outer()
                    if self.tls is not None:
                        self._tls_leftover()
                        if packet.tls:
                            # The 220 was read only now (it waited behind a hole): this packet's
                            # records are TLS's, its ClientHello the handshake's first frame.
                            self._tls_packet(packet, side, already_added=True)

    def _pump_outer(self) -> None:
        self.outer.pump()
        self._upgrade(self.outer)

    def _upgrade(self, dialogue: Dialogue) -> None:
        """A 220 answered STARTTLS: from here on the connection carries TLS."""
        if dialogue.st.upgraded:
            dialogue.st.upgraded = False
            self._start_tls(implicit=False)

    def _start(self, packet: Packet) -> None:
        self.started = True
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
        src, dst = Endpoint(packet.src, packet.sport), Endpoint(packet.dst, packet.dport)
        if client == (packet.src, packet.sport):
            self.b.start(packet.time, packet.number, client=src, server=dst)
        else:
            self.b.start(packet.time, packet.number, client=dst, server=src)

    def _looks_like_tls(self, packet: Packet) -> bool:
        """TLS from the first byte? The bytes say, not the port: a record tshark dissected, or a
        TLS record header (content type 20-23, version 3.x). Random bytes on 465 are no TLS; a
        ClientHello on 587, or on any port, is."""
        if self.outer.st.greeted or self.outer.st.commands:
            return False
        if packet.tls:
            return True
        head = packet.payload[:3]
        return len(head) == 3 and CHANGE_CIPHER_SPEC <= head[0] <= APPLICATION_DATA and head[1] == 3 and head[2] <= 4

    # -- TCP -----------------------------------------------------------------------------
    def _tcp_flags(self, packet: Packet, side: Side) -> None:
        hs = self.handshake
        flags = packet.flags  # tested bit by bit here: this runs for every packet
        if flags & SYN:
            if not flags & ACK:
                if hs.syn is None:
                    hs.syn = packet
                    self._handshake_step(packet)
            elif hs.synack is None:
                hs.synack = packet
                self._handshake_step(packet)
        elif (
            side is CLIENT
            and hs.synack is not None
            and hs.ack is None
            and flags & ACK
            and not flags & (FIN | RST)
            and not packet.payload
        ):
            hs.ack = packet
            self._handshake_step(packet)
        if flags & (FIN | RST):
            self._closed(Closed(side, packet.fin, packet.rst, packet.number, packet.time))

    def _closed(self, event: Closed) -> None:
        quiet = self.link.server_payloads == 0 and self.client_payloads == 0
        if event.side is CLIENT and quiet and self.left_before_greeting is None:
            self.left_before_greeting = event.frame
        if event.fin:
            self.fins.add(event.side)
        if event.reset:
            self.reset = True
        self.closed = self.reset or len(self.fins) == 2
        how = "RST" if self.reset else "FIN"
        if self.close_step is None:
            facts = {"how": how, "by": event.side}
            self.close_step = self.b.step("close", [event.frame], self.b.rel(event.time), event.side, facts=facts)
        else:
            self.b.add_frames(self.close_step, [event.frame])
            self.b.facts(self.close_step, how=how)
            self.b.set_direction(self.close_step, "both")

    def _handshake_step(self, packet: Packet) -> None:
        hs = self.handshake
        if self.handshake_step is None:
            self.handshake_step = self.b.step("tcp_handshake", [packet.number], self.b.rel(packet.time), CLIENT)
            # The endpoints are known from the first packet on: said once.
            self.b.facts(self.handshake_step, client=str(self.session.client), server=str(self.session.server))
        else:
            self.b.add_frames(self.handshake_step, [packet.number])
        step = self.handshake_step
        if hs.syn is not None and hs.ack is not None:
            self.b.facts(step, rtt_ms=round((hs.ack.time - hs.syn.time) * 1000, 3))
        elif hs.syn is not None and hs.synack is not None:
            self.b.facts(step, rtt_ms=round((hs.synack.time - hs.syn.time) * 1000, 3))
        self.b.set_direction(step, "both")

    def needs_decode_as(self) -> Redissect | None:
        """How to read this stream again: SMTP gone to TLS on a port tshark does not know (only a
        decode-as makes tshark hand the decrypted bytes to SMTP), or implicit TLS there that no
        SMTP was read inside (worth a pass only with keys: the caller knows)."""
        port, tls = self.session.server.port, self.session.tls
        if tls is None or port in self.options.smtp_ports:
            return None
        if tls.implicit and self.inner is None and port not in self.options.implicit_tls_ports:
            return Redissect(port, implicit_tls=True)
        return Redissect(port) if self.outer.st.greeted else None

    @property
    def reading_message(self) -> bool:
        """Is the client still sending a DATA message (a FIN may come before its last bytes)?"""
        return self.outer.mode is State.DATA

    # -- TLS -----------------------------------------------------------------------------
    def _plaintext_where_tls_was_due(self, packet: Packet, side: Side) -> bool:
        """After STARTTLS's 220, before any TLS record: does this packet carry SMTP text instead?"""
        tls, summary = self.tls, self.session.tls
        if tls is None or summary is None or summary.implicit or tls.handshake is not None:
            return False
        if not packet.payload or packet.tls or packet.tls_layer or packet.payload[:1] == _TLS_HANDSHAKE_BYTE:
            return False
        line = packet.payload.split(b"\n", 1)[0].rstrip(b"\r")
        if side is CLIENT:
            command = smtp_text.parse_command(line)
            return command is not None and command.well_formed
        return smtp_text.parse_reply_line(line) is not None

    def _client_hello_after_starttls(self, packet: Packet) -> bool:
        """A TLS handshake record from the client while its STARTTLS waits for a reply: a client
        starts TLS only after the 220 (RFC 3207 §4), so the 220 is missing from the capture (the
        hole in the server's bytes says so) and the connection is TLS from this packet on."""
        pending = self.outer.st.pending
        head = packet.payload[:3]
        if not pending or pending[-1].verb != "STARTTLS" or len(head) < 3:
            return False
        return head[0] == HANDSHAKE and head[1] == 3 and head[2] <= 4

    def _tls_midway(self, packet: Packet) -> bool:
        """Are the first bytes TLS records past the handshake (application data, say), on a port
        that is not implicit TLS's own? Then the capture began inside TLS: a handshake it does
        not show, after a STARTTLS as likely as not. TLS always opens with a handshake record."""
        if self.session.server.port in self.options.implicit_tls_ports:
            return False
        first = packet.tls[0].content_type if packet.tls else packet.payload[0]
        return first != HANDSHAKE

    def _start_tls(self, implicit: bool, frame: int | None = None) -> None:
        """TLS from here on: after STARTTLS's 220 (no frame), or from the first bytes (their frame)."""
        self.tls = TlsPhase()
        self.link.tls_active = True
        self.b.tls(implicit=implicit)
        if frame is not None:
            self.outer.implicit_tls(frame, midway=not implicit)
        if frame is not None and not implicit:
            self.tls.established = True  # records past the handshake: the encrypted phase is under way
            self.b.tls_established(True)

    def _tls_leftover(self) -> None:
        """Bytes read past the STARTTLS reply belong to TLS: hand them over."""
        sides: tuple[tuple[Side, ByteStream], ...] = ((CLIENT, self.outer.client), (SERVER, self.outer.server))
        for side, stream in sides:
            if len(stream):
                self.b.tls_bytes(side, stream.discard())

    def _encrypted_packet(self, tls: TlsPhase, packet: Packet, side: Side) -> bool:
        """Application data in an encrypted phase under way, in order, no keys: recorded at once
        (what `_tls_packet` would record, the same). False, with nothing done, for any other packet."""
        if packet.plaintext or packet.decrypted or not tls_records.encrypted_only(tls, packet.tls):
            return False
        stream = self.outer.client if side is CLIENT else self.outer.server
        size = len(packet.payload)
        if not stream.pass_through(packet.seq, size):
            return False
        assert tls.encrypted is not None
        self.b.encrypted_records(tls.encrypted, side, len(packet.tls), size, packet.number)
        return True

    def _tls_packet(self, packet: Packet, side: Side, already_added: bool = False) -> None:
        tls = self.tls
        assert tls is not None
        if packet.payload:
            # The connection's byte stream goes on through TLS: it still drops retransmissions.
            stream = self.outer.client if side is CLIENT else self.outer.server
            if not already_added and stream.pass_through(packet.seq, len(packet.payload)):
                self.b.tls_bytes(side, len(packet.payload))
            else:
                if not already_added:
                    stream.add(packet.seq, packet.payload, packet.number, packet.time)
                self.b.tls_bytes(side, stream.discard())
        for record in packet.tls:
            tls_records.record(self.b, self.rules, tls, side, record, packet.number, packet.time)
        if packet.payload and not packet.tls and packet.number not in self.session.frame_steps:
            # Continuation of a record tshark reassembled elsewhere: same phase as before.
            current = tls.encrypted if tls.established else tls.handshake
            if current is not None:
                self.b.add_frames(current, [packet.number])
            elif tls.handshake is None and not packet.tls_layer:
                name = ENCRYPTED_STEP if tls.established else HANDSHAKE_STEP  # established: met midway
                tls_records.tls_step(self.b, tls, name, packet.number, packet.time, side)
        if packet.decrypted:
            self.b.tls_fact(decrypted=True)
        if packet.plaintext:
            self._inner(packet, side)

    def _inner(self, packet: Packet, side: Side) -> None:
        assert packet.plaintext is not None
        if self.inner is None:
            self.inner = Dialogue(self.b, self.rules, self.link, inside_tls=True)
            # After STARTTLS the greeting came before TLS; with implicit TLS it comes inside.
            self.inner.st.greeted = self.outer.st.greeted
            self.inner.st.replies = self.outer.st.replies  # a 220 inside TLS after STARTTLS greets no one
            self.inner.st.helo = self.outer.st.helo
        stream = self.inner.client if side is CLIENT else self.inner.server
        seq = stream.next_seq if stream.next_seq is not None else 0
        stream.add(seq, packet.plaintext, packet.number, packet.time)
        self.inner.pump()
        self._upgrade(self.inner)

    # -- the end -------------------------------------------------------------------------
    def finish(self) -> Session:
        """The capture (or this stream) ended: settle what is pending, judge the session."""
        for stream in (self.outer.client, self.outer.server):
            while stream.skip_hole():
                pass
        self._pump_outer()
        s = self.session
        self.b.last_frame(self.last_number)
        self.b.duration(self.last_time)
        for stream in (self.outer.client, self.outer.server):
            for gap in stream.gaps:
                if not gap.cut:
                    self.b.finding("data_gap", [gap.frame], self.b.detail("data_gap", size=gap.size))
        if self.cut_frames:
            n = len(self.cut_frames)
            facts = {"snaplen": self.snaplen, "frames": n, "s": "s" if n > 1 else "", "size": self.cut_bytes}
            self.b.finding("snaplen_cut", self.cut_frames, self.b.detail("snaplen_cut", **facts))
        self.outer.finish()
        if self.link.not_smtp_seen and not (self.outer.st.greeted or self.outer.st.replies) and self.tls is None:
            self._not_smtp_at_all()
        if self.tls is not None and self.tls.encrypted is not None and s.tls is not None:
            enc = self.tls.encrypted
            self.b.facts(
                enc,
                # None when tshark dissected none (TLS met midway on a port it reads as SMTP): not "0 records"
                records=s.tls.records["client"] + s.tls.records["server"] or None,
                bytes_c2s=s.tls.bytes["client"],
                bytes_s2c=s.tls.bytes["server"],
                duration=round(self.last_time - (s.start + enc.time), 3),
            )
        if self.tls is not None and self.tls.handshake is not None and s.tls is not None:
            hello = s.tls.server_hello or {}
            client_hello = s.tls.client_hello or {}
            self.b.facts(
                self.tls.handshake,
                version=hello.get("version"),
                cipher=hello.get("cipher"),
                sni=client_hello.get("sni"),
            )
            dissected = bool(s.tls.client_hello) or self.tls.version is not None
            if not self.tls.established and not dissected:
                pass  # no TLS record was read (tshark did not dissect them): nothing to judge
            elif not self.tls.established and self.closed:
                detail = self.b.detail("tls_closed_early")
                self.b.finding("tls_handshake_failure", self.tls.handshake.frames[-1:], detail)
            elif not self.tls.established:
                detail = self.b.detail("tls_capture_ends")
                self.b.finding("tls_handshake_unfinished", self.tls.handshake.frames[-1:], detail)
        hs = self.handshake
        if hs.syn is not None and hs.synack is None and self.handshake_step is not None:
            self.b.facts(self.handshake_step, variant="refused" if self.reset else "unanswered")
            detail = self.b.detail("no_connection_refused" if self.reset else "no_connection_unanswered")
            self.b.finding("no_connection", [hs.syn.number], detail)
        judge.judge(self.b, self._observed())
        return self.b.finish()

    def _observed(self) -> judge.Observed:
        tls = self.tls
        hs = self.handshake
        return judge.Observed(
            syn_seen=self.handshake.syn is not None,
            greeted=self.outer.st.greeted,
            client_packets=self.seen[CLIENT],
            server_packets=self.seen[SERVER],
            tls_started=tls is not None,
            tls_version_seen=tls is not None and tls.version is not None,
            tls_handshake_frame=tls.handshake.frames[0] if tls is not None and tls.handshake is not None else None,
            starttls_requested=self.link.starttls_requested,
            decrypted=self.inner is not None,
            client_payloads=self.client_payloads,
            server_payloads=self.link.server_payloads,
            left_before_greeting=self.left_before_greeting,
            # A SYN nobody answered is no connection (its own finding says so), not one left open.
            open_at_end=not self.fins and not self.reset and not (hs.syn is not None and hs.synack is None),
        )

    def _not_smtp_at_all(self) -> None:
        """The server never greeted and spoke something else: no SMTP step is real here.

        Words the client sent (an HTTP request line looks like a command) are not explained
        as SMTP; the TCP set-up and close still are, with one sentence on what was seen.
        """
        self.b.keep_only(_KEPT_WHEN_NOT_SMTP, "not_smtp")
        findings = self.session.findings
        detail = findings[0].detail if findings else self.b.detail("no_smtp_reply")
        self.b.note("not_smtp", detail=detail)
