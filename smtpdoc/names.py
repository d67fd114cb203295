"""The names the session machine gives to what it finds: steps, findings, notes, details.

Literal types, so that a misspelt name fails `mypy --strict`; tests check that each list
equals the catalog's (steps.toml, findings.toml, dialogue.toml), so neither side can drift.
"""

from __future__ import annotations

from typing import Literal

StepName = Literal[
    "tcp_handshake",
    "greeting",
    "ehlo",
    "ehlo_reply",
    "starttls",
    "starttls_reply",
    "tls_handshake",
    "encrypted",
    "auth",
    "mail_from",
    "rcpt_to",
    "data",
    "message",
    "bdat",
    "command",
    "quit",
    "close",
]

FindingName = Literal[
    "no_smtp",
    "mid_session",
    "one_sided",
    "starttls_not_offered",
    "starttls_not_used",
    "starttls_masked",
    "starttls_stripped",
    "starttls_refused",
    "cleartext_after_refusal",
    "auth_cleartext",
    "starttls_injection",
    "no_ehlo_after_tls",
    "starttls_after_tls",
    "tls_old_version",
    "tls_alert",
    "tls_handshake_failure",
    "error_reply",
    "line_too_long",
    "bare_line_ending",
    "data_gap",
    "pipelining_unadvertised",
    "implicit_tls",
    "tls_resumed",
    "unexpected_reply",
    "not_smtp",
    "early_talker",
    "tls_rc4",
    "tls_no_forward_secrecy",
    "smtp_unusual_port",
    "mail_cleartext",
    "auth_brute_force",
    "capture_cut_short",
    "client_left_before_greeting",
    "no_server_reply",
    "message_unfinished",
    "tls_handshake_unfinished",
    "smtp_smuggling",
    "starttls_plaintext",
    "no_connection",
]

NoteName = Literal["mid_session", "no_tcp_handshake", "one_sided", "tls_handshake_unseen", "not_smtp"]

DetailName = Literal[
    "line_too_long",
    "bare_line_ending",
    "bare_line_ending_text",
    "not_smtp",
    "no_smtp_reply",
    "data_gap",
    "implicit_tls",
    "tls_old_version",
    "tls_resumed_psk",
    "tls_resumed_session_id",
    "tls_alert",
    "tls_fatal_alert",
    "tls_closed_early",
    "starttls_injection",
    "starttls_stripped",
    "mid_session",
    "one_sided",
    "unexpected_reply",
    "unexpected_event",
    "client_left_before_greeting",
    "no_server_reply",
    "message_cut",
    "message_unanswered",
    "tls_capture_ends",
    "bare_lf_end",
    "starttls_plaintext",
    "no_connection_refused",
    "no_connection_unanswered",
]
