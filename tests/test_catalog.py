"""Tests of the catalog loader and the shape of the shipped catalog data."""

from __future__ import annotations

import dataclasses
import re
import string

import pytest

from smtpdoc.catalog import (
    Catalog,
    CommandInfo,
    EnhancedInfo,
    ExtensionInfo,
    FindingInfo,
    ReplyInfo,
    StepInfo,
    load_catalog,
)


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


# name -> (number, walkthrough step, placeholders the summary may use)
STEPS: dict[str, tuple[int, int | None, frozenset[str]]] = {
    "tcp_handshake": (1, 2, frozenset({"client", "server", "rtt_ms"})),
    "greeting": (2, 2, frozenset({"server_name", "banner"})),
    "ehlo": (3, 3, frozenset({"verb", "client_name"})),
    "ehlo_reply": (
        4,
        4,
        frozenset(
            {"verb", "server_name", "greeting_text", "client_address", "extension_count", "added", "removed", "echoed_name"}
        ),
    ),
    "starttls": (5, 5, frozenset()),
    "starttls_reply": (6, 6, frozenset({"code", "text"})),
    "tls_handshake": (7, 7, frozenset({"version", "cipher", "sni"})),
    "encrypted": (8, 7, frozenset({"records", "bytes_c2s", "bytes_s2c", "duration"})),
    "auth": (9, None, frozenset({"mechanism", "outcome"})),
    "mail_from": (10, None, frozenset({"address", "params", "code", "pipelined"})),
    "rcpt_to": (11, None, frozenset({"address", "code", "pipelined"})),
    "data": (12, None, frozenset({"code", "pipelined"})),
    "message": (13, None, frozenset({"size", "subject", "code", "captured"})),
    "bdat": (14, None, frozenset({"size", "last", "code"})),
    "command": (15, None, frozenset({"verb", "argument", "code", "pipelined"})),
    "quit": (16, None, frozenset({"code", "pipelined"})),
    "close": (17, None, frozenset({"how"})),
    "tunnel": (18, None, frozenset({"protocol", "proxy", "target", "answer"})),
    "proxy_header": (19, None, frozenset({"balancer", "source", "destination", "version"})),
}

FINDINGS: dict[str, str] = {
    "no_smtp": "info",
    "mid_session": "notice",
    "one_sided": "notice",
    "starttls_not_offered": "warning",
    "starttls_not_used": "warning",
    "starttls_masked": "critical",
    "starttls_stripped": "critical",
    "starttls_refused": "warning",
    "cleartext_after_refusal": "critical",
    "auth_cleartext": "critical",
    "starttls_injection": "critical",
    "no_ehlo_after_tls": "warning",
    "starttls_after_tls": "warning",
    "tls_old_version": "warning",
    "tls_alert": "warning",
    "tls_handshake_failure": "critical",
    "error_reply": "notice",
    "line_too_long": "notice",
    "bare_line_ending": "warning",
    "data_gap": "notice",
    "pipelining_unadvertised": "notice",
    "implicit_tls": "info",
    "tls_resumed": "info",
    "unexpected_reply": "notice",
    "not_smtp": "notice",
    "early_talker": "notice",
    "tls_rc4": "warning",
    "tls_no_forward_secrecy": "notice",
    "smtp_unusual_port": "info",
    "mail_cleartext": "warning",
    "auth_brute_force": "warning",
    "capture_cut_short": "notice",
    "client_left_before_greeting": "notice",
    "no_server_reply": "notice",
    "message_unfinished": "warning",
    "tls_handshake_unfinished": "notice",
    "smtp_smuggling": "warning",
    "starttls_plaintext": "warning",
    "no_connection": "notice",
    "snaplen_cut": "warning",
    "proxy_tunnel": "notice",
    "proxy_tunnel_refused": "notice",
    "proxy_credentials": "critical",
}

COMMANDS = (
    "EHLO",
    "HELO",
    "MAIL",
    "RCPT",
    "DATA",
    "RSET",
    "VRFY",
    "EXPN",
    "HELP",
    "NOOP",
    "QUIT",
    "STARTTLS",
    "AUTH",
    "BDAT",
    "ETRN",
    "ATRN",
    "BURL",
    "TURN",
    "SEND",
    "SOML",
    "SAML",
    "XCLIENT",
    "XFORWARD",
)

