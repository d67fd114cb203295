"""The transition table and the rule constants, as loaded from the catalog (no tshark)."""

from __future__ import annotations

import pytest

from smtpdoc.catalog import CatalogError
from smtpdoc.catalog.rules import Action, Condition, Event, State, Transition, _transition, load_rules

RULES = load_rules()


def _first(state: State, event: Event, verb: str | None = None, code: int | None = None) -> Transition:
    """The first row that applies when no condition holds (the machine checks conditions itself)."""
    rows = [r for r in RULES.rows(state, event, verb) if r.code is None or r.code == code]
    return next(r for r in rows if r.condition is None)


@pytest.mark.parametrize(
    ("state", "event", "verb", "code", "action", "mode"),
    [
        (State.COMMAND, Event.COMMAND, "EHLO", None, Action.HELLO, None),
        (State.COMMAND, Event.COMMAND, "HELO", None, Action.HELLO, None),
        (State.COMMAND, Event.COMMAND, "AUTH", None, Action.AUTH, State.AUTH),
        (State.COMMAND, Event.COMMAND, "DATA", None, Action.DATA, None),
        (State.COMMAND, Event.COMMAND, "RSET", None, Action.RESET, None),
        (State.COMMAND, Event.COMMAND, "NOOP", None, Action.OTHER, None),
        (State.COMMAND, Event.COMMAND, "XYZZY", None, Action.OTHER, None),
        (State.COMMAND, Event.COMMAND, ".", None, Action.OTHER, None),  # "." is only a reply key
        (State.AUTH, Event.COMMAND, "MAIL", None, Action.SASL_RESPONSE, None),
        (State.DATA, Event.MESSAGE_TEXT, None, None, Action.MESSAGE_TEXT, None),
        (State.DATA, Event.MESSAGE_END, None, None, Action.MESSAGE_END, State.COMMAND),
        (State.BDAT, Event.BDAT_CHUNK, None, None, Action.BDAT_CHUNK, None),
        (State.BDAT, Event.GAP, None, None, Action.BDAT_LOST, None),
        (State.COMMAND, Event.GAP, None, None, Action.TORN_LINE, None),
        (State.COMMAND, Event.TLS, None, None, Action.IMPLICIT_TLS, State.TLS),
        (State.COMMAND, Event.REPLY, "STARTTLS", 220, Action.STARTTLS_READY, State.TLS),
        (State.COMMAND, Event.REPLY, "STARTTLS", 454, Action.STARTTLS_REFUSED, None),
        (State.COMMAND, Event.REPLY, "DATA", 354, Action.REPLY, State.DATA),
        (State.COMMAND, Event.REPLY, "DATA", 554, Action.REPLY, None),
        (State.AUTH, Event.REPLY, "AUTH", 334, Action.AUTH_CHALLENGE, None),
        (State.AUTH, Event.REPLY, "AUTH", 235, Action.AUTH_OUTCOME, State.COMMAND),
        (State.AUTH, Event.REPLY, "AUTH", 535, Action.AUTH_OUTCOME, State.COMMAND),
        (State.COMMAND, Event.REPLY, ".", 250, Action.MESSAGE_REPLY, None),
        (State.COMMAND, Event.REPLY, "BDAT", 250, Action.MESSAGE_REPLY, None),
        (State.COMMAND, Event.REPLY, "EHLO", 250, Action.EHLO_REPLY, None),
        (State.COMMAND, Event.REPLY, "NOOP", 250, Action.REPLY, None),
        (State.DATA, Event.UNSOLICITED, None, 220, Action.UNEXPECTED_REPLY, None),
        (State.COMMAND, Event.NOT_REPLY, None, None, Action.NOT_SMTP, None),
    ],
)
def test_the_table_says_what_an_event_means(
    state: State, event: Event, verb: str | None, code: int | None, action: Action, mode: State | None
) -> None:
    row = _first(state, event, verb, code)
    assert (row.action, row.mode) == (action, mode)


