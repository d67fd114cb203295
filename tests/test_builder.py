"""The builder, the model's one writer: what it merges, keeps once and orders (no tshark)."""

from __future__ import annotations

import pytest

from smtpdoc.builder import SessionBuilder
from smtpdoc.catalog.rules import load_rules
from smtpdoc.model import Endpoint


@pytest.fixture
def b() -> SessionBuilder:
    builder = SessionBuilder(3, load_rules())
    builder.start(100.0, 1, Endpoint("127.0.0.1", 40000), Endpoint("127.0.0.1", 25))
    return builder


def test_a_frame_belongs_to_the_first_step_that_names_it(b: SessionBuilder) -> None:
    mail = b.step("mail_from", [5], b.rel(100.5), "client")
    b.step("rcpt_to", [5, 6], b.rel(100.6), "client")
    b.add_frames(mail, [7, 5])
    assert mail.frames == [5, 7]
    assert b.session.frame_steps == {5: "mail_from", 6: "rcpt_to", 7: "mail_from"}
    assert mail.time == 0.5


@pytest.mark.parametrize(
    ("calls", "expected"),
    [
        (
            [("bare_line_ending", [4], "bare LF"), ("bare_line_ending", [6], "bare CR")],
            [("bare_line_ending", [4, 6], "bare LF")],
        ),
        (
            [("error_reply", [4], "550 no"), ("error_reply", [6], "550 no"), ("error_reply", [8], "451 later")],
            [("error_reply", [4, 6], "550 no"), ("error_reply", [8], "451 later")],
        ),
    ],
    ids=["once-per-name", "error-replies-per-detail"],
)
def test_findings_are_kept_once(
    b: SessionBuilder, calls: list[tuple[str, list[int], str]], expected: list[tuple[str, list[int], str]]
) -> None:
    for name, frames, detail in calls:
        b.finding(name, frames, detail)  # type: ignore[arg-type]
    assert [(f.name, f.frames, f.detail) for f in b.session.findings] == expected


def test_notes_and_details_are_the_catalogs_sentences(b: SessionBuilder) -> None:
    b.note("one_sided", side="client")
    assert b.session.notes == ["Only the client's side of this session is in the capture."]
    assert b.detail("data_gap", size=12) == "12 bytes missing"


def test_a_connection_that_is_no_smtp_keeps_only_its_tcp_steps(b: SessionBuilder) -> None:
    b.step("tcp_handshake", [1, 2, 3], 0.0, "both")
    b.step("command", [4], 0.1, "client")
    b.step("close", [9], 0.9, "client")
    b.finding("not_smtp", [4], "client sent 'GET /'")
    b.finding("error_reply", [5], "500 what")
    b.keep_only(frozenset({"tcp_handshake", "close"}), "not_smtp")
    assert [s.name for s in b.session.steps] == ["tcp_handshake", "close"]
    assert 4 not in b.session.frame_steps
    assert [f.name for f in b.session.findings] == ["not_smtp"]


def test_steps_are_ordered_by_first_frame_at_the_end(b: SessionBuilder) -> None:
    b.step("close", [9], 0.9, "client")
    b.step("tcp_handshake", [1], 0.0, "both")
    assert [s.name for s in b.finish().steps] == ["tcp_handshake", "close"]
