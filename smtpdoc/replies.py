"""What each reply records (the transition table's reply actions).

A reply has already joined its command's step (or become a step of its own) when its
action runs; none of them changes the dialogue's mode: the table's row does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from smtpdoc import smtp_text
from smtpdoc.catalog.rules import Action
from smtpdoc.dialogue_state import REDACTED, Answer, DialogueState, Pending, reply_lines
from smtpdoc.events import SERVER
from smtpdoc.model import Extension
from smtpdoc.model import Reply as ModelReply


def greeting(st: DialogueState, reply: ModelReply) -> None:
    st.greeted = True
    name, _, banner = reply.lines[0].partition(" ")
    if reply.code == st.rules.greeting_code:
        st.builder.server_name(name or None)
    lines = reply_lines(reply)
    step = st.step(
        "greeting", reply.frames, reply.time, SERVER, lines, code=reply.code, server_name=name, banner=banner
    )
    st.builder.reply_step(step, reply)


def unexpected_reply(st: DialogueState, reply: ModelReply) -> None:
    name = st.rules.other_command.step
    # 421 and 554, the codes a server may also greet with to turn a client away, said unasked
    # mean it is closing the session (RFC 5321 §3.8); any other is a reply nobody asked for.
    closing = reply.code in st.rules.greeting_codes and reply.code != st.rules.greeting_code
    variant = "server_closes" if closing else "unsolicited"
    facts = {"verb": "", "argument": "", "code": reply.code, "variant": variant}
    step = st.step(name, reply.frames, reply.time, SERVER, reply_lines(reply), **facts)
    st.builder.reply_step(step, reply)
    st.builder.finding("unexpected_reply", reply.frames, st.builder.detail("unexpected_reply", code=reply.code))


def reply(st: DialogueState, answer: Answer) -> None:
    """Nothing beyond joining the command's step (or being a step of its own)."""


def ehlo_reply(st: DialogueState, answer: Answer) -> None:
    r, target, b = answer.reply, answer.target, st.builder
    if r.code != st.rules.ehlo_accepted:
        return
    first = smtp_text.parse_ehlo_first_line(r.lines[0])
    server_name: str | None = first.server_name
    echoed = bool(server_name) and st.helo is not None and (server_name or "").lower() == st.helo.lower()
    if echoed:
        b.facts(target, echoed_name=server_name)
        server_name = None  # the server echoed the client's own name back: it is not the server's
    if answer.pending.verb == "HELO":
        # HELO asks for no extensions: what the server offers stays unknown (no list, not an empty
        # one), though the client may use none of them (RFC 5321 §4.1.1.1).
        st.extensions = []
        b.facts(target, server_name=server_name, greeting_text=first.greeting_text, client_address=first.client_address)
        if not st.inside_tls:
            b.names(server=server_name)
        return
    extensions = [Extension(keyword, params) for keyword, params in smtp_text.parse_extensions(r.lines[1:])]
    b.facts(
        target,
        server_name=server_name,
        greeting_text=first.greeting_text,
        client_address=first.client_address,
        extensions=[e.keyword for e in extensions],
        extension_count=len(extensions),
    )
    st.extensions = extensions
    before_tls = b.session.extensions
    b.extensions(extensions, inside_tls=st.inside_tls)
    if not st.inside_tls:
        b.names(server=server_name)
        return
    if not before_tls:
        return  # implicit TLS: there is no cleartext EHLO reply to compare with
    before = {e.keyword.upper() for e in before_tls}
    after = {e.keyword.upper() for e in extensions}
    b.facts(target, added=sorted(after - before), removed=sorted(before - after))


def starttls_ready(st: DialogueState, answer: Answer) -> None:
    st.upgraded = True


def starttls_refused(st: DialogueState, answer: Answer) -> None:
    r = answer.reply
    st.builder.finding("starttls_refused", r.frames, f"{r.code} {' '.join(r.lines)}")


def auth_challenge(st: DialogueState, answer: Answer) -> None:
    # More of the exchange: the same command waits for its final reply.
    step = answer.pending.step
    st.pending.appendleft(Pending(answer.pending.verb, step))
    # LOGIN's prompts ("Username:") and CRAM-MD5's nonce are no secret: show what they
    # say. Other mechanisms' challenges (SCRAM's salt and server signature, NTLM) help
    # an offline password guess, so they stay redacted like the client's answers.
    r = answer.reply
    challenge = " ".join(r.lines)
    shown = st.link.reveal_secrets or step.facts.get("mechanism") in st.rules.open_challenges
    st.builder.lines(step, f"S: {r.code} {smtp_text.with_decoded(challenge) if shown else REDACTED}".rstrip())


def auth_outcome(st: DialogueState, answer: Answer) -> None:
    r, step = answer.reply, answer.pending.step
    # 235 accepted, 4xx/5xx rejected; any other code (a 250 whose AUTH reply the capture lost,
    # say) proves neither: the step says only the code.
    if r.code == st.rules.auth_accepted:
        st.builder.facts(step, outcome="accepted")
    elif r.code >= st.rules.error_from:
        st.builder.facts(step, outcome="rejected")
    st.builder.lines(step, f"S: {r.code} {' '.join(r.lines)}".rstrip())


def message_reply(st: DialogueState, answer: Answer) -> None:
    step = answer.pending.step
    st.builder.facts(step, code=answer.reply.code)
    if st.transaction is not None and st.transaction.message is not None:
        st.builder.facts(step, subject=st.transaction.message.headers.get("subject", ""))


# Replies whose action writes the transcript lines itself.
OWN_LINES = frozenset({Action.AUTH_CHALLENGE, Action.AUTH_OUTCOME})

ACTIONS: dict[Action, Callable[[DialogueState, Any], None]] = {
    Action.GREETING: greeting,
    Action.UNEXPECTED_REPLY: unexpected_reply,
    Action.REPLY: reply,
    Action.EHLO_REPLY: ehlo_reply,
    Action.STARTTLS_READY: starttls_ready,
    Action.STARTTLS_REFUSED: starttls_refused,
    Action.AUTH_CHALLENGE: auth_challenge,
    Action.AUTH_OUTCOME: auth_outcome,
    Action.MESSAGE_REPLY: message_reply,
}
