"""What each client command records (the transition table's command actions).

Each action gets the dialogue's state and the command; it updates the bookkeeping and asks
the builder to write. None of them changes the dialogue's mode: the table's row does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from smtpdoc import smtp_text
from smtpdoc.catalog.rules import Action
from smtpdoc.dialogue_state import REDACTED, Command, DialogueState, Pending
from smtpdoc.events import CLIENT, SERVER, CommandLine, NotReplyLine, TlsStart
from smtpdoc.model import Step, Transaction


def _step(st: DialogueState, command: Command, **facts: Any) -> Step:
    name = st.rules.command_step(command.parsed.verb).step
    if st.pending:
        facts["pipelined"] = True  # sent while earlier commands still waited for their replies
    return st.step(name, command.line.frames, command.time, CLIENT, ["C: " + command.parsed.raw], **facts)


def _counted(st: DialogueState, command: Command) -> None:
    """A well-formed command: counted, and checked against PIPELINING when others wait."""
    st.commands += 1
    if st.pending and st.extensions is not None:  # no EHLO reply seen: nothing to judge against
        if not any(e.keyword.upper() == "PIPELINING" for e in st.extensions):
            st.builder.finding("pipelining_unadvertised", command.line.frames, command.parsed.verb)


def _open_transaction(
    st: DialogueState, command: Command, mail_from: str | None = None, params: str = ""
) -> Transaction:
    st.transaction = st.builder.transaction(
        helo=st.helo,
        mail_from=mail_from,
        params=smtp_text.parse_params(params),
        tls=st.inside_tls or st.link.tls_active,
        frames=command.line.frames,
    )
    return st.transaction


def _current_transaction(st: DialogueState, command: Command) -> Transaction:
    """RCPT, DATA or BDAT outside a transaction still open one (as Zeek does)."""
    if st.transaction is None:
        return _open_transaction(st, command)
    st.builder.transaction_frames(st.transaction, command.line.frames)
    return st.transaction


def not_smtp(st: DialogueState, subject: Command | NotReplyLine) -> None:
    if isinstance(subject, Command):
        st.not_smtp(subject.line.data, subject.line.frames, CLIENT)
    else:
        st.not_smtp(subject.data, subject.frames, SERVER)


def hello(st: DialogueState, command: Command) -> None:
    _counted(st, command)
    c = command.parsed
    step = _step(st, command, verb=c.verb, client_name=c.argument)
    st.builder.names(client=c.argument)
    st.helo = c.argument
    st.pending.append(Pending(c.verb, step, reply_step=st.rules.command_step(c.verb).reply_step))


def starttls(st: DialogueState, command: Command) -> None:
    _counted(st, command)
    step = _step(st, command)
    st.link.starttls_requested = True
    if st.client_reader.more_in_frame(command.line.frames):
        st.builder.finding("starttls_injection", command.line.frames, st.builder.detail("starttls_injection"))
    verb = command.parsed.verb
    st.pending.append(Pending(verb, step, reply_step=st.rules.command_step(verb).reply_step))


def auth(st: DialogueState, command: Command) -> None:
    _counted(st, command)
    c = command.parsed
    mechanism, _, initial = c.argument.partition(" ")
    line = f"C: {c.raw.split(' ')[0]} {mechanism}"
    if initial:
        line += " " + (smtp_text.with_decoded(initial) if st.link.reveal_secrets else REDACTED)
    name = st.rules.command_step(c.verb).step
    step = st.step(
        name, command.line.frames, command.time, CLIENT, [line], mechanism=mechanism.upper(), outcome="unknown"
    )
    st.auth_step = step
    if not st.inside_tls and not st.link.tls_active:
        st.builder.finding("auth_cleartext", command.line.frames, f"{c.verb} {mechanism.upper()}")
    st.pending.append(Pending(c.verb, step))


def sasl_response(st: DialogueState, line: CommandLine) -> None:
    step = st.auth_step
    if step is None:
        return
    st.builder.add_frames(step, line.frames)
    text = smtp_text.text(line.data.rstrip(b"\r\n"))
    st.builder.lines(step, "C: " + (smtp_text.with_decoded(text) if st.link.reveal_secrets else REDACTED))


def mail(st: DialogueState, command: Command) -> None:
    _counted(st, command)
    address, params = smtp_text.parse_path(command.parsed.argument, "FROM:")
    step = _step(st, command, address=address, params=params)
    _open_transaction(st, command, address, params)
    st.wait(Pending(command.parsed.verb, step))


def rcpt(st: DialogueState, command: Command) -> None:
    _counted(st, command)
    address, params = smtp_text.parse_path(command.parsed.argument, "TO:")
    step = _step(st, command, address=address, params=params)
    recipient = st.builder.recipient(_current_transaction(st, command), address, params, command.line.frames)
    st.wait(Pending(command.parsed.verb, step, recipient=recipient))


def data(st: DialogueState, command: Command) -> None:
    _counted(st, command)
    step = _step(st, command)
    st.builder.method(_current_transaction(st, command), command.parsed.verb)
    st.wait(Pending(command.parsed.verb, step))


def bdat(st: DialogueState, command: Command) -> None:
    _counted(st, command)
    size, last = smtp_text.parse_bdat(command.parsed.argument)
    step = _step(st, command, size=size, last=last)
    st.builder.method(_current_transaction(st, command), command.parsed.verb, size)
    st.wait(Pending(command.parsed.verb, step))
    if size is not None:
        st.message.bdat(size, last, step)


def quit_(st: DialogueState, command: Command) -> None:
    _counted(st, command)
    st.wait(Pending(command.parsed.verb, _step(st, command)))


def other(st: DialogueState, command: Command) -> None:
    _counted(st, command)
    c = command.parsed
    st.wait(Pending(c.verb, _step(st, command, verb=c.verb, argument=c.argument)))


def reset(st: DialogueState, command: Command) -> None:
    other(st, command)
    st.transaction = None


def nothing(st: DialogueState, subject: object) -> None:
    """Nothing to record: a line torn by missing bytes is dropped (the gap is reported at the end);
    TLS met midway is said by its steps and the session's notes."""


