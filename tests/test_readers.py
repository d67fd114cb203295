"""The readers cut SMTP events from bytes and nothing more (hand-built bytes, no tshark)."""

from __future__ import annotations

import pytest

from smtpdoc.events import BdatChunk, CommandLine, Gap, MessageChunk, MessageEnd, NotReplyLine, Reply, ReplyLine
from smtpdoc.readers import ClientReader, ServerReader
from smtpdoc.reassembly import ByteStream


def _stream(*segments: tuple[bytes, int]) -> ByteStream:
    """A stream fed these (bytes, frame) segments back to back."""
    stream = ByteStream(max_pending=32)
    seq = 1
    for data, frame in segments:
        stream.add(seq, data, frame, float(frame))
        seq += len(data)
    return stream


def _server_events(*segments: tuple[bytes, int]) -> list[object]:
    reader = ServerReader(_stream(*segments))
    events = []
    while (event := reader.next_event()) is not None:
        events.append(event)
    return events


@pytest.mark.parametrize(
    ("segments", "expected"),
    [
        (
            [(b"220 mx ready\r\n", 4)],
            [ReplyLine(220, True, "mx ready", b"220 mx ready\r\n", (4,), 4.0), Reply(220, ("mx ready",), (4,), 4.0)],
        ),
        (
            [(b"250-mx\r\n250-PIPE", 6), (b"LINING\r\n250 SIZE 10\r\n", 7)],
            [
                ReplyLine(250, False, "mx", b"250-mx\r\n", (6,), 6.0),
                ReplyLine(250, False, "PIPELINING", b"250-PIPELINING\r\n", (6, 7), 6.0),
                ReplyLine(250, True, "SIZE 10", b"250 SIZE 10\r\n", (7,), 7.0),
                Reply(250, ("mx", "PIPELINING", "SIZE 10"), (6, 7), 6.0),
            ],
        ),
        (
            # A whole reply in one frame, another reply behind it: cut at once, read as line by line.
            [(b"250-mx\r\n250-PIPELINING\r\n250 SIZE 10\r\n354 go\r\n", 8)],
            [
                ReplyLine(250, False, "mx", b"250-mx\r\n", (8,), 8.0),
                ReplyLine(250, False, "PIPELINING", b"250-PIPELINING\r\n", (8,), 8.0),
                ReplyLine(250, True, "SIZE 10", b"250 SIZE 10\r\n", (8,), 8.0),
                Reply(250, ("mx", "PIPELINING", "SIZE 10"), (8,), 8.0),
                ReplyLine(354, True, "go", b"354 go\r\n", (8,), 8.0),
                Reply(354, ("go",), (8,), 8.0),
            ],
        ),
        (
            # A line that is no reply line inside one frame: read one by one, it is said where it is.
            [(b"250-mx\r\nHTTP/1.0 200 OK\r\n250 ok\r\n", 8)],
            [
                ReplyLine(250, False, "mx", b"250-mx\r\n", (8,), 8.0),
                NotReplyLine(b"HTTP/1.0 200 OK\r\n", (8,), 8.0),
                ReplyLine(250, True, "ok", b"250 ok\r\n", (8,), 8.0),
                Reply(250, ("mx", "ok"), (8,), 8.0),
            ],
        ),
        (
            # The reply's last line comes in the next frame: not cut at once.
            [(b"250-mx\r\n250-8BITMIME\r\n", 8), (b"250 SIZE 10\r\n", 9)],
            [
                ReplyLine(250, False, "mx", b"250-mx\r\n", (8,), 8.0),
                ReplyLine(250, False, "8BITMIME", b"250-8BITMIME\r\n", (8,), 8.0),
                ReplyLine(250, True, "SIZE 10", b"250 SIZE 10\r\n", (9,), 9.0),
                Reply(250, ("mx", "8BITMIME", "SIZE 10"), (8, 9), 8.0),
            ],
        ),
        ([(b"HTTP/1.0 200 OK\r\n", 3)], [NotReplyLine(b"HTTP/1.0 200 OK\r\n", (3,), 3.0)]),
        ([(b"220 no line end yet", 3)], []),
    ],
    ids=[
        "one-line",
        "multi-line-split",
        "whole-reply-in-one-frame",
        "not-a-reply-inside-one-frame",
        "last-line-in-the-next-frame",
        "not-a-reply",
        "incomplete",
    ],
)
def test_server_reader_cuts_reply_lines_then_the_reply(
    segments: list[tuple[bytes, int]], expected: list[object]
) -> None:
    assert _server_events(*segments) == expected


def test_client_reader_cuts_lines_and_sees_a_command_behind_in_the_same_frame() -> None:
    reader = ClientReader(_stream((b"STARTTLS\r\nEHLO x\r\n", 9)), max_text_line=1000)
    first = reader.next_line()
    assert first == CommandLine(b"STARTTLS\r\n", (9,), 9.0)
    assert reader.more_in_frame(first.frames)
    assert reader.next_line() == CommandLine(b"EHLO x\r\n", (9,), 9.0)
    assert not reader.more_in_frame((9,))
    assert reader.next_line() is None


