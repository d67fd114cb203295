"""Message text in frames a snap length cut (frame.cap_len < frame.len) is partial, and says so.

tests/data/snaplen-80.pcapng: the whole message goes out in frame 15 (317 bytes), the capture
keeps 14 of them ("Subject: plain"). tests/data/snaplen-message.pcapng (tcpdump -s 100, 34
bytes of SMTP per frame): the message goes out in four writes, frames 15 (62 bytes, 34 kept:
"From: Bob <bob@example.test>\\r\\nTo: "), 17 (52, 34 kept: "Subject: a message sent in four
se"), 19 (13, whole) and 21 (the final dot). The kept pieces are never joined into lines: the
headers come from the text before the first cut, and a header that cut ends in "…".
"""

from __future__ import annotations

import json

from smtpdoc.model import Session, Step

from conftest import DATA, EXAMPLES, run_cli, sessions_of


def _message_step(session: Session) -> Step:
    (step,) = [step for step in session.steps if step.name == "message"]
    return step


def test_a_message_cut_in_one_frame_is_partial_and_its_subject_marked() -> None:
    (session,) = sessions_of(DATA / "snaplen-80.pcapng")
    (transaction,) = session.transactions
    message = transaction.message
    assert message is not None
    assert (message.size, message.captured, message.truncated) == (317, 14, True)  # sent, kept
    assert message.headers == {"subject": "plain…"}  # the Subject line went on past the cut
    step = _message_step(session)
    assert step.frames == [15, 16] and (step.facts["size"], step.facts["captured"]) == (317, 14)
    assert step.summary == (
        "A message of up to 317 bytes (subject: plain…) was accepted: the server answered 250. A snap "
        "length cut its frames: the capture keeps only 14 bytes of it, so its text and headers are partial."
    )


def test_pieces_of_a_cut_message_are_never_joined_into_headers() -> None:
    (session,) = sessions_of(DATA / "snaplen-message.pcapng")
    (transaction,) = session.transactions
    message = transaction.message
    assert message is not None
    assert (message.size, message.captured, message.truncated) == (62 + 52 + 13, 34 + 34 + 13, True)
    # "To: " was cut: its value is unknown, and the next frame's "Subject: ..." is not it.
    assert message.headers == {"from": "Bob <bob@example.test>", "to": "…"}
    step = _message_step(session)
    assert step.frames == [15, 17, 19, 21, 23]
    assert step.summary.startswith("A message of up to 127 bytes was accepted: the server answered 250.")
    assert "the capture keeps only 81 bytes of it" in step.summary
    names = {f.name for f in session.findings}
    assert "bare_line_ending" not in names and "line_too_long" not in names  # a cut is no line end
    (cut,) = [f for f in session.findings if f.name == "snaplen_cut"]
    assert cut.frames == [4, 8, 14, 15, 17, 23]


def test_a_whole_message_says_nothing_of_cuts() -> None:
    (session,) = sessions_of(EXAMPLES / "plain.pcapng")
    (transaction,) = session.transactions
    assert transaction.message is not None and transaction.message.captured is None
    assert not transaction.message.truncated
    step = _message_step(session)
    assert "captured" not in step.facts and "snap length" not in step.summary
    assert step.summary.startswith("A message of 3")  # no "up to"


def test_every_format_marks_the_cut_message() -> None:
    done = run_cli("explain", str(DATA / "snaplen-message.pcapng"), "--format", "json")
    assert done.returncode == 0, done.stderr
    (tr,) = json.loads(done.stdout)["sessions"][0]["transactions"]
    assert tr["message"]["captured"] == 81 and tr["message"]["size"] == 127 and tr["message"]["truncated"] is True
    text = run_cli("explain", str(DATA / "snaplen-message.pcapng"), "--no-color").stdout
    assert "127 bytes (81 captured)" in text
    markdown = run_cli("explain", str(DATA / "snaplen-message.pcapng"), "--format", "markdown").stdout
    assert "DATA, 127 bytes (81 captured)" in markdown
