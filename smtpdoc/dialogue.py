"""The SMTP dialogue over one byte source (cleartext, or inside TLS), sans-IO.

Theory of operation
-------------------
Each direction has a reader (smtpdoc.readers) that cuts SMTP events from its bytes; the
client's reader is picked by the dialogue's state. Every event is looked up in the one
transition table (smtpdoc.catalog.rules, data from dialogue.toml): the first row whose
code and condition hold names the action to run and the state that follows. Actions
(smtpdoc.commands, smtpdoc.replies, smtpdoc.message_reading) keep the bookkeeping
(smtpdoc.dialogue_state) and ask the builder (smtpdoc.builder) to write the model; the
state changes in `_apply` alone. An event no row expects is recorded as a finding and
the dialogue goes back to reading commands, rather than guessing.

Replies are read before client bytes, so that a reply changing how the client's next
bytes are read (354, 220 to STARTTLS) takes effect first; every complete reply answers
the oldest command still waiting, which is also what RFC 2920 pipelining requires.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from smtpdoc import commands, message_reading, replies, smtp_text, tunnel, tunnel_actions
from smtpdoc.builder import SessionBuilder
from smtpdoc.catalog.rules import Action, Condition, Event, Rules, State, Transition
from smtpdoc.dialogue_state import Answer, Command, DialogueState, Link, Pending, reply_lines
from smtpdoc.events import SERVER, BdatChunk, Gap, NotReplyLine, Reply, TlsStart
from smtpdoc.message_text import MessageText
from smtpdoc.model import Reply as ModelReply
from smtpdoc.readers import ClientReader, ServerReader
from smtpdoc.reassembly import ByteStream

__all__ = ["Dialogue", "Link"]


class Dialogue:
    """The SMTP conversation over one byte source."""

    def __init__(
        self, builder: SessionBuilder, rules: Rules, link: Link, inside_tls: bool, client: ByteStream | None = None
    ) -> None:
        self.b = builder
        self.rules = rules
        self.client = client if client is not None else ByteStream(rules.max_pending_segments)
        self.server = ByteStream(rules.max_pending_segments)
        self.server_reader = ServerReader(self.server)
        self.st = DialogueState(
            builder=builder,
            rules=rules,
            link=link,
            inside_tls=inside_tls,
            client_reader=ClientReader(self.client, rules.max_text_line),
            message=MessageText(rules.message_keep),
        )

    @property
    def mode(self) -> State:
        return self.st.mode

    # -- feeding -------------------------------------------------------------------------
    def pump(self) -> None:
        """Read whatever is complete in both directions, replies first."""
        progress = True
        st = self.st
        while progress and st.mode is not State.TLS:
            if not st.tunnel_checked:
                self._sniff()
            if st.tunnel is not None:
                progress = self._read_tunnel()
                if st.tunnel is not None:
                    break  # the set-up goes on, or was refused: no SMTP (yet)
                continue
            progress = self._read_replies()
            mode = st.mode
            reader = _CLIENT_READERS.get(mode)  # None once the replies switched to TLS
            if reader is None:
                break
            progress = reader(self) or progress
            if (
                mode is st.mode is State.COMMAND
                and st.tunnel_checked
                and not self.client.gaps
                and self.client.buffer.find(b"\n") < 0
            ):
                # Every complete line was read and no reply waits (the replies were read first):
                # another round would find nothing, until more bytes come.
                break

    def implicit_tls(self, frame: int, midway: bool = False) -> None:
        """TLS from the first byte: no SMTP is read in the clear."""
        self._event(Event.TLS, TlsStart(frame, midway))

    def tls_without_go_ahead(self, frame: int) -> None:
        """The client's TLS handshake came while STARTTLS waited: its 220 is not in the capture."""
        self._event(Event.TLS, TlsStart(frame, midway=True))

    def plaintext_after_starttls(self, frame: int) -> None:
        """SMTP text came where TLS was due: the table says what that is."""
        self._event(Event.PLAINTEXT, frame)

    def finish(self) -> None:
        """The stream ended inside DATA: the message as far as it came; or inside a proxy's
        answer: a refusal its first bytes still show."""
        st = self.st
        if st.tunnel is not None and (cut := st.tunnel.cut_answer()) is not None:
            self._event(Event.TUNNEL, cut)
        if st.mode is State.DATA and st.message.step is not None:
            self.b.finding("message_unfinished", st.message.step.frames[-1:], self.b.detail("message_cut"))
            message_reading.summarise(st, st.message.step, truncated=True)
        for pending in st.pending:
            if pending.verb == ".":
                self.b.finding("message_unfinished", pending.step.frames[-1:], self.b.detail("message_unanswered"))

    # -- the table -----------------------------------------------------------------------
    def _event(self, event: Event, subject: Any, verb: str | None = None, code: int | None = None) -> None:
        row = self._row(event, subject, verb, code)
        if row is None:
            self._unexpected(event, subject)
        else:
            self._apply(row, subject)

    def _row(self, event: Event, subject: Any, verb: str | None, code: int | None) -> Transition | None:
        for row in self.rules.rows(self.st.mode, event, verb):
            if (row.code is None or row.code == code) and (
                row.condition is None or _CONDITIONS[row.condition](self.st, subject)
            ):
                return row
        return None

    def _apply(self, row: Transition, subject: Any) -> None:
        _ACTIONS[row.action](self.st, subject)
        if row.mode is not None:
            self.st.mode = row.mode

    def _unexpected(self, event: Event, subject: Any) -> None:
        """No row expects this: say so, and read commands again."""
        frames = getattr(subject, "frames", ())
        detail = self.b.detail("unexpected_event", event=event.value, state=self.st.mode.value)
        self.b.finding("not_smtp", frames, detail)
        self.st.mode = State.COMMAND

    def _check_line(self, data: bytes, frames: tuple[int, ...], limit: int, kind: str) -> None:
        if len(data) <= limit and data.find(b"\r") == len(data) - 2 and data.endswith(b"\r\n"):
            return  # short enough, one CR, right before the LF: the common case
        if len(data) > limit:
            detail = self.b.detail("line_too_long", kind=kind, size=len(data), limit=limit)
            self.b.finding("line_too_long", frames, detail)
        problem = smtp_text.line_ending_problem(data)
        if problem:
            self.b.finding("bare_line_ending", frames, self.b.detail("bare_line_ending", problem=problem, kind=kind))

    # -- a proxy tunnel's set-up ---------------------------------------------------------
    def _sniff(self) -> None:
        """Do the client's first bytes set up a proxy tunnel (HTTP CONNECT, SOCKS)? The bytes say, not the port."""
        st = self.st
        if st.inside_tls or st.greeted or st.commands or len(self.server) or self.server.consumed:
            st.tunnel_checked = True  # the server spoke first, or SMTP was read: no tunnel set-up
            return
        if not len(self.client):
            return
        protocol = tunnel.sniff(bytes(self.client.buffer[:258]))
        if protocol == "undecided":
            return
        st.tunnel_checked = True
        if protocol is not None:
            st.tunnel = tunnel.TunnelReader(protocol, self.client, self.server)

    def _read_tunnel(self) -> bool:
        progress = False
        reader = self.st.tunnel
        while reader is not None and (event := reader.next_event()) is not None:
            progress = True
            self._event(Event.TUNNEL, event)
            reader = self.st.tunnel
        return progress

    # -- server side ---------------------------------------------------------------------
    def _read_replies(self) -> bool:
        progress = False
        st, tls, next_event = self.st, State.TLS, self.server_reader.next_event
        limit = self.rules.max_reply_line
        while st.mode is not tls:
            event = next_event()
            if event is None:
                break
            if isinstance(event, Reply):
                self._reply(event)
                continue
            progress = True
            data = event.data
            if not data.endswith(b"\n"):
                pass  # a line a snap length cut: how it ended is not in the capture
            elif len(data) > limit or data.find(b"\r") != len(data) - 2:  # _check_line's quick test, without the call
                self._check_line(data, event.frames, limit, "reply")
            if isinstance(event, NotReplyLine):
                self._event(Event.NOT_REPLY, event)
        return progress

    def _reply(self, event: Reply) -> None:
        st = self.st
        # Positional: code, enhanced, lines, frames, time.
        enhanced = smtp_text.enhanced_code(event.lines[0])
        reply = ModelReply(event.code, enhanced, list(event.lines), list(event.frames), self.b.rel(event.time))
        if reply.code >= self.rules.error_from:
            self.b.finding("error_reply", reply.frames, f"{reply.code} {reply.lines[-1]}".strip())
        # The greeting is the server's first reply (RFC 5321 §3.1): a 220 after another reply
        # answers a command (STARTTLS's "220 Ready to start TLS" when the capture began after
        # the greeting), and a first 250 is the answer to a command the capture does not show.
        early = _greets(st, reply)
        if st.pending and not early and self.server.gaps:
            self._skip_lost_replies(reply)
        if not st.pending or early:
            if early and st.pending:
                self.b.finding("early_talker", st.pending[0].step.frames, st.pending[0].verb)
            self._event(Event.UNSOLICITED, reply)
        else:
            self._answer(st.pending.popleft(), reply)
        st.replies += 1

    def _skip_lost_replies(self, reply: ModelReply) -> None:
        """A reply right after bytes missing from the server's side, with a code only one verb is
        answered with (220 STARTTLS, 354 DATA, 334 and 235 AUTH), while that verb waits behind other commands: the
        replies to those were in the missing bytes. They stay unanswered, so the lost EHLO reply
        does not make STARTTLS's 220 the EHLO reply ("lists its extensions (250)")."""
        st = self.st
        only = {
            self.rules.starttls_go_ahead: "STARTTLS",
            self.rules.data_go_ahead: "DATA",
            self.rules.auth_continue: "AUTH",
            self.rules.auth_accepted: "AUTH",
        }
        verb = only.get(reply.code)
        if verb is None or st.pending[0].verb == verb or all(p.verb != verb for p in st.pending):
            return
        if any(not gap.cut and gap.frame == reply.frames[0] for gap in self.server.gaps):
            while st.pending[0].verb != verb:
                st.pending.popleft()

    def _answer(self, pending: Pending, reply: ModelReply) -> None:
        """The reply joins its command's step, or is a step of its own; then the table decides."""
        row = self._row(Event.REPLY, reply, pending.verb, reply.code)
        target = pending.step
        if pending.reply_step is not None:
            facts = {"code": reply.code, "text": " ".join(reply.lines), "verb": pending.verb}
            target = self.st.step(pending.reply_step, reply.frames, reply.time, SERVER, reply_lines(reply), **facts)
            self.b.reply_step(target, reply)
        else:
            own_lines = row is not None and row.action in replies.OWN_LINES
            self.b.answer(pending.step, reply, None if own_lines else reply_lines(reply))
        if pending.recipient is not None:
            self.b.recipient_code(pending.recipient, reply.code)
        if row is None:
            self._unexpected(Event.REPLY, reply)
        else:
            self._apply(row, Answer(pending, reply, target))
        if pending.transaction is not None:
            self.b.last_reply(pending.transaction, reply)

    # -- client side ---------------------------------------------------------------------
    def _read_commands(self) -> bool:
        st = self.st
        progress = False
        torn = st.client_reader.torn_line() if self.client.gaps else None  # no gap, no torn line
        if torn is not None:
            self._event(Event.GAP, torn)
            progress = True
        while st.mode in (State.COMMAND, State.AUTH):
            line = st.client_reader.next_line()
            if line is None:
                break
            progress = True
            if not line.cut:
                self._check_line(line.data, line.frames, self.rules.max_command_line, "command")
            if st.mode is State.AUTH:
                self._event(Event.COMMAND, line)
                continue
            parsed = smtp_text.parse_command(line.data.rstrip(b"\r\n"))
            if parsed is not None and line.cut:
                self._event(Event.CUT, Command(line, parsed, self.b.rel(line.time)))
            elif parsed is not None:
                self._event(Event.COMMAND, Command(line, parsed, self.b.rel(line.time)), verb=parsed.verb)
            if st.mode in (State.BDAT, State.TLS):
                break
        return progress

    def _read_data(self) -> bool:
        """DATA: the message runs up to a line holding a single dot."""
        reader = self.st.client_reader
        event = reader.next_message(at_start=self.st.message.size == 0)
        if event is None:
            return False
        self._event(Event.MESSAGE_TEXT, event)
        end = reader.message_end()
        if end is not None:
            self._event(Event.MESSAGE_END, end)
        return True

    def _read_bdat(self) -> bool:
        st = self.st
        lost = st.client_reader.bdat_gap(st.message.bdat_left)
        if lost is not None:
            self._event(Event.GAP, lost)
            if st.mode is not State.BDAT:
                return True
        chunk = st.client_reader.bdat_bytes(st.message.bdat_left)
        if chunk is None:
            return False
        self._event(Event.BDAT_CHUNK, chunk)
        return True


