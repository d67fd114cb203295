"""What message bytes record (the transition table's DATA and BDAT actions).

DATA text is checked line by line (bare CR/LF, over-long lines) and kept for its summary
up to the final dot; BDAT chunks are counted against their announced size, and bytes the
capture lost count as sent. None of these changes the dialogue's mode: the table's row does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from smtpdoc.catalog.rules import Action, State
from smtpdoc.dialogue_state import DialogueState, Pending, reply_lines
from smtpdoc.events import CLIENT, BdatChunk, Gap, MessageChunk, MessageEnd
from smtpdoc.model import Reply as ModelReply
from smtpdoc.model import Step


def message_text(st: DialogueState, chunk: MessageChunk) -> None:
    b = st.builder
    if st.message.step is None:
        st.message.step = st.step("message", chunk.frames, b.rel(chunk.time), CLIENT)
    else:
        b.add_frames(st.message.step, chunk.frames)
    text = chunk.data
    if st.message.after_cut:
        text = text.removeprefix(b"\n")  # a cut may have fallen between CR and LF
    if chunk.lost:
        text = text.removesuffix(b"\r")
    st.message.add(chunk.data, chunk.lost)
    limit = st.rules.max_text_line
    for line in text.split(b"\n"):
        if len(line) + 1 > limit:
            detail = b.detail("line_too_long", kind="message", size=len(line) + 1, limit=limit)
            b.finding("line_too_long", chunk.frames, detail)
            break
    stripped = text.replace(b"\r\n", b"")
    kinds = [kind for kind, byte in (("bare LF", b"\n"), ("bare CR", b"\r")) if byte in stripped]
    if kinds:
        b.finding("bare_line_ending", chunk.frames, b.detail("bare_line_ending_text", problems=" and ".join(kinds)))


def message_end(st: DialogueState, end: MessageEnd) -> None:
    step = st.message.step
    assert step is not None
    summarise(st, step, truncated=len(st.message.kept) < st.message.size)
    st.wait(Pending(".", step))
    st.transaction = None


def bare_lf_end(st: DialogueState, reply: ModelReply) -> None:
    """The server answered while the message so far ends in LF . LF: that was its end."""
    rest = st.client_reader.rest()
    if rest is not None:
        message_text(st, MessageChunk(rest.data[:-2], rest.frames, rest.time))  # the text, not the dot line
    step = st.message.step
    assert step is not None  # the row's condition
    b = st.builder
    b.finding("smtp_smuggling", step.frames[-1:], b.detail("bare_lf_end", code=reply.code))
    summarise(st, step, truncated=len(st.message.kept) < st.message.size)
    b.answer(step, reply, reply_lines(reply))
    if st.transaction is not None:
        b.facts(step, subject=st.transaction.message.headers.get("subject", "") if st.transaction.message else "")
        b.last_reply(st.transaction, reply)
    st.transaction = None


def message_cut_end(st: DialogueState, reply: ModelReply) -> None:
    """The server answered the message a snap length cut: its end was in the missing bytes."""
    rest = st.client_reader.rest()
    if rest is not None:
        message_text(st, MessageChunk(rest.data, rest.frames, rest.time))
    step = st.message.step
    b = st.builder
    if step is None:  # not one byte of the message text was captured
        return
    summarise(st, step, truncated=True)
    b.answer(step, reply, reply_lines(reply))
    if st.transaction is not None:
        b.facts(step, subject=st.transaction.message.headers.get("subject", "") if st.transaction.message else "")
        b.last_reply(st.transaction, reply)
    st.transaction = None


def summarise(st: DialogueState, step: Step, truncated: bool) -> None:
    """The message as read so far is the transaction's."""
    message = st.message.summary(dot_stuffed=st.mode is State.DATA, truncated=truncated or st.message_truncated(step))
    st.builder.message(st.transaction, step, message, "message_size" if step.name == "bdat" else "size")


def bdat_chunk(st: DialogueState, chunk: BdatChunk) -> None:
    st.message.bdat_left -= len(chunk.data)
    step = st.message.bdat_step
    if step is not None and chunk.frames:
        st.builder.add_frames(step, chunk.frames)
    st.message.add(chunk.data)


def bdat_chunk_end(st: DialogueState, chunk: BdatChunk) -> None:
    bdat_chunk(st, chunk)
    _bdat_done(st, truncated=False)


def bdat_lost(st: DialogueState, gap: Gap) -> None:
    st.message.bdat_left -= gap.size
    st.message.size += gap.size


def bdat_lost_end(st: DialogueState, gap: Gap) -> None:
    bdat_lost(st, gap)
    _bdat_done(st, truncated=True)


def _bdat_done(st: DialogueState, truncated: bool) -> None:
    if st.message.bdat_last and st.message.bdat_step is not None:
        summarise(st, st.message.bdat_step, truncated=truncated)
        st.transaction = None  # BDAT LAST ends the transaction


ACTIONS: dict[Action, Callable[[DialogueState, Any], None]] = {
    Action.MESSAGE_TEXT: message_text,
    Action.MESSAGE_END: message_end,
    Action.BDAT_CHUNK: bdat_chunk,
    Action.BDAT_CHUNK_END: bdat_chunk_end,
    Action.BDAT_LOST: bdat_lost,
    Action.BDAT_LOST_END: bdat_lost_end,
    Action.BARE_LF_END: bare_lf_end,
    Action.MESSAGE_CUT_END: message_cut_end,
}