REPLIES = (
    211, 214, 220, 221, 250, 251, 252, 354, 421, 450, 451, 452, 455, 500, 501, 502,
    503, 504, 550, 551, 552, 553, 554, 555, 235, 334, 432, 454, 530, 534, 535, 538,
    521, 556,
)  # fmt: skip

# The IANA "SMTP Service Extensions" registry.
IANA_KEYWORDS = (
    "SEND",
    "SOML",
    "SAML",
    "VRFY",
    "EXPN",
    "HELP",
    "TURN",
    "8BITMIME",
    "SIZE",
    "VERB",
    "ONEX",
    "CHUNKING",
    "BINARYMIME",
    "CHECKPOINT",
    "DELIVERBY",
    "PIPELINING",
    "DSN",
    "ETRN",
    "ENHANCEDSTATUSCODES",
    "STARTTLS",
    "NO-SOLICITING",
    "MTRK",
    "ATRN",
    "AUTH",
    "BURL",
    "FUTURERELEASE",
    "UTF8SMTP",
    "SMTPUTF8",
    "CONPERM",
    "CONNEG",
    "RRVS",
    "MT-PRIORITY",
    "SUBMITTER",
    "LIMITS",
    "REQUIRETLS",
)

UNREGISTERED_KEYWORDS = (
    "XCLIENT",
    "XFORWARD",
    "AUTH=LOGIN",
    "X-EXPS",
    "XEXCH50",
    "X-LINK2STATE",
    "XXXXXXXA",
    "X-EXPS=LOGIN",
    "XUSR",
    "X-ANONYMOUSTLS",
)

# Every detail the IANA enumerated status code registry defines, by subject.
ENHANCED_DETAILS = (
    ["X.0.0"]
    + [f"X.1.{n}" for n in range(0, 11)]
    + [f"X.2.{n}" for n in range(0, 5)]
    + [f"X.3.{n}" for n in range(0, 7)]
    + [f"X.4.{n}" for n in range(0, 8)]
    + [f"X.5.{n}" for n in range(0, 7)]
    + [f"X.6.{n}" for n in range(0, 11)]
    + [f"X.7.{n}" for n in range(0, 31)]
)

MECHANISMS: dict[str, bool] = {
    "PLAIN": True,
    "LOGIN": True,
    "XOAUTH2": True,
    "OAUTHBEARER": True,
    "CRAM-MD5": False,
    "DIGEST-MD5": False,
    "GSSAPI": False,
    "NTLM": False,
    "SCRAM-SHA-1": False,
    "SCRAM-SHA-1-PLUS": False,
    "SCRAM-SHA-256": False,
    "SCRAM-SHA-256-PLUS": False,
    "EXTERNAL": False,
    "ANONYMOUS": False,
}


def _placeholders(template: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(template) if field is not None}


def _non_empty_text(entry: object, *fields: str) -> None:
    for field in fields:
        value = getattr(entry, field)
        assert isinstance(value, str) and value.strip(), f"{entry!r}: empty {field}"


def test_load_catalog_is_cached() -> None:
    assert load_catalog() is load_catalog()


def test_entries_are_frozen(catalog: Catalog) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        catalog.steps[0].title = "changed"  # type: ignore[misc]


# ---- steps -----------------------------------------------------------------


def test_step_numbers_are_unique_contiguous_and_ordered(catalog: Catalog) -> None:
    assert [step.number for step in catalog.steps] == list(range(1, 20))


@pytest.mark.parametrize(("name", "expected"), STEPS.items())
def test_step_has_number_walkthrough_and_text(
    catalog: Catalog, name: str, expected: tuple[int, int | None, frozenset[str]]
) -> None:
    number, walkthrough, _ = expected
    step = catalog.step(name)
    assert isinstance(step, StepInfo)
    assert (step.name, step.number, step.walkthrough) == (name, number, walkthrough)
    assert catalog.step_by_number(number) is step
    _non_empty_text(step, "title", "explanation", "summary", "rfc")


def test_catalog_has_exactly_the_planned_steps(catalog: Catalog) -> None:
    assert {step.name for step in catalog.steps} == set(STEPS)


