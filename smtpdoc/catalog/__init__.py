"""The catalog: everything smtpdoc knows about SMTP, as data.

The explanations live in the TOML files beside this module, one file per
table, each entry citing the RFC it comes from.  This module only reads them,
checks their shape once, and answers look-ups.  Look-ups for things seen on
the wire (reply codes, extension keywords, verbs, mechanisms, TLS numbers)
never fail: an unknown value gets a generic description built from what the
RFCs say about its class.  Look-ups for names chosen by smtpdoc itself (steps
and findings) raise KeyError, because an unknown name there is a bug.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

from smtpdoc.catalog._tables import (
    _STEP_WORDS,
    _bool,
    _by_class,
    _choice,
    _hex,
    _int,
    _rows,
    _str,
    _unique,
    _variants,
    read_documents,
)
from smtpdoc.catalog.entries import (
    SEVERITIES,
    CatalogError,
    CommandInfo,
    EnhancedInfo,
    ExtensionInfo,
    FindingInfo,
    MechanismInfo,
    ReplyInfo,
    StepInfo,
)

__all__ = [
    "Catalog",
    "CatalogError",
    "CommandInfo",
    "EnhancedInfo",
    "ExtensionInfo",
    "FindingInfo",
    "MechanismInfo",
    "ReplyInfo",
    "StepInfo",
    "load_catalog",
]

# RFC 5321 §4.2.1: the first digit says how it went, the second what it is about.
_REPLY_FIRST_DIGIT: Mapping[int, str] = {
    1: "positive preliminary reply, which SMTP does not use",
    2: "positive completion: the server did what was asked",
    3: "positive intermediate: the server accepted so far and waits for more",
    4: "transient negative completion: it failed this time, trying again later may work",
    5: "permanent negative completion: it failed and repeating it as it is will fail again",
}
_REPLY_SECOND_DIGIT: Mapping[int, str] = {
    0: "syntax (x0z)",
    1: "information (x1z)",
    2: "the connection (x2z)",
    5: "the mail system (x5z)",
}
_REPLY_SECOND_DIGIT_UNDEFINED = "nothing RFC 5321 defines (only x0z, x1z, x2z and x5z have a meaning)"
_REPLY_CLASS_RFC = "RFC 5321 §4.2.1"
_UNKNOWN_EXTENSION_RFC = "RFC 5321 §2.2.2"
_EXPOSURES = ("password", "challenge_response", "token", "designed_for_it", "unknown")
_ENHANCED_RE = re.compile(r"^([245])\.(\d{1,3})\.(\d{1,3})$")


class Catalog:
    """Read-only access to the catalog tables; build it with load_catalog()."""

    def __init__(self, documents: Mapping[str, Mapping[str, Any]]) -> None:
        self._load_steps(documents["steps.toml"])
        self._load_commands(documents["commands.toml"])
        self._load_replies(documents["replies.toml"])
        self._load_enhanced(documents["enhanced.toml"])
        self._load_extensions(documents["extensions.toml"])
        self._load_findings(documents["findings.toml"])
        self._load_mechanisms(documents["auth.toml"])
        self._load_tls(documents["tls.toml"])

    # -- loading ---------------------------------------------------------

    def _load_steps(self, doc: Mapping[str, Any]) -> None:
        intro = doc.get("filter")
        if not isinstance(intro, dict):
            raise CatalogError("steps.toml: missing [filter] table")
        self.filter_intro: tuple[str, str] = (
            _str(intro, "title", "steps.toml [filter]"),
            _str(intro, "explanation", "steps.toml [filter]"),
        )
        steps: list[StepInfo] = []
        for where, row in _rows(doc, "step", "steps.toml"):
            walkthrough = row.get("walkthrough")
            if walkthrough is not None and (not isinstance(walkthrough, int) or isinstance(walkthrough, bool)):
                raise CatalogError(f"{where}: 'walkthrough' must be an int")
            colour = _str(row, "colour", where)
            if not re.fullmatch(r"#[0-9a-fA-F]{6}", colour):
                raise CatalogError(f"{where}: colour {colour!r} is not #rrggbb")
            steps.append(
                StepInfo(
                    name=_str(row, "name", where),
                    number=_int(row, "number", where),
                    title=_str(row, "title", where),
                    explanation=_str(row, "explanation", where),
                    summary=_str(row, "summary", where),
                    rfc=_str(row, "rfc", where),
                    walkthrough=walkthrough,
                    colour=colour.lower(),
                    button=_str(row, "button", where) if walkthrough is not None else "",
                    wireshark=_str(row, "wireshark", where),
                    by_class=_by_class(row.get("by_class", {}), where),
                    variants=_variants(row.get("variants", {}), where, _STEP_WORDS),
                )
            )
        steps.sort(key=lambda step: step.number)
        _unique([s.name for s in steps], "step name")
        _unique([s.number for s in steps], "step number")
        if [s.number for s in steps] != list(range(1, len(steps) + 1)):
            raise CatalogError("steps.toml: step numbers must run 1, 2, 3 ... without gaps")
        self.steps: tuple[StepInfo, ...] = tuple(steps)
        self._steps_by_name = {s.name: s for s in steps}
        self._steps_by_number = {s.number: s for s in steps}

    def _load_commands(self, doc: Mapping[str, Any]) -> None:
        commands = [
            CommandInfo(
                verb=_str(row, "verb", where).upper(),
                title=_str(row, "title", where),
                explanation=_str(row, "explanation", where),
                rfc=_str(row, "rfc", where),
                known=True,
            )
            for where, row in _rows(doc, "command", "commands.toml")
        ]
        _unique([c.verb for c in commands], "command verb")
        self.commands: tuple[CommandInfo, ...] = tuple(commands)
        self._commands = {c.verb: c for c in commands}

    def _load_replies(self, doc: Mapping[str, Any]) -> None:
        replies = [
            ReplyInfo(
                code=_int(row, "code", where),
                title=_str(row, "title", where),
                explanation=_str(row, "explanation", where),
                rfc=_str(row, "rfc", where),
                known=True,
            )
            for where, row in _rows(doc, "reply", "replies.toml")
        ]
        replies.sort(key=lambda reply: reply.code)
        _unique([r.code for r in replies], "reply code")
        self.replies: tuple[ReplyInfo, ...] = tuple(replies)
        self._replies = {r.code: r for r in replies}

    def _load_enhanced(self, doc: Mapping[str, Any]) -> None:
        self._enhanced_classes: dict[int, tuple[str, str]] = {}
        for where, row in _rows(doc, "class", "enhanced.toml"):
            self._enhanced_classes[_int(row, "digit", where)] = (_str(row, "text", where), _str(row, "rfc", where))
        self._enhanced_subjects: dict[int, tuple[str, str]] = {}
        for where, row in _rows(doc, "subject", "enhanced.toml"):
            self._enhanced_subjects[_int(row, "digit", where)] = (_str(row, "text", where), _str(row, "rfc", where))
        self._enhanced_details: dict[tuple[int, int], tuple[str, str]] = {}
        self._enhanced_success: dict[tuple[int, int], str] = {}  # the words for 2.x.x, if not the same
        for where, row in _rows(doc, "detail", "enhanced.toml"):
            code = _str(row, "code", where)
            match = re.fullmatch(r"X\.(\d{1,3})\.(\d{1,3})", code)
            if match is None:
                raise CatalogError(f"{where}: detail code {code!r} is not X.<subject>.<detail>")
            key = (int(match.group(1)), int(match.group(2)))
            if key in self._enhanced_details:
                raise CatalogError(f"duplicate enhanced detail: {code}")
            if key[0] not in self._enhanced_subjects:
                raise CatalogError(f"{where}: {code} has no subject entry")
            title = _str(row, "title", where)
            text = f"{title}: {_str(row, 'explanation', where)}"
            self._enhanced_details[key] = (text, _str(row, "rfc", where))
            success = row.get("success")
            if success is not None and not isinstance(success, str):
                raise CatalogError(f"{where}: 'success' must be a string")
            if key[1] != 0 and success is None:  # a detail meant for failures, seen with 2.x.x
                success = f"{title}, a detail RFC 3463 names for failures; the class (2, success) is what counts"
            if success is not None:
                self._enhanced_success[key] = success
        if set(self._enhanced_classes) != {2, 4, 5}:
            raise CatalogError("enhanced.toml: classes must be exactly 2, 4 and 5")

    def _load_extensions(self, doc: Mapping[str, Any]) -> None:
        extensions = [
            ExtensionInfo(
                keyword=_str(row, "keyword", where).upper(),
                title=_str(row, "title", where),
                meaning=_str(row, "meaning", where),
                rfc=_str(row, "rfc", where),
                registered=_bool(row, "registered", where),
                known=True,
            )
            for where, row in _rows(doc, "extension", "extensions.toml")
        ]
        _unique([e.keyword for e in extensions], "extension keyword")
        for extension in extensions:
            # RFC 5321 §2.2.2: nothing starting with X may be registered.
            if extension.registered and extension.keyword.startswith("X"):
                raise CatalogError(f"extensions.toml: {extension.keyword} cannot be registered")
        self.extensions: tuple[ExtensionInfo, ...] = tuple(extensions)
        self._extensions = {e.keyword: e for e in extensions}
        # Old servers write "AUTH=LOGIN PLAIN"; a caller may hand us "AUTH=PLAIN".
        self._extension_prefixes = {e.keyword.split("=", 1)[0]: e for e in extensions if "=" in e.keyword}
        unknown = doc.get("unknown")
        private = doc.get("private")
        if not isinstance(unknown, dict) or not isinstance(private, dict):
            raise CatalogError("extensions.toml: missing [unknown] or [private] table")
        self._unknown_extension = (_str(unknown, "title", "[unknown]"), _str(unknown, "meaning", "[unknown]"))
        self._private_extension = (_str(private, "title", "[private]"), _str(private, "meaning", "[private]"))

    def _load_findings(self, doc: Mapping[str, Any]) -> None:
        findings: list[FindingInfo] = []
        for where, row in _rows(doc, "finding", "findings.toml"):
            severity = _str(row, "severity", where)
            if severity not in SEVERITIES:
                raise CatalogError(f"{where}: severity {severity!r} is not one of {', '.join(SEVERITIES)}")
            findings.append(
                FindingInfo(
                    name=_str(row, "name", where),
                    severity=severity,
                    title=_str(row, "title", where),
                    explanation=_str(row, "explanation", where),
                    rfc=_str(row, "rfc", where),
                    variants=_variants(row.get("variants", {}), where),
                )
            )
        _unique([f.name for f in findings], "finding name")
        self.findings: tuple[FindingInfo, ...] = tuple(findings)
        self._findings = {f.name: f for f in findings}

    def _load_mechanisms(self, doc: Mapping[str, Any]) -> None:
        mechanisms = [
            MechanismInfo(
                name=_str(row, "name", where).upper(),
                title=_str(row, "title", where),
                explanation=_str(row, "explanation", where),
                rfc=_str(row, "rfc", where),
                cleartext_secret=_bool(row, "cleartext_secret", where),
                known=True,
                exposes=_choice(row, "exposes", where, _EXPOSURES),
            )
            for where, row in _rows(doc, "mechanism", "auth.toml")
        ]
        _unique([m.name for m in mechanisms], "SASL mechanism")
        self.mechanisms: tuple[MechanismInfo, ...] = tuple(mechanisms)
        self._mechanisms = {m.name: m for m in mechanisms}

    def _load_tls(self, doc: Mapping[str, Any]) -> None:
        self._tls_versions: dict[int, str] = {}
        for where, row in _rows(doc, "version", "tls.toml"):
            self._tls_versions[_int(row, "number", where)] = _str(row, "name", where)
        self._cipher_suites: dict[int, tuple[str, str]] = {}
        self._cipher_weak: dict[int, tuple[str, ...]] = {}
        for where, row in _rows(doc, "cipher_suite", "tls.toml"):
            number = _int(row, "number", where)
            if number in self._cipher_suites:
                raise CatalogError(f"duplicate cipher suite: {_hex(number)}")
            self._cipher_suites[number] = (_str(row, "name", where), _str(row, "words", where))
            weak = row.get("weak", [])
            if not isinstance(weak, list) or not all(isinstance(name, str) and name in self._findings for name in weak):
                raise CatalogError(f"{where}: 'weak' must list finding names, got {weak!r}")
            if weak:
                self._cipher_weak[number] = tuple(weak)
        self._tls_alerts: dict[int, tuple[str, str]] = {}
        for where, row in _rows(doc, "alert", "tls.toml"):
            number = _int(row, "number", where)
            if number in self._tls_alerts:
                raise CatalogError(f"duplicate TLS alert: {number}")
            self._tls_alerts[number] = (_str(row, "name", where), _str(row, "words", where))

    # -- look-ups --------------------------------------------------------

    def step(self, name: str) -> StepInfo:
        """The step called `name`; KeyError if smtpdoc has no such step."""
        return self._steps_by_name[name]

    def step_by_number(self, number: int) -> StepInfo:
        """The step with this number; KeyError if there is none."""
        return self._steps_by_number[number]

    def command(self, verb: str) -> CommandInfo:
        """The command `verb` (any case); unknown verbs get a generic entry."""
        key = verb.strip().upper()
        known = self._commands.get(key)
        if known is not None:
            return known
        shown = key or "(empty)"
        return CommandInfo(
            verb=key,
            title=f"Unrecognised command {shown}",
            explanation=(
                f"{shown} is not a command smtpdoc knows. It may be a private extension, a typo, or "
                "something that is not SMTP at all. A server that does not implement a command "
                "answers 500 (not recognised) or 502 (not implemented)."
            ),
            rfc="RFC 5321 §4.2.4",
            known=False,
        )

    def reply(self, code: int) -> ReplyInfo:
        """The reply `code`; unknown codes are explained from their digits."""
        known = self._replies.get(code)
        if known is not None:
            return known
        if not 100 <= code <= 599:
            return ReplyInfo(
                code=code,
                title=f"Invalid reply code {code}",
                explanation=(
                    f"{code} is not a valid SMTP reply code. RFC 5321 reply codes have three digits "
                    "and start with 2, 3, 4 or 5."
                ),
                rfc=_REPLY_CLASS_RFC,
                known=False,
            )
        first, second = code // 100, code // 10 % 10
        about = _REPLY_SECOND_DIGIT.get(second, _REPLY_SECOND_DIGIT_UNDEFINED)
        return ReplyInfo(
            code=code,
            title=f"Reply {code} (not a standard code)",
            explanation=(
                f"smtpdoc has no entry for {code}, so here is what its digits say. "
                f"The first digit, {first}, means {_REPLY_FIRST_DIGIT[first]}. "
                f"The second digit, {second}, says the reply is about {about}. "
                "The text after the code usually tells you more."
            ),
            rfc=_REPLY_CLASS_RFC,
            known=False,
        )

    def enhanced(self, code: str) -> EnhancedInfo | None:
        """Split an enhanced status code like "5.7.1"; None if it is malformed."""
        text = code.strip()
        match = _ENHANCED_RE.fullmatch(text)
        if match is None:
            return None
        klass, subject, detail = (int(part) for part in match.groups())
        class_text, class_rfc = self._enhanced_classes[klass]
        subject_entry = self._enhanced_subjects.get(subject)
        if subject_entry is None:
            subject_text = f"subject {subject}, which RFC 3463 does not define"
            rfc = class_rfc
        else:
            subject_text, rfc = subject_entry
        detail_entry = self._enhanced_details.get((subject, detail))
        detail_text: str | None = None
        if detail_entry is not None:
            detail_text, rfc = detail_entry
            if klass == 2:
                detail_text = self._enhanced_success.get((subject, detail), detail_text)
        return EnhancedInfo(code=text, klass=class_text, subject=subject_text, detail=detail_text, rfc=rfc)

    def extension(self, keyword: str) -> ExtensionInfo:
        """The EHLO keyword (any case); unknown ones get a generic entry."""
        key = keyword.strip().upper()
        known = self._extensions.get(key)
        if known is None and "=" in key:
            known = self._extension_prefixes.get(key.split("=", 1)[0])
        if known is not None:
            return known
        title, meaning = self._private_extension if key.startswith("X") else self._unknown_extension
        return ExtensionInfo(
            keyword=key,
            title=title.format(keyword=key or "(empty)"),
            meaning=meaning.format(keyword=key or "(empty)"),
            rfc=_UNKNOWN_EXTENSION_RFC,
            registered=False,
            known=False,
        )

    def finding(self, name: str) -> FindingInfo:
        """The finding called `name`; KeyError if smtpdoc has no such finding."""
        return self._findings[name]

    def mechanism(self, name: str) -> MechanismInfo:
        """The SASL mechanism `name` (any case); unknown ones get a generic entry."""
        key = name.strip().upper()
        known = self._mechanisms.get(key)
        if known is not None:
            return known
        return MechanismInfo(
            name=key,
            title=f"SASL mechanism {key or '(empty)'}",
            explanation=(
                "A SASL mechanism smtpdoc does not describe. Whether it exposes the password "
                "depends on the mechanism; inside TLS the exchange is hidden either way."
            ),
            rfc="RFC 4422",
            cleartext_secret=False,
            known=False,
        )

    def tls_version(self, number: int) -> str:
        """A TLS version number such as 0x0303 as text ("TLS 1.2")."""
        return self._tls_versions.get(number, f"unknown ({_hex(number)})")

    def cipher_suite(self, number: int) -> tuple[str, str]:
        """(IANA name, plain words) for a cipher suite number."""
        known = self._cipher_suites.get(number)
        if known is not None:
            return known
        return (_hex(number), "a cipher suite smtpdoc does not describe")

    def cipher_weaknesses(self, number: int) -> tuple[str, ...]:
        """The findings a server's choice of this cipher suite raises (RC4, no forward secrecy)."""
        return self._cipher_weak.get(number, ())

    def tls_alert(self, number: int) -> tuple[str, str]:
        """(name, plain words) for a TLS alert description number."""
        known = self._tls_alerts.get(number)
        if known is not None:
            return known
        return (f"unknown_alert_{number}", "an alert smtpdoc does not describe")


_FILES = (
    "steps.toml",
    "commands.toml",
    "replies.toml",
    "enhanced.toml",
    "extensions.toml",
    "findings.toml",
    "auth.toml",
    "tls.toml",
)


@functools.cache
def load_catalog() -> Catalog:
    """Read and check the catalog shipped with smtpdoc (once per process)."""
    return Catalog(read_documents(_FILES))
