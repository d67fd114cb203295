"""Decrypted TLS bytes through tshark's "follow" (the PDML carries them only in part).

PDML does not carry the decrypted bytes exactly (its SMTP fields lose parts of multi-line
replies and of the message), so for streams tshark decrypted, one `-z follow,tls,raw`
pass gives them: one hex line per decrypted application-data record, the second node's
indented.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

DECRYPTED_FILTER = "tls && smtp"


def decrypted_streams_args(capture: str, *, decode_as: Sequence[str] = (), keylog: str | None = None) -> list[str]:
    """tshark arguments listing the TCP streams in which SMTP was decrypted."""
    args = ["-n", "-r", capture, "-T", "fields", "-e", "tcp.stream", "-Y", DECRYPTED_FILTER]
    return args + _decode_options(decode_as, keylog)


def follow_args(
    capture: str, streams: Sequence[int], *, decode_as: Sequence[str] = (), keylog: str | None = None
) -> list[str]:
    args = ["-n", "-r", capture, "-q"]
    for stream in streams:
        args += ["-z", f"follow,tls,raw,{stream}"]
    return args + _decode_options(decode_as, keylog)


def _decode_options(decode_as: Sequence[str], keylog: str | None) -> list[str]:
    args: list[str] = []
    for rule in decode_as:
        args += ["-d", rule]
    if keylog:
        args += ["-o", f"tls.keylog_file:{keylog}"]
    return args


@dataclass
class Followed:
    """The decrypted records of one stream, in order, each tagged with its sender."""

    node0: tuple[str, int] | None  # the endpoint of the unindented records, when tshark names it
    records: list[tuple[bool, bytes]] = field(default_factory=list)  # (sent by node 0, bytes)


def parse_follow(text: str) -> dict[int, Followed]:
    out: dict[int, Followed] = {}
    current: Followed | None = None
    for line in text.splitlines():
        if line.startswith("Filter: tcp.stream eq "):
            current = Followed(node0=None)
            out[int(line.rsplit(" ", 1)[1])] = current
        elif current is None or not line.strip() or line.startswith("="):
            continue
        elif line.startswith("Node 0: "):
            address, _, port = line[len("Node 0: ") :].rpartition(":")
            address = address.removeprefix("[").removesuffix("]")  # "[::1]:25"
            current.node0 = (address, int(port)) if port.isdigit() and address else None
        elif line.startswith(("Node ", "Follow:")):
            continue
        else:
            try:
                data = bytes.fromhex(line.strip())
            except ValueError:
                continue
            current.records.append((not line.startswith("\t"), data))
    return out
