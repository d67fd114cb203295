"""The session machine's rules, read once from the catalog: constants and the transition table.

`steps.toml` holds the protocol constants (`[rules]`) and which step each command verb is
(`commands`, `reply_to`); `dialogue.toml` holds what each event means in each state
(`[[transition]]`) and the sentences the machine may say (`[notes]`, `[details]`). Every
name the machine uses to act on a row (states, events, conditions, actions) is checked here,
so a typo in the table fails at load time, not halfway through a capture.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast, get_args

from smtpdoc.catalog._tables import _int, _read, _rows, _str
from smtpdoc.catalog.entries import CatalogError
from smtpdoc.names import DetailName, NoteName, StepName


class State(enum.Enum):
    """The dialogue's modes: how the client's next bytes are read."""

    COMMAND = "command"  # client lines are commands
    AUTH = "auth"  # client lines are SASL responses until the final reply
    DATA = "data"  # client bytes are the message, up to CRLF.CRLF
    BDAT = "bdat"  # client bytes are a chunk of announced size
    TLS = "tls"  # both directions carry TLS records
    TUNNEL = "tunnel"  # both directions carry a proxy tunnel's set-up (smtpdoc.tunnel)

    __hash__ = object.__hash__  # members are singletons; Enum's own hash is slow Python


class Event(enum.Enum):
    """The kinds of SMTP event a row of the table is about."""

    COMMAND = "command"
    REPLY = "reply"
    UNSOLICITED = "unsolicited"
    NOT_REPLY = "not_reply"
    MESSAGE_TEXT = "message_text"
    MESSAGE_END = "message_end"
    BDAT_CHUNK = "bdat_chunk"
    GAP = "gap"
    TLS = "tls"
    PLAINTEXT = "plaintext"  # SMTP text where TLS records were due (after STARTTLS's 220)
    CUT = "cut"  # a client line whose frame a snap length cut
    TUNNEL = "tunnel"  # a proxy tunnel's set-up message (smtpdoc.tunnel)

    __hash__ = object.__hash__


class Condition(enum.Enum):
    FIRST_LINE_MALFORMED = "first_line_malformed"
    SERVER_SILENT = "server_silent"
    CHUNK_SIZE_VALID = "chunk_size_valid"
    CHUNK_COMPLETE = "chunk_complete"
    GREETING = "greeting"
    BARE_LF_END = "bare_lf_end"
    MESSAGE_CUT = "message_cut"
    TUNNEL_GRANTED = "tunnel_granted"
    TUNNEL_REFUSED = "tunnel_refused"
    NOT_A_PROXY = "not_a_proxy"
    PROXY_HEADER = "proxy_header"
    TLS_MIDWAY = "tls_midway"

    __hash__ = object.__hash__


class Action(enum.Enum):
    NOT_SMTP = "not_smtp"
    HELLO = "hello"
    STARTTLS = "starttls"
    AUTH = "auth"
    MAIL = "mail"
    RCPT = "rcpt"
    DATA = "data"
    BDAT = "bdat"
    QUIT = "quit"
    RESET = "reset"
    OTHER = "other"
    SASL_RESPONSE = "sasl_response"
    MESSAGE_TEXT = "message_text"
    MESSAGE_END = "message_end"
    BDAT_CHUNK = "bdat_chunk"
    BDAT_CHUNK_END = "bdat_chunk_end"
    BDAT_LOST = "bdat_lost"
    BDAT_LOST_END = "bdat_lost_end"
    TORN_LINE = "torn_line"
    IMPLICIT_TLS = "implicit_tls"
    TLS_MIDWAY = "tls_midway"
    EHLO_REPLY = "ehlo_reply"
    STARTTLS_READY = "starttls_ready"
    STARTTLS_REFUSED = "starttls_refused"
    REPLY = "reply"
    AUTH_CHALLENGE = "auth_challenge"
    AUTH_OUTCOME = "auth_outcome"
    MESSAGE_REPLY = "message_reply"
    GREETING = "greeting"
    UNEXPECTED_REPLY = "unexpected_reply"
    BARE_LF_END = "bare_lf_end"
    STARTTLS_PLAINTEXT = "starttls_plaintext"
    CUT_COMMAND = "cut_command"
    MESSAGE_CUT_END = "message_cut_end"
    TUNNEL_REQUEST = "tunnel_request"
    TUNNEL_MESSAGE = "tunnel_message"
    TUNNEL_OPEN = "tunnel_open"
    TUNNEL_REFUSED = "tunnel_refused"
    TUNNEL_NOT_PROXY = "tunnel_not_proxy"
    PROXY_HEADER = "proxy_header"

    __hash__ = object.__hash__


ANY_VERB = "*"
_Key = tuple["State", "Event", "str | None"]


@dataclass(frozen=True, slots=True)
class Transition:
    """One row: when `event` arrives in `state` (and `verbs`, `code`, `condition` hold)."""

    state: State | None  # None: any state
    event: Event
    verbs: frozenset[str] | None  # None: the row does not look at the verb
    code: int | None
    condition: Condition | None
    action: Action
    mode: State | None  # the state that follows; None: unchanged


@dataclass(frozen=True, slots=True)
class CommandStep:
    """What a command verb is: its step, and the step of its reply when that is one of its own."""

    step: StepName
    reply_step: StepName | None


@dataclass(frozen=True, eq=False)
class Rules:
    smtp_ports: frozenset[int]
    implicit_tls_ports: frozenset[int]
    other_tls_ports: frozenset[int]
    greeting_code: int
    greeting_codes: frozenset[int]
    starttls_go_ahead: int
    data_go_ahead: int
    auth_continue: int
    auth_accepted: int
    ehlo_accepted: int
    error_from: int
    max_pending_segments: int
    max_command_line: int
    max_reply_line: int
    max_text_line: int
    message_keep: int
    open_challenges: frozenset[str]
    tls_close_notify: int
    tls_fatal: int
    commands: Mapping[str, CommandStep]  # verb → its steps; other verbs: `other_command`
    other_command: CommandStep
    transitions: tuple[Transition, ...]
    notes: Mapping[NoteName, str]
    details: Mapping[DetailName, str]
    index: Mapping[_Key, tuple[Transition, ...]]  # (state, event, verb) → candidate rows
    named_verbs: frozenset[str]

    def rows(self, state: State, event: Event, verb: str | None = None) -> tuple[Transition, ...]:
        """The rows that may apply, in table order (the first whose code and condition hold wins)."""
        if verb is not None and verb not in self.named_verbs:
            verb = ANY_VERB
        return self.index[state, event, verb]

    def command_step(self, verb: str) -> CommandStep:
        return self.commands.get(verb, self.other_command)


_INT_RULES = (
    "greeting_code",
    "starttls_go_ahead",
    "data_go_ahead",
    "auth_continue",
    "auth_accepted",
    "ehlo_accepted",
    "error_from",
    "max_pending_segments",
    "max_command_line",
    "max_reply_line",
    "max_text_line",
    "message_keep",
    "tls_close_notify",
    "tls_fatal",
)


def _ints(table: Mapping[str, Any], key: str) -> frozenset[int]:
    value = table.get(key)
    if not isinstance(value, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise CatalogError(f"steps.toml [rules]: '{key}' must be a list of integers, got {value!r}")
    return frozenset(value)


def _strs(table: Mapping[str, Any], key: str, where: str) -> list[str]:
    value = table.get(key)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise CatalogError(f"{where}: '{key}' must be a list of strings, got {value!r}")
    return [str(v) for v in value]


def _enum(kind: type[enum.Enum], value: object, where: str) -> Any:
    try:
        return kind(value)
    except ValueError:
        known = ", ".join(str(m.value) for m in kind)
        raise CatalogError(f"{where}: {value!r} is not one of {known}") from None


def _step(name: object, where: str) -> StepName:
    if name not in get_args(StepName):
        raise CatalogError(f"{where}: {name!r} is not a step the machine knows")
    return cast(StepName, name)


def _commands(steps: list[Mapping[str, Any]]) -> dict[str, CommandStep]:
    command_of: dict[str, StepName] = {}
    reply_of: dict[str, StepName] = {}
    for where, row in _rows({"step": steps}, "step", "steps.toml"):
        name = _step(row.get("name"), where)
        for key, target in (("commands", command_of), ("reply_to", reply_of)):
            for verb in _strs(row, key, where) if key in row else []:
                if verb.upper() in target:
                    raise CatalogError(f"steps.toml: verb {verb!r} appears in '{key}' of two steps")
                target[verb.upper()] = name
    if set(reply_of) - set(command_of):
        raise CatalogError(
            f"steps.toml: 'reply_to' names verbs no step's 'commands' has: {set(reply_of) - set(command_of)}"
        )
    return {verb: CommandStep(step, reply_of.get(verb)) for verb, step in command_of.items()}


def _transition(row: Mapping[str, Any], where: str, ints: Mapping[str, int]) -> Transition:
    state = row.get("state")
    code = row.get("code")
    if code is not None and code not in ints:
        raise CatalogError(f"{where}: code {code!r} is not an integer key of steps.toml [rules]")
    verbs = frozenset(v.upper() for v in _strs(row, "verbs", where)) if "verbs" in row else None
    return Transition(
        state=None if state == "*" else _enum(State, state, where),
        event=_enum(Event, row.get("event"), where),
        verbs=verbs,
        code=ints[code] if code is not None else None,
        condition=_enum(Condition, row["if"], where) if "if" in row else None,
        action=_enum(Action, _str(row, "action", where), where),
        mode=_enum(State, row["mode"], where) if "mode" in row else None,
    )


def _texts(doc: Mapping[str, Any], key: str, names: tuple[str, ...]) -> dict[Any, str]:
    table = doc.get(key)
    if not isinstance(table, dict):
        raise CatalogError(f"dialogue.toml: missing [{key}] table")
    if set(table) != set(names):
        raise CatalogError(f"dialogue.toml [{key}]: expected exactly {sorted(names)}, got {sorted(table)}")
    return {name: _str(table, name, f"dialogue.toml [{key}]") for name in names}


@functools.cache
def load_rules() -> Rules:
    """Read and check the machine's rules (once per process)."""
    steps_doc = _read("steps.toml")
    table = steps_doc.get("rules")
    if not isinstance(table, dict):
        raise CatalogError("steps.toml: missing [rules] table")
    ints = {key: _int(table, key, "steps.toml [rules]") for key in _INT_RULES}
    dialogue = _read("dialogue.toml")
    transitions = tuple(_transition(row, where, ints) for where, row in _rows(dialogue, "transition", "dialogue.toml"))
    verbs, index = _index(transitions)
    other = CommandStep(_step(table.get("other_command_step"), "steps.toml [rules] other_command_step"), None)
    return Rules(
        smtp_ports=_ints(table, "smtp_ports"),
        implicit_tls_ports=_ints(table, "implicit_tls_ports"),
        other_tls_ports=_ints(table, "other_tls_ports"),
        greeting_codes=_ints(table, "greeting_codes"),
        open_challenges=frozenset(v.upper() for v in _strs(table, "open_challenges", "steps.toml [rules]")),
        commands=_commands(steps_doc.get("step", [])),
        other_command=other,
        transitions=transitions,
        notes=_texts(dialogue, "notes", get_args(NoteName)),
        details=_texts(dialogue, "details", get_args(DetailName)),
        index=index,
        named_verbs=verbs,
        **ints,
    )


def _index(transitions: tuple[Transition, ...]) -> tuple[frozenset[str], dict[_Key, tuple[Transition, ...]]]:
    """Every (state, event, verb) the machine can meet → its candidate rows, worked out once.

    A verb no row names is looked up as '*'; a row with '*' matches every verb that no other
    row of its state and event names.
    """
    named: dict[tuple[State | None, Event], set[str]] = {}
    for row in transitions:
        named.setdefault((row.state, row.event), set()).update((row.verbs or frozenset()) - {ANY_VERB})
    verbs = frozenset(v for row in transitions for v in row.verbs or ())
    index: dict[_Key, tuple[Transition, ...]] = {}
    for state in State:
        for event in Event:
            for verb in (None, *verbs):
                index[state, event, verb] = tuple(
                    row
                    for row in transitions
                    if row.state in (None, state)
                    and row.event is event
                    and (
                        row.verbs is None
                        or verb in row.verbs
                        or (ANY_VERB in row.verbs and verb not in named[row.state, row.event])
                    )
                )
    return verbs, index
