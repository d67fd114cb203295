"""Marking rules of `smtpdoc lab check`, blank by blank (no tshark needed except for filters),
and the question templates of catalog/questions.toml."""

from __future__ import annotations

import string
from typing import Any

import pytest

from smtpdoc.catalog import load_catalog
from smtpdoc.lab.filters import frame_filter
from smtpdoc.lab.marking import MISSING, RIGHT, TEACHER, WRONG, Context, mark_part, normal_name
from smtpdoc.lab.questions import KINDS, templates
from smtpdoc.lab.view import View
from smtpdoc.tshark import Tshark

_NO_TSHARK = Context(tshark=Tshark(path="/nonexistent/tshark", version=(4, 0, 0)), view=View("-"))
SIZE = 35882577  # bytes: 34.2203 MiB


def _mark(kind: str, expected: Any, given: Any, **extra: Any) -> str:
    question = {"number": 1, "key": "q1", "id": "x", "parts": [{}]}
    part = {"name": "p", "kind": kind, "expected": expected, "shown": str(expected), **extra}
    return mark_part(question, part, given, _NO_TSHARK).status


@pytest.mark.parametrize(
    ("given", "status"),
    [
        ("34.2", RIGHT),
        ("34.22", RIGHT),
        ("34.2 MiB", RIGHT),
        ("34.2mib", RIGHT),
        (34.2, RIGHT),
        (34.25, RIGHT),  # within half a unit of the last decimal asked: 34.2203 ± 0.05
        (34.17, WRONG),
        ("34.28", WRONG),
        ("35882577 bytes", RIGHT),
        ("35,882,577 bytes", RIGHT),
        ("35882577 B", RIGHT),
        ("35040.6 KiB", RIGHT),
        ("35.9 MB", RIGHT),  # decimal megabytes: 35,900,000 bytes = 34.237 MiB
        ("34,2", RIGHT),  # a decimal comma
        ("34", WRONG),  # one decimal was asked: 34 is 0.22 away
        (34, WRONG),
        ("34.3", WRONG),
        ("34.2 MB", WRONG),  # 34,200,000 bytes = 32.6 MiB
        ("0.0334 GiB", RIGHT),  # 34.20 MiB
        ("0.033 GiB", WRONG),  # 33.79 MiB
        ("34.2 parsecs", WRONG),
        ("about 34", WRONG),
        ("", MISSING),
        (None, MISSING),
    ],
)
def test_a_size_in_mib_is_right_within_the_precision_asked(given: Any, status: str) -> None:
    expected = SIZE / 1024**2
    assert _mark("number", expected, given, unit="MiB", precision=1) == status


@pytest.mark.parametrize(
    ("given", "status"),
    [
        ([1, 2, 3], RIGHT),
        ([3, 1, 2, 2], RIGHT),
        ("1-3", RIGHT),
        ("1 - 3", RIGHT),
        ("1..3", RIGHT),
        ("1, 2, 3", RIGHT),
        ("frames 1 to 3", RIGHT),
        ("1,2 and 3", RIGHT),
        ([1, 2], WRONG),
        ("1-4", WRONG),
        ("3-1", WRONG),
        ("one to three", WRONG),
        (True, WRONG),
        ([], MISSING),
    ],
)
def test_frames_are_compared_as_sets(given: Any, status: str) -> None:
    assert _mark("frames", [1, 2, 3], given) == status


@pytest.mark.parametrize(
    ("given", "status"),
    [
        ("mail.example.test", RIGHT),
        ("MAIL.Example.Test.", RIGHT),
        ("  mail.example.test ", RIGHT),
        ('"mail.example.test"', RIGHT),
        ("mail.example.com", WRONG),
        (4, WRONG),
    ],
)
def test_a_name_ignores_case_spacing_and_a_trailing_dot(given: Any, status: str) -> None:
    assert _mark("name", "mail.example.test", given) == status


def test_a_name_accepts_the_spellings_the_key_lists() -> None:
    accept = ["TLSv1.3", "TLS1.3"]
    for given in ("TLS 1.3", "tls1.3", "TLSv1.3", "tls v1.3"):
        assert _mark("name", "TLS 1.3", given, accept=[*accept, "TLS v1.3"]) == RIGHT, given
    assert _mark("name", "TLS 1.3", "TLS 1.2", accept=accept) == WRONG
    assert normal_name("<bob@example.test>") == "bob@example.test"


@pytest.mark.parametrize(
    ("given", "status"),
    [
        (["SIZE", "STARTTLS", "PIPELINING"], RIGHT),
        ("pipelining, size, starttls", RIGHT),
        ("PIPELINING SIZE 35882577 STARTTLS", RIGHT),
        (["SIZE 35882577", "STARTTLS", "PIPELINING"], RIGHT),
        (["SIZE", "STARTTLS"], WRONG),
        (["SIZE", "STARTTLS", "PIPELINING", "AUTH"], WRONG),
    ],
)
def test_names_are_a_set_of_keywords(given: Any, status: str) -> None:
    assert _mark("names", ["PIPELINING", "SIZE", "STARTTLS"], given) == status


@pytest.mark.parametrize(
    ("given", "status"),
    [(220, RIGHT), ("220", RIGHT), ("220 2.0.0 Ready to start TLS", RIGHT), ("454", WRONG), ("ok", WRONG)],
)
def test_a_reply_code_is_its_first_three_digits(given: Any, status: str) -> None:
    assert _mark("code", 220, given) == status


def test_free_text_goes_to_the_teacher_unmarked() -> None:
    assert _mark("text", "model", "anything at all") == TEACHER
    assert _mark("text", "model", None) == TEACHER


def test_frame_filter_writes_ranges() -> None:
    assert frame_filter([7, 1, 2, 3, 9, 10]) == "frame.number in {1..3, 7, 9..10}"
    assert frame_filter([4]) == "frame.number in {4}"


def test_question_templates_name_real_steps_findings_and_kinds() -> None:
    catalog = load_catalog()
    steps = {s.name for s in catalog.steps}
    findings = {f.name for f in catalog.findings}
    subjects = {"session", "tls", "hidden", "decrypted", "transaction", "finding:*"}
    found = templates()
    assert len(found) >= 15
    for template in found:
        kind, _, name = template.about.partition(":")
        if kind in ("step", "tls_step"):
            assert name in steps, template.id
        elif kind == "finding" and name != "*":
            assert name in findings, template.id
        else:
            assert template.about in subjects, template.id
        assert all(part.kind in KINDS for part in template.parts)
        for candidate in template.filters:
            list(string.Formatter().parse(candidate))  # a template: raw braces would raise
    walkthrough = {t.walkthrough for t in found if t.walkthrough}
    assert walkthrough == {1, 2, 3, 4, 5, 7}