def cut_command(st: DialogueState, command: Command) -> None:
    """A line a snap length cut: the verb it shows waits for its reply; what it named is unknown."""
    st.commands += 1
    c = command.parsed
    name = st.rules.other_command.step  # the verb's own step would claim what the missing bytes said
    facts: dict[str, Any] = {"verb": c.verb, "partial": c.raw, "variant": "cut"}
    if st.pending:
        facts["pipelined"] = True
    step = st.step(name, command.line.frames, command.time, CLIENT, ["C: " + c.raw + "…"], **facts)
    st.wait(Pending("", step))  # no verb's rules apply to a reply of which the command is unknown


def starttls_plaintext(st: DialogueState, frame: int) -> None:
    st.link.tls_active = False
    st.builder.no_tls()
    st.builder.finding("starttls_plaintext", [frame], st.builder.detail("starttls_plaintext"))


def implicit_tls(st: DialogueState, start: TlsStart) -> None:
    port = st.builder.session.server.port
    frames = [start.frame] if start.frame else []
    st.builder.finding("implicit_tls", frames, st.builder.detail("implicit_tls", port=port))


ACTIONS: dict[Action, Callable[[DialogueState, Any], None]] = {
    Action.NOT_SMTP: not_smtp,
    Action.HELLO: hello,
    Action.STARTTLS: starttls,
    Action.AUTH: auth,
    Action.MAIL: mail,
    Action.RCPT: rcpt,
    Action.DATA: data,
    Action.BDAT: bdat,
    Action.QUIT: quit_,
    Action.RESET: reset,
    Action.OTHER: other,
    Action.SASL_RESPONSE: sasl_response,
    Action.TORN_LINE: nothing,
    Action.CUT_COMMAND: cut_command,
    Action.IMPLICIT_TLS: implicit_tls,
    Action.TLS_MIDWAY: nothing,
    Action.STARTTLS_PLAINTEXT: starttls_plaintext,
}