@pytest.mark.parametrize(("name", "expected"), STEPS.items())
def test_summary_uses_only_allowed_placeholders(
    catalog: Catalog, name: str, expected: tuple[int, int | None, frozenset[str]]
) -> None:
    used = _placeholders(catalog.step(name).summary)
    assert used <= expected[2], f"{name} uses {used - expected[2]}"


def test_summary_formats_with_every_placeholder(catalog: Catalog) -> None:
    for step in catalog.steps:
        facts = {key: "x" for key in STEPS[step.name][2]}
        assert "{" not in step.summary.format(**facts)


def test_step_colours_are_distinct_hex_colours_light_enough_for_black_text(
    catalog: Catalog,
) -> None:
    colours = [step.colour for step in catalog.steps]
    assert len(set(colours)) == len(colours)
    for colour in colours:
        assert re.fullmatch(r"#[0-9a-f]{6}", colour), colour
        red, green, blue = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
        assert 0.299 * red + 0.587 * green + 0.114 * blue > 170, colour


def test_unknown_step_is_a_key_error(catalog: Catalog) -> None:
    with pytest.raises(KeyError):
        catalog.step("no_such_step")
    with pytest.raises(KeyError):
        catalog.step_by_number(99)


def test_filter_intro_explains_the_smtp_filter_and_tls(catalog: Catalog) -> None:
    title, explanation = catalog.filter_intro
    assert title.strip()
    assert "smtp" in explanation
    assert "STARTTLS" in explanation and "TLS" in explanation


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("ehlo_reply", ("address", "Received")),
        ("starttls", ("opportunistic",)),
        ("tls_handshake", ("ClientHello", "ServerHello")),
        ("close", ("FIN", "RST")),
    ],
)
def test_step_explanations_teach_the_key_points(catalog: Catalog, name: str, words: tuple[str, ...]) -> None:
    explanation = catalog.step(name).explanation
    for word in words:
        assert word in explanation, f"{name} does not mention {word}"


# ---- commands --------------------------------------------------------------


@pytest.mark.parametrize("verb", COMMANDS)
def test_known_commands(catalog: Catalog, verb: str) -> None:
    info = catalog.command(verb)
    assert isinstance(info, CommandInfo)
    assert info.known and info.verb == verb
    _non_empty_text(info, "title", "explanation", "rfc")


@pytest.mark.parametrize("verb", ["ehlo", "Mail", "starttls"])
def test_command_lookup_ignores_case(catalog: Catalog, verb: str) -> None:
    assert catalog.command(verb) is catalog.command(verb.upper())


@pytest.mark.parametrize("verb", ["STAR", "FOO", "", "XYZZY"])
def test_unknown_command_falls_back(catalog: Catalog, verb: str) -> None:
    info = catalog.command(verb)
    assert not info.known
    _non_empty_text(info, "title", "explanation", "rfc")


# ---- replies ---------------------------------------------------------------


@pytest.mark.parametrize("code", REPLIES)
def test_known_replies(catalog: Catalog, code: int) -> None:
    info = catalog.reply(code)
    assert isinstance(info, ReplyInfo)
    assert info.known and info.code == code
    _non_empty_text(info, "title", "explanation", "rfc")


def test_replies_table_is_sorted_and_complete(catalog: Catalog) -> None:
    codes = [reply.code for reply in catalog.replies]
    assert codes == sorted(set(REPLIES))


@pytest.mark.parametrize(
    ("code", "words"),
    [
        (299, ("positive completion",)),
        (399, ("positive intermediate",)),
        (459, ("transient",)),
        (520, ("permanent", "connection")),
        (509, ("syntax",)),
        (511, ("information",)),
        (557, ("mail system",)),
    ],
)
def test_unknown_reply_is_explained_by_its_digits(catalog: Catalog, code: int, words: tuple[str, ...]) -> None:
    info = catalog.reply(code)
    assert not info.known and info.code == code
    for word in words:
        assert word in info.explanation, f"{code}: {info.explanation}"


@pytest.mark.parametrize("code", [0, 1, 99, 600, 999, -1, 10_000])
def test_out_of_range_reply_does_not_raise(catalog: Catalog, code: int) -> None:
    info = catalog.reply(code)
    assert not info.known
    _non_empty_text(info, "title", "explanation", "rfc")


# ---- enhanced status codes ---------------------------------------------------


