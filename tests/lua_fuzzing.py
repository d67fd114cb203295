"""Seeded mutations of smtpdoc's packet comments, for tests/test_lua_fuzz.py.

`smtpdoc annotate` gives a frame two comments: the words, and the data token the Lua plugin
reads (smtpdoc/annotate.py documents it). A mutation replaces a frame's comments with a changed
set: the token cut, its characters replaced, a wrong or missing version, unknown step or finding
names, huge numbers, empty fields, keys given twice, bytes that are not UTF-8, a comment of about
65,000 bytes, several tokens in one frame. Each mutation says what the plugin must show for it
when that is known (`Expect`), else only that it must show it without an error.

Every mutation is made from (seed, frame) and the frame's own comments alone, so one is remade
by itself: `mutate(SEED, FRAME, words, token)`.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable
from dataclasses import dataclass

from smtpdoc import annotate

DATA_START = annotate.OWN_PREFIXES[2]  # what makes a comment a data comment for the plugin
_MARK = annotate.DATA_MARK
BIG = 65_000  # bytes: close to the 65,535 a pcapng option holds


@dataclass(frozen=True)
class Token:
    """What a data token says: the session, steps as (position, name), findings as (severity, name)."""

    session: int | None
    steps: tuple[tuple[int, str], ...]
    findings: tuple[tuple[str, str], ...]


NOTHING = Token(None, (), ())


def read_token(text: str) -> Token:
    """The token annotate wrote (its own format, never a mutated one)."""
    fields = dict(part.split("=", 1) for part in text.split(_MARK, 1)[1].split())
    steps = tuple(
        (int(pos), name) for pos, name in (item.split(".", 1) for item in fields.get("p", "").split(",") if item)
    )
    found = tuple((sev, name) for sev, name in (item.split(".", 1) for item in fields.get("f", "").split(",") if item))
    return Token(int(fields["s"]), steps, found)


def write_token(session: str, steps: str, findings: str, version: str = str(annotate.DATA_VERSION)) -> str:
    parts = [annotate.DATA_PREAMBLE, f"smtpdoc-data/{version}", f"s={session}"]
    return " ".join(parts + ([f"p={steps}"] if steps else []) + ([f"f={findings}"] if findings else []))


def _steps_text(steps: tuple[tuple[int, str], ...]) -> str:
    return ",".join(f"{pos}.{name}" for pos, name in steps)


def _findings_text(findings: tuple[tuple[str, str], ...]) -> str:
    return ",".join(f"{sev}.{name}" for sev, name in findings)


@dataclass(frozen=True)
class Mutation:
    kind: str
    comments: tuple[bytes, ...]
    expect: Token | None  # exactly what the plugin shows; None: only "no error, nothing absurd"
    at_least: Token | None = None  # steps and findings that must be among those shown
    family: str = ""  # the function that made it

    def describe(self, frame: int) -> str:
        sizes = "+".join(str(len(c)) for c in self.comments)
        return f"frame {frame}: {self.kind} ({sizes} bytes of comments)"


_ODD_BYTES = (
    b"\xff",
    b"\xfe\xff",
    b"\xc3",
    b"\xe2\x82",
    b"\xed\xa0\x80",
    b"\xc0\xaf",
    b"\x80\x80\x80",
    b"\x00",
    b"\x1b[31m",
)
_ODD_TEXT = "é€𝄞ß" + "=,. _%()[]^$*+-?|:;" + "0123456789" + "azAZ"


def _name(rng: random.Random) -> str:
    alphabet = "abcdefghijklmnopqrstuvwxyz_0123456789"
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 24)))


def _cut(rng: random.Random, words: str, token: str) -> Mutation:
    at = rng.randrange(len(token))
    cut = token[:at]
    # Cut inside the fixed start the comment is no data comment at all: nothing is shown.
    return Mutation("token cut", (words.encode(), cut.encode()), NOTHING if at < len(DATA_START) else None)


def _replace_chars(rng: random.Random, words: str, token: str) -> Mutation:
    chars = list(token)
    for _ in range(rng.randint(1, 8)):
        chars[rng.randrange(len(DATA_START), len(chars))] = rng.choice(_ODD_TEXT)
    return Mutation("characters replaced", (words.encode(), "".join(chars).encode()), None)


def _wrong_version(rng: random.Random, words: str, token: str) -> Mutation:
    version = rng.choice(["0", "2", "9", "10", "01", "1x", "1.0", "-1", "", "9" * rng.randint(10, 40_000), "\u0661"])
    changed = token.replace(_MARK, f"smtpdoc-data/{version}", 1)
    return Mutation(f"version {version[:12]!r}", (words.encode(), changed.encode()), NOTHING)


def _no_mark(rng: random.Random, words: str, token: str) -> Mutation:
    changed = token.replace(_MARK + " ", rng.choice(["", "smtpdoc-data ", "smtpdoc-data/", "SMTPDOC-DATA/1 "]), 1)
    return Mutation("version missing", (words.encode(), changed.encode()), NOTHING)


def _unknown_names(rng: random.Random, words: str, token: str) -> Mutation:
    was = read_token(token)
    steps = tuple((pos, _name(rng) if rng.random() < 0.7 else name) for pos, name in was.steps)
    severities = ["critical", "warning", "notice", "info", "bogus", "ERROR", "x"]
    findings = tuple((rng.choice(severities), _name(rng)) for _ in range(rng.randint(0, 3)))
    changed = write_token(str(was.session), _steps_text(steps), _findings_text(findings))
    return Mutation("unknown step or finding", (words.encode(), changed.encode()), Token(was.session, steps, findings))


def _huge_numbers(rng: random.Random, words: str, token: str) -> Mutation:
    was = read_token(token)
    numbers = ["0", "1", "65535", "65536", "99999", "100000", "00007", "4294967296", "9" * rng.randint(6, 3000)]
    session = rng.choice([*numbers, "999999999", "1000000000"])
    positions = [rng.choice(numbers) if rng.random() < 0.6 else str(pos) for pos, _ in was.steps]
    text = ",".join(f"{pos}.{name}" for pos, (_, name) in zip(positions, was.steps, strict=True))
    kept = tuple(
        (int(pos), name)
        for pos, (_, name) in zip(positions, was.steps, strict=True)
        if len(pos) <= 5 and 1 <= int(pos) <= 65535
    )
    shown = int(session) if len(session) <= 9 else None
    changed = write_token(session, text, _findings_text(was.findings))
    return Mutation("huge numbers", (words.encode(), changed.encode()), Token(shown, kept, was.findings))


def _empty_fields(rng: random.Random, words: str, token: str) -> Mutation:
    was = read_token(token)
    empty = {key for key in "spf" if rng.random() < 0.5} or {"p"}
    junk = rng.choice(["", ",", ",,", ".", ",.,"])
    session = junk if "s" in empty else str(was.session)
    steps = junk if "p" in empty else _steps_text(was.steps)
    findings = junk if "f" in empty else _findings_text(was.findings)
    parts = [annotate.DATA_PREAMBLE, _MARK, f"s={session}", f"p={steps}", f"f={findings}"]
    expect = Token(
        None if "s" in empty else was.session,
        () if "p" in empty else was.steps,
        () if "f" in empty else was.findings,
    )
    return Mutation(f"empty {''.join(sorted(empty))}={junk!r}", (words.encode(), " ".join(parts).encode()), expect)


def _keys_twice(rng: random.Random, words: str, token: str) -> Mutation:
    was = read_token(token)
    more = f" s={rng.randint(1, 99)} p={rng.randint(1, 99)}.{_name(rng)} f=info.{_name(rng)}"
    # Given twice, a key is read twice; what the first said is still shown.
    return Mutation(
        "keys twice", (words.encode(), (token + more).encode()), None, at_least=Token(None, was.steps, was.findings)
    )


def _odd_bytes(rng: random.Random, words: str, token: str) -> Mutation:
    target = rng.choice(["words", "token", "both"])
    pieces = {"words": bytearray(words.encode()), "token": bytearray(token.encode())}
    for key in pieces:
        if target in (key, "both"):
            data = pieces[key]
            for _ in range(rng.randint(1, 6)):
                at = rng.randrange(len(DATA_START), len(data) + 1)
                data[at:at] = rng.choice(_ODD_BYTES)
    expect = read_token(token) if target == "words" else None
    return Mutation(
        f"bytes that are not UTF-8 in the {target}", (bytes(pieces["words"]), bytes(pieces["token"])), expect
    )


def _huge_words(rng: random.Random, words: str, token: str) -> Mutation:
    head = words.split(":", 1)[0]
    shape = rng.choice(["one word", "one word no colon", "continuation bytes", "many parts", "long text", "wide chars"])
    if shape == "one word":
        body = (head + ": " + "a" * BIG).encode()
    elif shape == "one word no colon":
        body = (head + "b" * BIG).encode()  # the step name runs on for 65,000 bytes
    elif shape == "continuation bytes":
        body = head.encode() + b": " + b"\x80" * BIG
    elif shape == "many parts":
        body = (" | ".join([head + ": x"] * (BIG // (len(head) + 6)))).encode()
    elif shape == "wide chars":
        body = (head + ": " + "𝄞" * (BIG // 4)).encode()
    else:
        body = (words + " " + words * (BIG // len(words)))[:BIG].encode()
    return Mutation(f"a 65,000-byte comment ({shape})", (body[:BIG], token.encode()), read_token(token))


def _odd_words(rng: random.Random, words: str, token: str) -> Mutation:
    choices = [
        b"smtpdoc step ",
        b"smtpdoc step 5",
        b"smtpdoc finding : ",
        b"smtpdoc step 1 x:",
        b"smtpdoc step 99999999999999999999 x: y | smtpdoc finding warning x:",
        b"smtpdoc step 2 greeting" + b" (" * 3000 + b": z",
        b"smtpdoc finding " + b"w" * 30_000 + b" x: y",
        b" | " * 2000,
        b"",
    ]
    comments = [token.encode()] if rng.random() < 0.2 else [rng.choice(choices), token.encode()]
    return Mutation("odd words", tuple(comments), read_token(token))


def _huge_token(rng: random.Random, words: str, token: str) -> Mutation:
    was = read_token(token)
    shape = rng.choice(["unknown key", "long step list", "long name"])
    if shape == "unknown key":
        changed = token + " x=" + "y" * BIG
        return Mutation("a 65,000-byte token (unknown key)", (words.encode(), changed[:BIG].encode()), was)
    if shape == "long name":
        name = "n" * BIG
        changed = write_token(str(was.session), f"3.{name}", "")
        steps: tuple[tuple[int, str], ...] = ((3, name[: BIG - len(changed) + len(name)]),)
        return Mutation(
            "a 65,000-byte step name", (words.encode(), changed[:BIG].encode()), Token(was.session, steps, ())
        )
    many = tuple((pos, "greeting") for pos in range(1, 3000))
    changed = write_token(str(was.session), _steps_text(many), "")
    return Mutation("3,000 steps in one token", (words.encode(), changed.encode()), Token(was.session, many, ()))


def _several_tokens(rng: random.Random, words: str, token: str) -> Mutation:
    was = read_token(token)
    other = write_token(str(rng.randint(1, 9)), f"{rng.randint(1, 30)}.{_name(rng)}", "")
    comments = [words.encode(), token.encode(), other.encode()]
    if rng.random() < 0.5:
        comments.insert(0, b"a note of the user's")
    return Mutation("several tokens in one frame", tuple(comments), was)  # the first one is read


def _intact(rng: random.Random, words: str, token: str) -> Mutation:
    return Mutation("intact", (words.encode(), token.encode()), read_token(token))


_KINDS: tuple[tuple[Callable[[random.Random, str, str], Mutation], int], ...] = (
    (_intact, 2),
    (_cut, 3),
    (_replace_chars, 3),
    (_wrong_version, 2),
    (_no_mark, 1),
    (_unknown_names, 2),
    (_huge_numbers, 2),
    (_empty_fields, 2),
    (_keys_twice, 1),
    (_odd_bytes, 3),
    (_huge_words, 1),
    (_huge_token, 1),
    (_odd_words, 1),
    (_several_tokens, 1),
)


def mutate(seed: int, frame: int, words: str, token: str) -> Mutation:
    rng = random.Random(f"smtpdoc-lua-fuzz:{seed}:{frame}")
    kind = rng.choices([k for k, _ in _KINDS], [w for _, w in _KINDS])[0]
    return dataclasses.replace(kind(rng, words, token), family=kind.__name__.lstrip("_"))


def kinds() -> list[str]:
    return [kind.__name__.lstrip("_") for kind, _ in _KINDS]
