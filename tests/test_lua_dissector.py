"""dissector/smtpdoc.lua: generated, small, valid Lua 5.2 and 5.4, a reader of smtpdoc's data
comments (no SMTP state machine), robust against any comment, with findings in Expert Info."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from smtpdoc import annotate, pcapng
from smtpdoc.catalog import load_catalog
from smtpdoc.tshark import Tshark
from smtpdoc.wireshark.lua import render_lua

from conftest import DATA, EXAMPLES, LUA, PLUGIN_ON, plugin_fields


def test_committed_dissector_is_the_generators_output() -> None:
    assert LUA.read_text(encoding="utf-8") == render_lua(), "regenerate it (see dissector/README.md)"


def test_dissector_is_a_thin_reader() -> None:
    text = LUA.read_text(encoding="utf-8")
    assert len(text.splitlines()) < 250
    # It reads packet comments and nothing else: no TCP, SMTP or TLS field, no per-stream state.
    assert re.findall(r'Field\.new\("([^"]+)"\)', text) == ["frame.comment"]
    for machine in ("tcp.stream", "pinfo.visited", "sessions[", "smtp_ports", "reassembl"):
        assert machine not in text


@pytest.mark.parametrize("luac", ["luac5.2", "luac5.4"])
def test_dissector_compiles_as_lua(luac: str) -> None:
    binary = shutil.which(luac)
    assert binary is not None, f"{luac} is not installed (apt-get install lua5.2 lua5.4; ./bootstrap test does)"
    done = subprocess.run([binary, "-p", str(LUA)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


def test_titles_come_from_the_catalog() -> None:
    text = LUA.read_text(encoding="utf-8")
    catalog = load_catalog()
    for step in catalog.steps:
        assert f'{step.name} = "{step.title}"' in text
    for finding in catalog.findings:
        assert f" {finding.name} = " in text  # entries share lines (smtpdoc.wireshark.lua._table)
    assert annotate.DATA_MARK.split("/")[0] in text


def test_fields_are_registered(tshark: Tshark) -> None:
    out = subprocess.run(
        [tshark.path, "-G", "fields", "-X", f"lua_script:{LUA}"], capture_output=True, text=True, check=True
    ).stdout
    names = {line.split("\t")[2] for line in out.splitlines() if "\tsmtpdoc." in line}
    assert {"smtpdoc.step", "smtpdoc.step_id", "smtpdoc.step_name", "smtpdoc.finding", "smtpdoc.severity"} <= names
    assert {"smtpdoc.session", "smtpdoc.explain", "smtpdoc.comment"} <= names


def test_the_plugin_is_off_unless_the_preference_turns_it_on(
    tshark: Tshark, annotated: Callable[[Path], Path]
) -> None:
    copy = annotated(EXAMPLES / "plain.pcapng")
    off = subprocess.run(
        [tshark.path, "-X", f"lua_script:{LUA}", "-r", str(copy), "-T", "fields", "-e", "smtpdoc.step"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert off.split() == []
    assert plugin_fields(tshark.path, copy, "smtpdoc.step")[9] == [["5"]]


def _long_words() -> str:
    word = "Übermäßig" * 400  # one 4,400-byte word with two-byte characters
    text = f"smtpdoc step 5 mail_from: Sender (MAIL FROM). {word} " + "explanation " * 5000
    return text[:65_000]


def _odd_comments() -> dict[int, list[str]]:
    pre = annotate.DATA_PREAMBLE
    return {
        4: [annotate.data_token(1, [(2, "greeting")], [])[:-4]],  # cut inside the step name
        6: [f"{pre} smtpdoc-data/9 s=1 p=3.ehlo"],  # a newer data version
        8: [f"{pre} smtpdoc-data/1 s=1 p=4.no_such_step f=bogus.no_such_finding"],
        9: [_long_words(), annotate.data_token(1, [(5, "mail_from")], [("warning", "starttls_not_used")])],
        10: [f"{pre} smtpdoc-data/1 s=99999999999999999999 p=999999.mail_from,0.greeting,70000.data"],
        11: [pre[:60]],  # cut inside the preamble
        12: [f"{pre} smtpdoc-data/1 s= p=,,.,5. f=.,warning."],
        13: ["a comment of the user's", f"{pre} smtpdoc-data/1"],
    }


@pytest.fixture(scope="module")
def odd(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("odd") / "odd.pcapng"
    with open(EXAMPLES / "plain.pcapng", "rb") as src, open(out, "wb") as dst:
        pcapng.rewrite_comments(src, dst, _odd_comments(), annotate.is_own)
    return out


def test_odd_comments_never_raise_a_lua_error(tshark: Tshark, odd: Path) -> None:
    done = subprocess.run(
        [tshark.path, "-n", *PLUGIN_ON, "-r", str(odd), "-V", "-O", "smtpdoc"], capture_output=True, text=True
    )
    assert done.returncode == 0
    assert "Lua:" not in done.stderr, done.stderr
    assert "Lua Error" not in done.stdout
    tree = [line.strip() for line in done.stdout.splitlines()]
    assert not [line for line in tree if "[truncated]" in line]
    assert "smtpdoc data of version 9; this plugin reads version 1 (annotate the capture again with this smtpdoc)" in tree
    assert "Step 4: no_such_step (a step this plugin does not know)" in tree
    assert "Finding (bogus): no_such_finding" in tree
    explanation = [line for line in tree if "Übermäßig" in line or line.startswith("explanation")]
    assert len(explanation) > 300  # 65,000 bytes as full lines
    assert all(len(line.encode()) <= 240 for line in explanation)
    joined = "".join(line for line in explanation if "Übermäßig" in line)
    assert joined.count("Übermäßig") == 400  # cut between characters, nothing lost


def test_odd_comments_give_only_what_they_hold(tshark: Tshark, odd: Path) -> None:
    fields = plugin_fields(tshark.path, odd, "smtpdoc.step", "smtpdoc.step_id", "smtpdoc.finding", "smtpdoc.session")
    assert fields[4][:2] == [["2"], ["gree"]]  # what was left of the name
    assert fields[6] == [[], [], [], []]  # another version: nothing guessed
    assert fields[8][:3] == [["4"], ["no_such_step"], ["no_such_finding"]]
    assert fields[9] == [["5"], ["mail_from"], ["starttls_not_used"], ["1"]]
    assert fields[10] == [[], [], [], []]  # out of range: left out
    assert fields[11] == [[], [], [], []] and fields[12][:2] == [[], []]
    assert fields[13] == [[], [], [], []]
    comment = plugin_fields(tshark.path, odd, "smtpdoc.comment")
    assert comment[13] == [["a comment of the user's"]]  # the data comment is not in the comment column


def test_findings_reach_expert_info_with_their_severity(tshark: Tshark, annotated: Callable[[Path], Path]) -> None:
    out = subprocess.run(
        [tshark.path, "-n", *PLUGIN_ON, "-r", str(annotated(DATA / "auth-plain-cleartext.pcapng")), "-q", "-z", "expert"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    sections = dict(re.findall(r"\n(\w+) \(\d+\)\n=+\n(.*?)(?=\n\n|\Z)", out, re.S))
    catalog = load_catalog()
    assert catalog.finding("auth_cleartext").title + " (critical)" in sections["Errors"]
    assert catalog.finding("starttls_not_offered").title + " (warning)" in sections["Warns"]
    # Every data comment has the same first 240 bytes, so Expert Info lists them as one line.
    data_lines = [line for line in sections["Comments"].splitlines() if "smtpdoc data:" in line]
    assert len(data_lines) == 1
