"""The `[rules]` table of steps.toml says what the Python session machine does."""

from __future__ import annotations

from smtpdoc import dialogue, reassembly, session
from smtpdoc.wireshark.rules import load_rules


def test_rule_table_matches_the_python_machine() -> None:
    rules = load_rules()
    assert set(rules.command_steps) == set(dialogue._COMMAND_HANDLERS)
    assert set(rules.greeting_codes) == set(dialogue._GREETING_CODES)
    assert set(rules.smtp_ports) == set(session.SMTP_PORTS)
    assert set(rules.implicit_tls_ports) == set(session.IMPLICIT_TLS_PORTS)
    assert rules.max_pending_segments == reassembly._MAX_PENDING
