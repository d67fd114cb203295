"""The SMTP dialogue over one byte source: commands, replies, modes (sans-IO)."""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

from smtpdoc import smtp_text
from smtpdoc.dialogue_types import REDACTED, Mode, Pending, Side, merge
from smtpdoc.message_reading import MessageReading
from smtpdoc.model import Extension, Recipient, Reply, Step, Transaction
from smtpdoc.reassembly import ByteStream, Chunk

if TYPE_CHECKING:
    from smtpdoc.session import SessionMachine


class Dialogue(MessageReading):
    """The SMTP conversation over one byte source (cleartext, or inside TLS)."""

    def __init__(self, machine: SessionMachine, inside_tls: bool) -> None:
        self.m = machine
        self.inside_tls = inside_tls
        self.client = ByteStream()
        self.server = ByteStream()
        self.mode = Mode.COMMAND
        self.pending: deque[Pending] = deque()
        self.reply_lines: list[tuple[smtp_text.ReplyLine, Chunk]] = []
        self.greeted = False
        self.extensions: list[Extension] | None = None
        self.transaction: Transaction | None = None
        self.bdat_left = 0
        self.bdat_step: Step | None = None
        self.data_step: Step | None = None
        self.message = bytearray()
        self.message_size = 0
        self.auth_step: Step | None = None
        self.commands = 0
        self.helo: str | None = None
        self.bdat_last = False

    # -- feeding -------------------------------------------------------------------------
    def pump(self) -> None:
        """Read whatever is complete in both directions, replies first."""
        progress = True
        while progress and self.mode is not Mode.TLS:
            progress = self._read_replies()
            reader = _CLIENT_READERS.get(self.mode)  # None once the replies switched to TLS
            if reader is None:
                break
            progress = reader(self) or progress

    # -- server side ---------------------------------------------------------------------
    def _read_replies(self) -> bool:
        progress = False
        while self.mode is not Mode.TLS:
            end = self.server.find(b"\n")
            if end < 0:
                break
            chunk = self.server.take(end + 1)
            progress = True
            self.m.check_line(chunk, smtp_text.MAX_REPLY_LINE, "reply")
            parsed = smtp_text.parse_reply_line(chunk.data.rstrip(b"\r\n"))
            if parsed is None:
                self.m.not_smtp(chunk, Side.SERVER)
                continue
            self.reply_lines.append((parsed, chunk))
            if parsed.last:
                self._reply_complete()
        return progress

    def _reply_complete(self) -> None:
        lines, self.reply_lines = self.reply_lines, []
        code = lines[-1][0].code
        frames: list[int] = []
        for _, chunk in lines:
            merge(frames, chunk.frames)
        texts = [line.text for line, _ in lines]
        reply = Reply(
            code=code,
            enhanced=smtp_text.enhanced_code(texts[0]),
            lines=texts,
            frames=frames,
            time=self.m.rel(lines[0][1].time),
        )
        if code >= 400:
            self.m.finding("error_reply", frames, f"{code} {texts[-1]}".strip())
        early = not self.greeted and reply.code in _GREETING_CODES
        if not self.pending or early:
            if early and self.pending:
                self.m.finding("early_talker", self.pending[0].step.frames, self.pending[0].verb)
            self._unsolicited(reply)
            return
        pending = self.pending.popleft()
        self._answer(pending, reply)

    def _unsolicited(self, reply: Reply) -> None:
        if not self.greeted:
            self.greeted = True
            first = reply.lines[0]
            name, _, banner = first.partition(" ")
            if reply.code == 220:
                self.m.session.server_name = name or None
            step = self.m.step(
                "greeting",
                reply.frames,
                reply.time,
                Side.SERVER,
                lines=_reply_lines(reply),
                facts={"code": reply.code, "server_name": name, "banner": banner},
            )
            step.reply = reply
            return
        step = self.m.step(
            "command",
            reply.frames,
            reply.time,
            Side.SERVER,
            lines=_reply_lines(reply),
            facts={"verb": "", "argument": "", "code": reply.code},
        )
        step.reply = reply
        self.m.finding("unexpected_reply", reply.frames, f"{reply.code} with no command waiting")

    def _answer(self, pending: Pending, reply: Reply) -> None:
        verb = pending.verb
        step = pending.step
        if pending.reply_step is not None:
            target = self.m.step(
                pending.reply_step,
                reply.frames,
                reply.time,
                Side.SERVER,
                lines=_reply_lines(reply),
                facts={"code": reply.code, "text": " ".join(reply.lines), "verb": verb},
            )
            target.reply = reply
        else:
            step.reply = reply
            step.facts["code"] = reply.code
            self.m.add_frames(step, reply.frames)
            if verb != "AUTH":
                step.lines.extend(_reply_lines(reply))
        handler = _REPLY_HANDLERS.get(verb)
        if pending.recipient is not None:
            pending.recipient.code = reply.code
        if handler is not None:
            handler(self, step, reply)
        if pending.transaction is not None:
            # Like Zeek's smtp.log: the last line of the latest reply in the transaction.
            pending.transaction.last_reply = f"{reply.code} {reply.lines[-1]}".strip()

    def _on_ehlo_reply(self, step: Step, reply: Reply) -> None:
        if reply.code != 250:
            return
        target = self.m.session.steps[-1]
        first = smtp_text.parse_ehlo_first_line(reply.lines[0])
        extensions = []
        for line in reply.lines[1:]:
            keyword, params = smtp_text.parse_extension(line)
            if keyword:
                extensions.append(Extension(keyword=keyword, params=params))
        target.facts.update(
            server_name=first.server_name,
            greeting_text=first.greeting_text,
            client_address=first.client_address,
            extensions=[e.keyword for e in extensions],
            extension_count=len(extensions),
        )
        self.extensions = extensions
        if self.inside_tls:
            self.m.session.inner_extensions = extensions
            if not self.m.session.extensions:
                return  # implicit TLS: there is no cleartext EHLO reply to compare with
            before = {e.keyword.upper() for e in self.m.session.extensions}
            after = {e.keyword.upper() for e in extensions}
            target.facts["added"] = sorted(after - before)
            target.facts["removed"] = sorted(before - after)
        else:
            self.m.session.extensions = extensions
            if self.m.session.server_name is None:
                self.m.session.server_name = first.server_name

    def _on_starttls_reply(self, step: Step, reply: Reply) -> None:
        if reply.code == 220:
            self.m.start_tls(implicit=False)
        else:
            self.m.finding("starttls_refused", reply.frames, f"{reply.code} {' '.join(reply.lines)}")

    def _on_data_reply(self, step: Step, reply: Reply) -> None:
        if reply.code == 354:
            self.mode = Mode.DATA
            self.data_step = None

    def _on_auth_reply(self, step: Step, reply: Reply) -> None:
        if reply.code == 334:
            # More of the exchange: the same command waits for its final reply.
            self.pending.appendleft(Pending(verb="AUTH", step=step))
            # LOGIN's prompts ("Username:") and CRAM-MD5's nonce are no secret: show what they
            # say. Other mechanisms' challenges (SCRAM's salt and server signature, NTLM) help
            # an offline password guess, so they stay redacted like the client's answers.
            challenge = " ".join(reply.lines)
            shown = self.m.reveal_secrets or step.facts.get("mechanism") in _OPEN_CHALLENGES
            step.lines.append(f"S: 334 {smtp_text.with_decoded(challenge) if shown else REDACTED}".rstrip())
            return
        self.mode = Mode.COMMAND
        step.facts["outcome"] = "accepted" if reply.code == 235 else "rejected"
        step.lines.append(f"S: {reply.code} {' '.join(reply.lines)}".rstrip())

    def _on_message_reply(self, step: Step, reply: Reply) -> None:
        step.facts["code"] = reply.code
        if self.transaction is not None and self.transaction.message is not None:
            step.facts["subject"] = self.transaction.message.headers.get("subject", "")

    # -- client side ---------------------------------------------------------------------
    def _read_commands(self) -> bool:
        progress = False
        gap = self.client.next_gap()
        if gap is not None and gap.size > 0 and 0 < gap.offset - self.client.consumed <= len(self.client):
            end = self.client.find(b"\n", gap.offset - self.client.consumed)
            if end >= 0:
                self.client.take(end + 1)  # a line torn by missing bytes is not a command
                gap.size = 0
                progress = True
        while self.mode in (Mode.COMMAND, Mode.AUTH):
            end = self.client.find(b"\n")
            if end < 0:
                break
            chunk = self.client.take(end + 1)
            progress = True
            self.m.check_line(chunk, smtp_text.MAX_COMMAND_LINE, "command")
            if self.mode is Mode.AUTH:
                self._auth_response(chunk)
                continue
            self._command(chunk)
            if self.mode in (Mode.BDAT, Mode.TLS):
                break
        return progress

    def _auth_response(self, chunk: Chunk) -> None:
        step = self.auth_step
        if step is None:
            return
        self.m.add_frames(step, chunk.frames)
        line = smtp_text.text(chunk.data.rstrip(b"\r\n"))
        step.lines.append("C: " + (smtp_text.with_decoded(line) if self.m.reveal_secrets else REDACTED))

    def _command(self, chunk: Chunk) -> None:
        line = chunk.data.rstrip(b"\r\n")
        command = smtp_text.parse_command(line)
        time = self.m.rel(chunk.time)
        if command is None:
            return
        if not command.well_formed and self.commands == 0:
            self.m.not_smtp(chunk, Side.CLIENT)
            return
        self.commands += 1
        if self.pending and not self._pipelining_ok(command.verb):
            self.m.finding("pipelining_unadvertised", chunk.frames, command.verb)
        handler = _COMMAND_HANDLERS.get(command.verb, Dialogue._cmd_other)
        handler(self, command, chunk, time)

    def _pipelining_ok(self, verb: str) -> bool:
        if self.extensions is None:
            return True  # no EHLO reply seen: nothing to judge against
        return any(e.keyword.upper() == "PIPELINING" for e in self.extensions)

    def _wait(self, pending: Pending) -> None:
        pending.transaction = self.transaction
        self.pending.append(pending)

    def _open_transaction(self, chunk: Chunk, mail_from: str | None = None, params: str = "") -> Transaction:
        self.transaction = Transaction(
            helo=self.helo,
            mail_from=mail_from,
            mail_params=smtp_text.parse_params(params),
            tls=self.inside_tls or self.m.tls_active,
            frames=list(chunk.frames),
        )
        self.m.session.transactions.append(self.transaction)
        return self.transaction

    def _current_transaction(self, chunk: Chunk) -> Transaction:
        """RCPT, DATA or BDAT outside a transaction still open one (as Zeek does)."""
        if self.transaction is None:
            return self._open_transaction(chunk)
        merge(self.transaction.frames, chunk.frames)
        return self.transaction

    def _new_step(self, name: str, command: smtp_text.Command, chunk: Chunk, time: float, **facts: object) -> Step:
        return self.m.step(name, chunk.frames, time, Side.CLIENT, lines=["C: " + command.raw], facts=dict(facts))

    def _cmd_ehlo(self, command: smtp_text.Command, chunk: Chunk, time: float) -> None:
        step = self._new_step("ehlo", command, chunk, time, verb=command.verb, client_name=command.argument)
        if self.m.session.client_name is None:
            self.m.session.client_name = command.argument
        self.helo = command.argument
        self.pending.append(Pending(command.verb, step, reply_step="ehlo_reply"))

    def _cmd_starttls(self, command: smtp_text.Command, chunk: Chunk, time: float) -> None:
        step = self._new_step("starttls", command, chunk, time)
        self.m.starttls_requested = True
        if len(self.client) > 0 and self.client.peek_frame() in chunk.frames:
            self.m.finding("starttls_injection", chunk.frames, "commands after STARTTLS in the same segment")
        self.pending.append(Pending(command.verb, step, reply_step="starttls_reply"))

    def _cmd_auth(self, command: smtp_text.Command, chunk: Chunk, time: float) -> None:
        mechanism, _, initial = command.argument.partition(" ")
        line = f"C: {command.raw.split(' ')[0]} {mechanism}"
        if initial:
            line += " " + (smtp_text.with_decoded(initial) if self.m.reveal_secrets else REDACTED)
        step = self.m.step(
            "auth",
            chunk.frames,
            time,
            Side.CLIENT,
            lines=[line],
            facts={"mechanism": mechanism.upper(), "outcome": "unknown"},
        )
        self.auth_step = step
        self.mode = Mode.AUTH
        if not self.inside_tls and not self.m.tls_active:
            self.m.finding("auth_cleartext", chunk.frames, f"AUTH {mechanism.upper()}")
        self.pending.append(Pending("AUTH", step))

    def _cmd_mail(self, command: smtp_text.Command, chunk: Chunk, time: float) -> None:
        address, params = smtp_text.parse_path(command.argument, "FROM:")
        step = self._new_step("mail_from", command, chunk, time, address=address, params=params)
        self._open_transaction(chunk, address, params)
        self._wait(Pending("MAIL", step))

    def _cmd_rcpt(self, command: smtp_text.Command, chunk: Chunk, time: float) -> None:
        address, params = smtp_text.parse_path(command.argument, "TO:")
        step = self._new_step("rcpt_to", command, chunk, time, address=address, params=params)
        recipient = Recipient(address=address, params=params, code=None, frames=list(chunk.frames))
        self._current_transaction(chunk).recipients.append(recipient)
        self._wait(Pending("RCPT", step, recipient=recipient))

    def _cmd_data(self, command: smtp_text.Command, chunk: Chunk, time: float) -> None:
        step = self._new_step("data", command, chunk, time)
        self._current_transaction(chunk).method = "DATA"
        self._wait(Pending("DATA", step))
        if self.m.server_silent():
            # One-sided capture: no 354 will ever be seen, so assume it came.
            self.mode = Mode.DATA

    def _cmd_bdat(self, command: smtp_text.Command, chunk: Chunk, time: float) -> None:
        size, last = smtp_text.parse_bdat(command.argument)
        step = self._new_step("bdat", command, chunk, time, size=size, last=last)
        transaction = self._current_transaction(chunk)
        transaction.method = "BDAT"
        if size is not None:
            transaction.chunks.append(size)
        self._wait(Pending("BDAT", step))
        if size is None:
            return  # an invalid size: the server will refuse it, no chunk follows
        self.bdat_left = size
        self.bdat_last = last
        self.bdat_step = step
        self.mode = Mode.BDAT

    def _cmd_quit(self, command: smtp_text.Command, chunk: Chunk, time: float) -> None:
        step = self._new_step("quit", command, chunk, time)
        self._wait(Pending("QUIT", step))

    def _cmd_other(self, command: smtp_text.Command, chunk: Chunk, time: float) -> None:
        step = self._new_step("command", command, chunk, time, verb=command.verb, argument=command.argument)
        self._wait(Pending(command.verb, step))
        if command.verb == "RSET":
            self.transaction = None