@pytest.mark.parametrize("detail", ENHANCED_DETAILS)
def test_every_registered_enhanced_detail_is_known(catalog: Catalog, detail: str) -> None:
    for klass in "245":
        info = catalog.enhanced(klass + detail[1:])
        assert isinstance(info, EnhancedInfo)
        assert info.detail, f"{klass}{detail[1:]} has no detail text"
        _non_empty_text(info, "klass", "subject", "rfc")


def test_enhanced_splits_class_subject_and_detail(catalog: Catalog) -> None:
    info = catalog.enhanced("5.7.1")
    assert info is not None
    assert info.code == "5.7.1"
    assert "permanent" in info.klass
    assert "security" in info.subject
    assert info.detail is not None and "not authorized" in info.detail.lower()
    assert info.rfc.startswith("RFC 3463")


@pytest.mark.parametrize(("code", "klass_word"), [("2.0.0", "success"), ("4.4.1", "transient"), ("5.1.1", "permanent")])
def test_enhanced_class_text(catalog: Catalog, code: str, klass_word: str) -> None:
    info = catalog.enhanced(code)
    assert info is not None and klass_word in info.klass


@pytest.mark.parametrize("code", ["2.9.99", "4.7.999", "5.1.500"])
def test_unknown_enhanced_detail_keeps_class_and_subject(catalog: Catalog, code: str) -> None:
    info = catalog.enhanced(code)
    assert info is not None
    assert info.detail is None
    _non_empty_text(info, "klass", "subject", "rfc")


@pytest.mark.parametrize("code", ["x.y", "", "5.7", "5.7.1.2", "3.0.0", "6.1.1", "5.7.1000", "5.a.1", "five"])
def test_malformed_enhanced_code_is_none(catalog: Catalog, code: str) -> None:
    assert catalog.enhanced(code) is None


# ---- extensions ------------------------------------------------------------


@pytest.mark.parametrize("keyword", IANA_KEYWORDS)
def test_iana_keywords_are_registered(catalog: Catalog, keyword: str) -> None:
    info = catalog.extension(keyword)
    assert isinstance(info, ExtensionInfo)
    assert info.known and info.registered and info.keyword == keyword
    _non_empty_text(info, "title", "meaning", "rfc")


@pytest.mark.parametrize("keyword", UNREGISTERED_KEYWORDS)
def test_common_unregistered_keywords_are_known_but_not_registered(catalog: Catalog, keyword: str) -> None:
    info = catalog.extension(keyword)
    assert info.known and not info.registered
    _non_empty_text(info, "title", "meaning", "rfc")


def test_every_extension_entry_has_text(catalog: Catalog) -> None:
    for info in catalog.extensions:
        _non_empty_text(info, "keyword", "title", "meaning", "rfc")
        assert not (info.registered and info.keyword.startswith("X"))


@pytest.mark.parametrize("keyword", ["smtputf8", "SmtpUtf8", " SMTPUTF8 "])
def test_extension_lookup_ignores_case(catalog: Catalog, keyword: str) -> None:
    assert catalog.extension(keyword) is catalog.extension("SMTPUTF8")


def test_masked_starttls_says_what_happened(catalog: Catalog) -> None:
    meaning = catalog.extension("XXXXXXXA").meaning
    assert "STARTTLS" in meaning and "firewall" in meaning


def test_old_auth_form_matches_any_mechanism(catalog: Catalog) -> None:
    assert catalog.extension("AUTH=PLAIN") is catalog.extension("AUTH=LOGIN")


@pytest.mark.parametrize("keyword", ["X-FOO", "xfoo", "XSOMETHING"])
def test_x_keywords_fall_back_to_private(catalog: Catalog, keyword: str) -> None:
    info = catalog.extension(keyword)
    assert not info.known and not info.registered
    assert "private" in info.meaning
    assert keyword.strip().upper() in info.meaning


@pytest.mark.parametrize("keyword", ["FOO", "BAR-BAZ", ""])
def test_unknown_keywords_fall_back(catalog: Catalog, keyword: str) -> None:
    info = catalog.extension(keyword)
    assert not info.known and not info.registered
    assert "private" not in info.meaning
    _non_empty_text(info, "title", "meaning", "rfc")


# ---- findings --------------------------------------------------------------


