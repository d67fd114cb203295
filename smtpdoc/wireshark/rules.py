"""The step rules of the Python session machine, read from the catalog.

They are data in the catalog (`steps.toml`: each step's `commands` / `reply_to` and the
`[rules]` table; `findings.toml`: `[colours]`). The catalog loader does not read these keys,
so this module reads them once, checks their shape, and hands them out typed. The profile
takes the finding colours from here; `tests/test_rules.py` checks that the Python machine's
own tables say what `[rules]` says. (The Wireshark plugin no longer reads them: it shows
what `smtpdoc annotate` wrote.)"""

from __future__ import annotations

import functools
import re
import tomllib
from dataclasses import dataclass
from importlib import resources
from typing import Any

from smtpdoc.catalog import CatalogError

_COLOUR = re.compile(r"#[0-9a-f]{6}")


@dataclass(frozen=True)
class Rules:
    """Which line is which step, and the reply codes that change the dialogue's mode."""

    command_steps: dict[str, str]  # verb → step name
    reply_steps: dict[str, str]  # verb → step name of its reply, when the reply is a step of its own
    other_command_step: str
    smtp_ports: tuple[int, ...]
    implicit_tls_ports: tuple[int, ...]
    greeting_code: int
    greeting_codes: tuple[int, ...]
    starttls_go_ahead: int
    data_go_ahead: int
    auth_continue: int
    max_pending_segments: int
    finding_colours: dict[str, str]  # severity → #rrggbb


def _read(name: str) -> dict[str, Any]:
    try:
        text = resources.files("smtpdoc.catalog").joinpath(name).read_text(encoding="utf-8")
        return tomllib.loads(text)
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise CatalogError(f"cannot read catalog file {name}: {error}") from error


def _ints(table: dict[str, Any], key: str) -> tuple[int, ...]:
    value = table.get(key)
    if not isinstance(value, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise CatalogError(f"steps.toml [rules]: '{key}' must be a list of integers, got {value!r}")
    return tuple(value)


def _int(table: dict[str, Any], key: str) -> int:
    value = table.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise CatalogError(f"steps.toml [rules]: '{key}' must be an integer, got {value!r}")
    return value


def _verb_map(steps: list[dict[str, Any]], key: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for row in steps:
        verbs = row.get(key, [])
        if not isinstance(verbs, list) or not all(isinstance(v, str) for v in verbs):
            raise CatalogError(f"steps.toml step {row.get('name')!r}: '{key}' must be a list of verbs")
        for verb in verbs:
            if verb.upper() in out:
                raise CatalogError(f"steps.toml: verb {verb!r} appears in '{key}' of two steps")
            out[verb.upper()] = str(row["name"])
    return out


@functools.cache
def load_rules() -> Rules:
    """Read and check the rule table (once per process)."""
    steps_doc = _read("steps.toml")
    table = steps_doc.get("rules")
    if not isinstance(table, dict):
        raise CatalogError("steps.toml: missing [rules] table")
    steps = steps_doc.get("step", [])
    names = {row.get("name") for row in steps}
    other = table.get("other_command_step")
    if other not in names:
        raise CatalogError(f"steps.toml [rules]: other_command_step {other!r} is not a step")
    colours = _read("findings.toml").get("colours")
    if not isinstance(colours, dict) or not all(isinstance(c, str) and _COLOUR.fullmatch(c) for c in colours.values()):
        raise CatalogError("findings.toml: [colours] must map severities to #rrggbb")
    return Rules(
        command_steps=_verb_map(steps, "commands"),
        reply_steps=_verb_map(steps, "reply_to"),
        other_command_step=str(other),
        smtp_ports=_ints(table, "smtp_ports"),
        implicit_tls_ports=_ints(table, "implicit_tls_ports"),
        greeting_code=_int(table, "greeting_code"),
        greeting_codes=_ints(table, "greeting_codes"),
        starttls_go_ahead=_int(table, "starttls_go_ahead"),
        data_go_ahead=_int(table, "data_go_ahead"),
        auth_continue=_int(table, "auth_continue"),
        max_pending_segments=_int(table, "max_pending_segments"),
        finding_colours={str(k): str(v) for k, v in colours.items()},
    )