@pytest.mark.parametrize(
    ("state", "event", "verb", "condition", "action", "mode"),
    [
        (State.COMMAND, Event.COMMAND, "DATA", Condition.SERVER_SILENT, Action.DATA, State.DATA),
        (State.COMMAND, Event.COMMAND, "BDAT", Condition.CHUNK_SIZE_VALID, Action.BDAT, State.BDAT),
        (State.COMMAND, Event.COMMAND, "EHLO", Condition.FIRST_LINE_MALFORMED, Action.NOT_SMTP, None),
        (State.BDAT, Event.BDAT_CHUNK, None, Condition.CHUNK_COMPLETE, Action.BDAT_CHUNK_END, State.COMMAND),
        (State.BDAT, Event.GAP, None, Condition.CHUNK_COMPLETE, Action.BDAT_LOST_END, State.COMMAND),
        (State.COMMAND, Event.UNSOLICITED, None, Condition.GREETING, Action.GREETING, None),
        (State.COMMAND, Event.TLS, None, Condition.TLS_MIDWAY, Action.TLS_MIDWAY, State.TLS),
    ],
)
def test_conditional_rows_come_first(
    state: State, event: Event, verb: str | None, condition: Condition, action: Action, mode: State | None
) -> None:
    rows = RULES.rows(state, event, verb)
    row = next(r for r in rows if r.condition is condition)
    fallback = next(r for r in rows if r.condition is None)
    assert rows.index(row) < rows.index(fallback)
    assert (row.action, row.mode) == (action, mode)


@pytest.mark.parametrize(
    ("state", "event"),
    [(State.DATA, Event.COMMAND), (State.COMMAND, Event.BDAT_CHUNK), (State.TLS, Event.MESSAGE_END)],
)
def test_an_event_the_state_does_not_expect_has_no_row(state: State, event: Event) -> None:
    assert RULES.rows(state, event, "MAIL" if event is Event.COMMAND else None) == ()


def test_every_action_of_the_table_has_a_handler() -> None:
    from smtpdoc import dialogue

    assert {row.action for row in RULES.transitions} <= set(dialogue._ACTIONS)
    assert set(Action) == set(dialogue._ACTIONS)
    assert set(Condition) == set(dialogue._CONDITIONS)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("smtp_ports", frozenset({25, 587, 465})),
        ("implicit_tls_ports", frozenset({465})),
        ("greeting_codes", frozenset({220, 421, 554})),
        ("starttls_go_ahead", 220),
        ("data_go_ahead", 354),
        ("auth_continue", 334),
        ("max_command_line", 512),
        ("max_reply_line", 512),
        ("max_text_line", 1000),
        ("open_challenges", frozenset({"LOGIN", "CRAM-MD5", "PLAIN"})),
    ],
)
def test_rule_constants_come_from_the_catalog(name: str, value: object) -> None:
    assert getattr(RULES, name) == value


def test_command_steps_come_from_the_step_table() -> None:
    assert RULES.command_step("EHLO").step == "ehlo" and RULES.command_step("EHLO").reply_step == "ehlo_reply"
    assert RULES.command_step("STARTTLS").reply_step == "starttls_reply"
    assert RULES.command_step("MAIL").step == "mail_from" and RULES.command_step("MAIL").reply_step is None
    assert RULES.command_step("VRFY").step == "command"


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"state": "command", "event": "command", "action": "shout"}, "'shout' is not one of"),
        ({"state": "limbo", "event": "command", "action": "other"}, "'limbo' is not one of"),
        ({"state": "*", "event": "reply", "code": "go_ahead", "action": "reply"}, "not an integer key"),
        ({"state": "*", "event": "reply", "if": "full_moon", "action": "reply"}, "'full_moon' is not one of"),
    ],
)
def test_a_typo_in_the_table_fails_at_load_time(row: dict[str, str], message: str) -> None:
    with pytest.raises(CatalogError, match=message):
        _transition(row, "dialogue.toml [[transition]] #1", {"data_go_ahead": 354})


def test_notes_and_details_are_catalog_sentences() -> None:
    assert RULES.notes["not_smtp"].format(detail="x").startswith("This connection does not speak SMTP (x)")
    assert (
        RULES.details["line_too_long"].format(kind="reply", size=600, limit=512)
        == "reply line of 600 bytes (limit 512)"
    )