@pytest.mark.parametrize(("name", "severity"), FINDINGS.items())
def test_findings_have_severity_and_text(catalog: Catalog, name: str, severity: str) -> None:
    info = catalog.finding(name)
    assert isinstance(info, FindingInfo)
    assert (info.name, info.severity) == (name, severity)
    _non_empty_text(info, "title", "explanation", "rfc")


def test_catalog_has_exactly_the_planned_findings(catalog: Catalog) -> None:
    assert {finding.name for finding in catalog.findings} == set(FINDINGS)


def test_unknown_finding_is_a_key_error(catalog: Catalog) -> None:
    with pytest.raises(KeyError):
        catalog.finding("no_such_finding")


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("starttls_injection", "CVE-2011-0411"),
        ("starttls_masked", "XXXXXXXA"),
        ("line_too_long", "1000"),
        ("tls_old_version", "TLS 1.2"),
    ],
)
def test_findings_mention_their_key_facts(catalog: Catalog, name: str, text: str) -> None:
    assert text in catalog.finding(name).explanation


# ---- SASL mechanisms -------------------------------------------------------


@pytest.mark.parametrize(("name", "cleartext"), MECHANISMS.items())
def test_known_mechanisms(catalog: Catalog, name: str, cleartext: bool) -> None:
    info = catalog.mechanism(name)
    assert info.known and info.name == name
    assert info.cleartext_secret is cleartext
    _non_empty_text(info, "title", "explanation", "rfc")


def test_mechanism_lookup_ignores_case(catalog: Catalog) -> None:
    assert catalog.mechanism("scram-sha-256") is catalog.mechanism("SCRAM-SHA-256")


def test_unknown_mechanism_falls_back(catalog: Catalog) -> None:
    info = catalog.mechanism("KERBEROS_V4")
    assert not info.known and info.name == "KERBEROS_V4"
    _non_empty_text(info, "title", "explanation", "rfc")


# ---- TLS -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "name"),
    [
        (0x0300, "SSL 3.0"),
        (0x0301, "TLS 1.0"),
        (0x0302, "TLS 1.1"),
        (0x0303, "TLS 1.2"),
        (0x0304, "TLS 1.3"),
        (0x7F1C, "unknown (0x7f1c)"),
        (0x0000, "unknown (0x0000)"),
    ],
)
def test_tls_version(catalog: Catalog, number: int, name: str) -> None:
    assert catalog.tls_version(number) == name


@pytest.mark.parametrize(
    ("number", "name"),
    [
        (0x1301, "TLS_AES_128_GCM_SHA256"),
        (0x1302, "TLS_AES_256_GCM_SHA384"),
        (0x1303, "TLS_CHACHA20_POLY1305_SHA256"),
        (0xC02F, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"),
        (0xC030, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"),
        (0xC02B, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"),
        (0xCCA8, "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"),
        (0x002F, "TLS_RSA_WITH_AES_128_CBC_SHA"),
    ],
)
def test_cipher_suite(catalog: Catalog, number: int, name: str) -> None:
    iana, words = catalog.cipher_suite(number)
    assert iana == name and words.strip()


def test_unknown_cipher_suite(catalog: Catalog) -> None:
    assert catalog.cipher_suite(0xABCD) == ("0xabcd", "a cipher suite smtpdoc does not describe")


@pytest.mark.parametrize(
    ("number", "name"),
    [
        (0, "close_notify"),
        (10, "unexpected_message"),
        (20, "bad_record_mac"),
        (40, "handshake_failure"),
        (42, "bad_certificate"),
        (48, "unknown_ca"),
        (70, "protocol_version"),
        (80, "internal_error"),
        (86, "inappropriate_fallback"),
        (112, "unrecognized_name"),
        (116, "certificate_required"),
        (120, "no_application_protocol"),
    ],
)
def test_tls_alert(catalog: Catalog, number: int, name: str) -> None:
    alert_name, words = catalog.tls_alert(number)
    assert alert_name == name and words.strip()


@pytest.mark.parametrize("number", [7, 255, -1])
def test_unknown_tls_alert_does_not_raise(catalog: Catalog, number: int) -> None:
    alert_name, words = catalog.tls_alert(number)
    assert str(number) in alert_name and words.strip()
