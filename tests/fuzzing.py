"""Seeded mutations of real captures, for tests/test_fuzz.py.

Every case is made from (seed, index) alone, so one failing case can be remade by itself:

    python tests/fuzzing.py SEED INDEX OUT      # writes the mutated capture to OUT
"""

from __future__ import annotations

import random
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# The bytes before this offset are mostly left alone: a file whose header is broken is simply
# "not a capture" (exit 4), and too many of those would test little beyond tshark's format check.
_HEADER = 64
_KINDS = ("bit_flips", "delete_chunk", "duplicate_chunk", "truncate", "zero_chunk", "header_flip")


def seed_captures() -> list[Path]:
    """The real captures the mutations start from: examples/ and tests/data/ (not broken/)."""
    found = sorted((ROOT / "examples").glob("*.pcapng")) + sorted((ROOT / "tests" / "data").glob("*.pcapng"))
    return [path for path in found if path.stat().st_size > _HEADER]


@dataclass(frozen=True)
class Case:
    index: int
    source: Path
    mutations: tuple[str, ...]
    data: bytes

    def describe(self) -> str:
        return f"case {self.index}: {self.source.name} with {', '.join(self.mutations)}"


def _span(rng: random.Random, size: int, largest: int) -> tuple[int, int]:
    start = rng.randrange(min(_HEADER, size - 1), size)
    return start, min(size, start + rng.randint(1, largest))


def _mutate(rng: random.Random, data: bytearray, kind: str) -> str:
    size = len(data)
    if kind == "bit_flips":
        flips = rng.randint(1, 16)
        for _ in range(flips):
            data[rng.randrange(min(_HEADER, size - 1), size)] ^= 1 << rng.randrange(8)
        return f"{flips} bit flips"
    if kind == "header_flip":
        at = rng.randrange(min(_HEADER, size))
        data[at] ^= 1 << rng.randrange(8)
        return f"bit flip at {at}"
    start, end = _span(rng, size, 512)
    if kind == "delete_chunk":
        del data[start:end]
        return f"bytes {start}-{end} deleted"
    if kind == "duplicate_chunk":
        data[end:end] = data[start:end]
        return f"bytes {start}-{end} duplicated"
    if kind == "zero_chunk":
        data[start:end] = bytes(end - start)
        return f"bytes {start}-{end} zeroed"
    cut = rng.randrange(min(_HEADER, size - 1), size)
    del data[cut:]
    return f"cut at {cut}"


def make_case(seed: int, index: int, sources: list[Path] | None = None) -> Case:
    rng = random.Random(f"smtpdoc-fuzz:{seed}:{index}")
    pool = sources if sources is not None else seed_captures()
    source = pool[index % len(pool)]  # round robin: every capture is mutated, in turn
    data = bytearray(source.read_bytes())
    # Header flips are rarer: one case in twelve.
    weights = (4, 2, 2, 2, 1, 1)
    done = [_mutate(rng, data, rng.choices(_KINDS, weights)[0]) for _ in range(rng.randint(1, 3)) if len(data) > 1]
    return Case(index=index, source=source, mutations=tuple(done), data=bytes(data))


if __name__ == "__main__":
    if len(sys.argv) != 4:
        raise SystemExit("usage: python tests/fuzzing.py SEED INDEX OUT")
    case = make_case(int(sys.argv[1]), int(sys.argv[2]))
    Path(sys.argv[3]).write_bytes(case.data)
    print(case.describe())