@pytest.mark.parametrize(
    ("segments", "at_start", "chunk", "end"),
    [
        (
            [(b"Subject: hi\r\n\r\nbody\r\n.\r\n", 5)],
            True,
            MessageChunk(b"Subject: hi\r\n\r\nbody\r\n", (5,), 5.0),
            (5,),
        ),
        ([(b".\r\n", 5)], True, MessageChunk(b"", (5,), 5.0), (5,)),
        ([(b"line one\r\nline tw", 5)], True, MessageChunk(b"line one\r\n", (5,), 5.0), None),
        ([(b"text\r\n.", 5), (b"\r\n", 6)], False, MessageChunk(b"text\r\n", (5, 6), 5.0), (5, 6)),
    ],
    ids=["whole-message", "empty-message", "whole-lines-only", "terminator-split"],
)
def test_client_reader_reads_message_text_up_to_the_dot(
    segments: list[tuple[bytes, int]], at_start: bool, chunk: MessageChunk, end: tuple[int, ...] | None
) -> None:
    reader = ClientReader(_stream(*segments), max_text_line=1000)
    assert reader.next_message(at_start=at_start) == chunk
    found = reader.message_end()
    assert (found.frames if isinstance(found, MessageEnd) else None) == end


def test_client_reader_holds_a_short_unterminated_line_and_passes_on_an_absurd_one() -> None:
    short = ClientReader(_stream((b"no newline", 5)), max_text_line=10)
    assert short.next_message(at_start=False) is None
    long = ClientReader(_stream((b"x" * 700, 5)), max_text_line=10)  # more than 64 lines of 10
    event = long.next_message(at_start=False)
    assert isinstance(event, MessageChunk) and len(event.data) == 696


def test_client_reader_counts_a_bdat_chunk_up_to_its_size() -> None:
    reader = ClientReader(_stream((b"abcdefQUIT\r\n", 8)), max_text_line=1000)
    assert reader.bdat_gap(6) is None
    assert reader.bdat_bytes(6) == BdatChunk(b"abcdef", (8,), 8.0)
    assert reader.next_line() == CommandLine(b"QUIT\r\n", (8,), 8.0)


def test_client_reader_reports_lost_chunk_bytes_as_a_gap() -> None:
    stream = ByteStream(max_pending=32)
    stream.add(1, b"BDAT 8 LAST\r\n", 3, 3.0)
    stream.add(1 + 13 + 5, b"xyz", 5, 5.0)  # five bytes of the chunk never captured
    assert stream.skip_hole()
    reader = ClientReader(stream, max_text_line=1000)
    assert reader.next_line() == CommandLine(b"BDAT 8 LAST\r\n", (3,), 3.0)
    assert reader.bdat_gap(8) == Gap(size=5)
    assert reader.bdat_bytes(3) == BdatChunk(b"xyz", (5,), 5.0)


def test_client_reader_drops_a_line_torn_by_a_gap() -> None:
    stream = ByteStream(max_pending=32)
    stream.add(1, b"MAIL FROM:<a", 3, 3.0)
    stream.add(1 + 12 + 4, b"b>\r\nRCPT TO:<c>\r\n", 5, 5.0)
    assert stream.skip_hole()
    reader = ClientReader(stream, max_text_line=1000)
    torn = reader.torn_line()
    assert torn == Gap(size=16, frames=(3, 5))
    assert reader.next_line() == CommandLine(b"RCPT TO:<c>\r\n", (5,), 5.0)


def test_client_reader_ends_message_text_where_a_snap_length_cut_it() -> None:
    stream = ByteStream(max_pending=32)
    stream.add(1, b"From: a\r\nTo: ", 15, 15.0, cut=28)  # 41 bytes sent, 13 captured
    stream.add(42, b"Subject: x\r\n\r\nbody\r\n.\r\n", 17, 17.0)
    reader = ClientReader(stream, max_text_line=1000)
    first = reader.next_message(at_start=True)
    assert first == MessageChunk(b"From: a\r\nTo: ", (15,), 15.0, lost=28)  # not joined to "Subject: x"
    assert reader.next_message(at_start=False) == MessageChunk(b"Subject: x\r\n\r\nbody\r\n", (17,), 17.0)
    assert reader.message_end() == MessageEnd((17,), 17.0)


def test_pass_through_takes_a_segment_that_comes_next_and_nothing_else() -> None:
    stream = _stream((b"220 mx\r\n", 4))
    assert not stream.pass_through(9, 5)  # bytes still unread: add and discard decide
    stream.discard()
    assert not stream.pass_through(20, 5)  # a hole before it
    assert not stream.pass_through(5, 4)  # bytes seen before
    assert stream.pass_through(9, 5)
    assert (stream.next_seq, stream.consumed, stream.total, len(stream)) == (14, 13, 13, 0)