def _chunk_complete(st: DialogueState, subject: BdatChunk | Gap) -> bool:
    size = subject.size if isinstance(subject, Gap) else len(subject.data)
    return size == st.message.bdat_left


def _greets(st: DialogueState, reply: ModelReply) -> bool:
    """Is this reply the greeting: the server's first, with a code a greeting has (220, 421, 554)?
    Not a 220 while STARTTLS waits: that is its go-ahead (a capture that starts at STARTTLS),
    and a client that talks before the greeting does not open with STARTTLS."""
    if st.greeted or st.replies or reply.code not in st.rules.greeting_codes:
        return False
    waiting = st.pending[0].verb if st.pending else None
    return not (waiting == "STARTTLS" and reply.code == st.rules.starttls_go_ahead)


_CONDITIONS: dict[Condition, Callable[[DialogueState, Any], bool]] = {
    Condition.FIRST_LINE_MALFORMED: lambda st, c: not c.parsed.well_formed and st.commands == 0,
    Condition.SERVER_SILENT: lambda st, c: st.link.server_payloads == 0,
    Condition.CHUNK_SIZE_VALID: lambda st, c: smtp_text.parse_bdat(c.parsed.argument)[0] is not None,
    Condition.CHUNK_COMPLETE: _chunk_complete,
    Condition.GREETING: _greets,
    Condition.TUNNEL_GRANTED: lambda st, m: m.granted is True,
    Condition.TUNNEL_REFUSED: lambda st, m: m.granted is False,
    Condition.NOT_A_PROXY: lambda st, m: m.part == "not_proxy",
    Condition.PROXY_HEADER: lambda st, m: m.part == "header",
    Condition.TLS_MIDWAY: lambda st, t: t.midway,
    Condition.MESSAGE_CUT: lambda st, r: st.link.outer_client.cut_since_read(),
    Condition.BARE_LF_END: lambda st, r: (
        st.message.step is not None and st.client_reader.ends_with(b"\n.\n", bytes(st.message.kept))
    ),
}
_ACTIONS: dict[Action, Callable[[DialogueState, Any], None]] = {
    **commands.ACTIONS,
    **replies.ACTIONS,
    **message_reading.ACTIONS,
    **tunnel_actions.ACTIONS,
}
# How client bytes are read in each state (TLS bytes are not read as text).
_CLIENT_READERS: dict[State, Callable[[Dialogue], bool]] = {
    State.COMMAND: Dialogue._read_commands,
    State.AUTH: Dialogue._read_commands,
    State.DATA: Dialogue._read_data,
    State.BDAT: Dialogue._read_bdat,
}