_GREETING_CODES = frozenset({220, 421, 554})
_OPEN_CHALLENGES = frozenset({"LOGIN", "CRAM-MD5", "PLAIN"})


def _reply_lines(reply: Reply) -> list[str]:
    return [f"S: {reply.code}{'-' if i < len(reply.lines) - 1 else ' '}{t}".rstrip() for i, t in enumerate(reply.lines)]


_COMMAND_HANDLERS = {
    "EHLO": Dialogue._cmd_ehlo,
    "HELO": Dialogue._cmd_ehlo,
    "STARTTLS": Dialogue._cmd_starttls,
    "AUTH": Dialogue._cmd_auth,
    "MAIL": Dialogue._cmd_mail,
    "RCPT": Dialogue._cmd_rcpt,
    "DATA": Dialogue._cmd_data,
    "BDAT": Dialogue._cmd_bdat,
    "QUIT": Dialogue._cmd_quit,
}
_REPLY_HANDLERS = {
    "EHLO": Dialogue._on_ehlo_reply,
    "HELO": Dialogue._on_ehlo_reply,
    "STARTTLS": Dialogue._on_starttls_reply,
    "DATA": Dialogue._on_data_reply,
    "AUTH": Dialogue._on_auth_reply,
    ".": Dialogue._on_message_reply,
    "BDAT": Dialogue._on_message_reply,
}
# How client bytes are read in each mode (TLS bytes are not read as text).
_CLIENT_READERS = {
    Mode.COMMAND: Dialogue._read_commands,
    Mode.AUTH: Dialogue._read_commands,
    Mode.DATA: Dialogue._read_data,
    Mode.BDAT: Dialogue._read_bdat,
}
