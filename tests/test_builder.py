"""The builder, the model's one writer: what it merges, keeps once and orders (no tshark)."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pytest

from smtpdoc.builder import SessionBuilder
from smtpdoc.catalog.rules import load_rules
from smtpdoc.model import Endpoint

from conftest import ROOT


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


# -- the builder is the only writer ---------------------------------------------------------
ENGINE = (
    "session",
    "demux",
    "dialogue",
    "dialogue_state",
    "commands",
    "replies",
    "message_reading",
    "message_text",
    "judge",
    "tls_records",
    "tls_phase",
    "readers",
)
_MUTATORS = {"append", "appendleft", "extend", "update", "insert", "clear", "sort", "pop", "remove", "setdefault"}


def _model_fields() -> set[str]:
    """Attribute names only the model has (bookkeeping records of the machine excluded)."""
    from smtpdoc import dialogue_state, message_text, model, tls_phase

    owned = {
        f.name
        for cls in (model.Session, model.Step, model.Transaction, model.Finding, model.TlsSummary, model.Recipient)
        for f in dataclasses.fields(cls)
    }
    scratch = {
        f.name
        for cls in (dialogue_state.DialogueState, dialogue_state.Link, message_text.MessageText, tls_phase.TlsPhase)
        for f in dataclasses.fields(cls)
    }
    return owned - scratch


def _writes(path: Path, names: set[str]) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
            targets = [node.target]
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in _MUTATORS:
            targets = [node.func.value]
        for target in targets:
            while isinstance(target, ast.Subscript):
                target = target.value
            own = isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name) and target.value.id == "self"
            if isinstance(target, ast.Attribute) and target.attr in names and not own:
                found.append(f"{path.name}:{node.lineno} writes .{target.attr}")
    return found


@pytest.mark.parametrize("module", ENGINE)
def test_only_the_builder_writes_the_model(module: str) -> None:
    path = ROOT / "smtpdoc" / f"{module}.py"
    assert _writes(path, _model_fields()) == []


def test_the_write_check_sees_a_write() -> None:
    assert _writes(ROOT / "smtpdoc" / "builder.py", _model_fields())


def test_only_the_machine_changes_the_dialogue_state() -> None:
    for module in ENGINE:
        if module == "dialogue":
            continue
        assert _writes(ROOT / "smtpdoc" / f"{module}.py", {"mode"}) == [], module
