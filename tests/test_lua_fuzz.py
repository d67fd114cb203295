"""The Lua plugin on mutated smtpdoc comments: bad comments are normal input.

Annotated copies of real captures are joined into one pcapng (one section each), every data
comment is replaced by a seeded mutation (tests/lua_fuzzing.py) with the project's own pcapng
writer, and the real tshark reads the file once, through dissector/smtpdoc.lua, in two passes as
the GUI does. No mutation may give a `Lua:` line on stderr, a "Lua Error" anywhere in the tree
or Expert Info, a label Wireshark has to cut, or a step outside 1-65535; a mutation that leaves
a valid token must still show exactly its steps and findings.

SMTPDOC_LUA_FUZZ_SEED and SMTPDOC_LUA_FUZZ_CASES change the run (defaults: seed 9, 600 frames).
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from lua_fuzzing import DATA_START, Mutation, Token, kinds, mutate
from lxml import etree

from smtpdoc import annotate, pcapng
from smtpdoc.tshark import Tshark

from conftest import DATA, EXAMPLES, PLUGIN_ON

SEED = int(os.environ.get("SMTPDOC_LUA_FUZZ_SEED", "9"))
CASES = int(os.environ.get("SMTPDOC_LUA_FUZZ_CASES", "600"))
SOURCES = [
    EXAMPLES / "plain.pcapng",
    EXAMPLES / "starttls.pcapng",
    DATA / "auth-plain-cleartext.pcapng",
    DATA / "errors.pcapng",
    DATA / "pipelining.pcapng",
    DATA / "headers-encoded.pcapng",
    DATA / "early-talker.pcapng",
    DATA / "unsolicited-replies.pcapng",
    DATA / "tls12.pcapng",
    DATA / "bare-lf-end.pcapng",
]
SHOWN_BY_THE_PLUGIN = {"smtpdoc", "smtpdoc.step", "smtpdoc.finding", "smtpdoc.data", "smtpdoc.explain"}


def _joined(annotated: Callable[[Path], Path], folder: Path) -> Path:
    """The annotated copies, one after the other (a pcapng file may hold many sections), until
    at least CASES frames carry a data comment."""
    copies = [annotated(path).read_bytes() for path in SOURCES]
    tokens = [sum(1 for c in pcapng.read_comments(open(annotated(p), "rb")).values() if _token(c)) for p in SOURCES]
    assert all(tokens), dict(zip(SOURCES, tokens, strict=True))
    chosen: list[bytes] = []
    total = 0
    while total < CASES:
        index = len(chosen) % len(copies)
        chosen.append(copies[index])
        total += tokens[index]
    out = folder / "joined.pcapng"
    out.write_bytes(b"".join(chosen))
    return out


def _token(comments: list[str]) -> str | None:
    return next((c for c in comments if c.startswith(DATA_START)), None)


def _words(comments: list[str]) -> str:
    return next(c for c in comments if c.startswith(annotate.OWN_PREFIXES[:2]))


Fuzzed = tuple[Path, dict[int, Mutation], dict[int, list[str]]]


@pytest.fixture(scope="module")
def fuzzed(annotated: Callable[[Path], Path], tmp_path_factory: pytest.TempPathFactory) -> Fuzzed:
    """(the mutated capture, frame → its mutation, frame → the comments annotate wrote)."""
    folder = tmp_path_factory.mktemp("lua-fuzz")
    joined = _joined(annotated, folder)
    with open(joined, "rb") as src:
        found = pcapng.read_comments(src)
    mutations = {}
    for frame, comments in found.items():
        token = _token(comments)
        if token is not None:
            mutations[frame] = mutate(SEED, frame, _words(comments), token)
    out = folder / "mutated.pcapng"
    with open(joined, "rb") as src, open(out, "wb") as dst:
        written = pcapng.rewrite_comments(src, dst, {f: m.comments for f, m in mutations.items()}, annotate.is_own)
    assert written.frames == set(mutations) and not written.cut_short
    return out, mutations, found


def _shown(packet: etree._Element) -> tuple[Token, list[str]]:
    """What the plugin showed for one frame, and every problem with how it showed it."""
    problems = []
    for field in packet.iter("field", "proto"):
        for attr in ("show", "showname"):
            if "Lua Error" in (field.get(attr) or ""):
                problems.append(f"{field.get(attr)}")
        if field.get("name") in SHOWN_BY_THE_PLUGIN:
            label = field.get("showname") or ""
            if "[truncated]" in label:
                problems.append(f"{field.get('name')} label cut by Wireshark: {label[:80]}...")
    session = [int(f.get("show", "")) for f in packet.iterfind(".//field[@name='smtpdoc.session']")]
    steps = []
    for step in packet.iterfind(".//field[@name='smtpdoc.step']"):
        position = int(step.get("show", ""))
        ids = [f.get("show", "") for f in step.iterfind("field[@name='smtpdoc.step_id']")]
        names = step.findall("field[@name='smtpdoc.step_name']")
        if not 1 <= position <= 65535 or len(ids) != 1 or len(names) != 1:
            problems.append(f"step {position} with ids {ids[:2]} and {len(names)} names")
        steps.append((position, ids[0] if ids else ""))
    findings = []
    for finding in packet.iterfind(".//field[@name='smtpdoc.finding']"):
        severities = [f.get("show", "") for f in finding.iterfind("field[@name='smtpdoc.severity']")]
        findings.append((severities[0] if severities else "", finding.get("show", "")))
    if len(session) > 1:
        problems.append(f"{len(session)} sessions")
    return Token(session[0] if session else None, tuple(steps), tuple(findings)), problems


def _packets(pdml: bytes) -> dict[int, etree._Element]:
    # Wireshark copies comment bytes into PDML as they are: not UTF-8, control characters.
    parser = etree.XMLParser(recover=True, huge_tree=True)
    root = etree.fromstring(pdml.decode("utf-8", "replace").encode(), parser)
    out = {}
    for packet in root.iter("packet"):
        number = packet.find("proto[@name='geninfo']/field[@name='num']")
        assert number is not None
        out[int(number.get("show", ""))] = packet
    return out


def test_the_mutations_cover_every_kind_and_are_remade_alone(fuzzed: Fuzzed) -> None:
    _path, mutations, found = fuzzed
    assert len(mutations) >= CASES
    assert {m.family for m in mutations.values()} == set(kinds())
    assert any(len(c) >= 64_000 for m in mutations.values() for c in m.comments)  # the 65,000-byte comment
    assert sum(1 for m in mutations.values() if m.expect is not None) > CASES // 3
    frame = sorted(mutations)[len(mutations) // 2]
    again = mutate(SEED, frame, _words(found[frame]), _token(found[frame]) or "")
    assert again == mutations[frame]  # one mutation is remade from the seed and its frame alone


def test_mutated_comments_never_raise_a_lua_error(tshark: Tshark, fuzzed: Fuzzed) -> None:
    path, mutations, _found = fuzzed
    started = time.monotonic()
    done = subprocess.run(
        [tshark.path, "-n", "-2", *PLUGIN_ON, "-r", str(path), "-T", "pdml"],
        capture_output=True,
        timeout=300,
        check=False,
    )
    seconds = time.monotonic() - started
    stderr = done.stderr.decode("utf-8", "replace")
    assert done.returncode == 0, stderr
    assert [line for line in stderr.splitlines() if "Lua:" in line] == []
    packets = _packets(done.stdout)
    assert set(mutations) <= set(packets)
    failures = []
    checked = 0
    for frame, mutation in sorted(mutations.items()):
        shown, problems = _shown(packets[frame])
        if mutation.expect is not None and shown != mutation.expect:
            problems.append(f"shows {_brief(shown)}, expected {_brief(mutation.expect)}")
        if mutation.at_least is not None:
            missing = [f"{p}.{n}" for p, n in mutation.at_least.steps if (p, n) not in shown.steps]
            missing += [f"{s}.{n}" for s, n in mutation.at_least.findings if (s, n) not in shown.findings]
            if missing:
                problems.append(f"lost {missing[:3]}")
        checked += mutation.expect is not None
        failures += [f"{mutation.describe(frame)}: {p}" for p in problems]
    for frame, packet in packets.items():
        if frame not in mutations and packet.find("proto[@name='smtpdoc']") is not None:
            failures.append(f"frame {frame} has no smtpdoc comment but shows a walkthrough")
    assert failures == [], "\n".join(failures[:20]) + f"\n({len(failures)} problems)"
    assert checked > CASES // 3
    # Two passes over every mutated frame, 65,000-byte comments included, in one run: a
    # pattern that backtracks on a long comment would take minutes here.
    assert seconds < 60, f"tshark took {seconds:.1f} s for {len(packets)} frames"


def _brief(token: Token) -> str:
    steps = ",".join(f"{p}.{n[:20]}" for p, n in token.steps[:6]) + ("..." if len(token.steps) > 6 else "")
    return f"s={token.session} p={steps} f={token.findings[:4]}"
