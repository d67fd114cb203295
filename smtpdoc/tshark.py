"""Find tshark, check its version, run it with argument lists, stream stdout.

tshark is looked for on PATH first; pyshark knows the other places it may live (its
config.ini, the usual install folders) and is imported only then (it costs a sixth
of a second). Parsing is ours (see `smtpdoc.pdml`): a pyshark FileCapture loop is far
slower than one tshark pass. The version `tshark -v` reports is cached per binary
(path, size, modification time), since asking costs a tenth of a second a run.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO

from smtpdoc import cache
from smtpdoc.errors import CaptureUnreadable, TsharkFailed, TsharkMissing, TsharkTooOld

MIN_VERSION = (4, 0, 0)
INSTALL_HINT = (
    "install it with 'sudo apt-get install -y tshark' (Debian/Ubuntu), "
    "'sudo dnf install wireshark-cli' (Fedora) or 'brew install wireshark' (macOS), "
    "or point SMTPDOC_TSHARK at the binary"
)
# tshark's messages that mean "the file itself is the problem".
_UNREADABLE = re.compile(
    r"doesn't exist|isn't a capture file|couldn't be opened|Permission denied|"
    r"unknown or unsupported|is a directory|unknown file format|not a capture file",
    re.IGNORECASE,
)
_CUT_SHORT = re.compile(r"cut short|appears to be damaged or corrupt|bad record", re.IGNORECASE)
_NOISE = ("Running as user", "This could be dangerous")


@dataclass(frozen=True)
class Tshark:
    path: str
    version: tuple[int, int, int]

    @property
    def version_text(self) -> str:
        return ".".join(str(n) for n in self.version)


def _parse_version(text: str) -> tuple[int, int, int] | None:
    match = re.search(r"(\d+)\.(\d+)\.(\d+)", text)
    if not match:
        return None
    return (int(match[1]), int(match[2]), int(match[3]))


def locate(explicit: str | None = None) -> str:
    """Path of the tshark binary: an explicit path, $SMTPDOC_TSHARK, or pyshark's search."""
    candidate = explicit or os.environ.get("SMTPDOC_TSHARK")
    if candidate:
        found = shutil.which(candidate)
        if found is None:
            raise TsharkMissing(f"tshark not found at '{candidate}': {INSTALL_HINT}.")
        return found
    on_path = shutil.which("tshark")
    if on_path is not None:
        return on_path
    from pyshark.tshark.tshark import TSharkNotFoundException, get_process_path

    try:
        path: str = get_process_path()
    except TSharkNotFoundException:
        raise TsharkMissing(f"tshark is not installed: {INSTALL_HINT}.") from None
    return path


def find_tshark(explicit: str | None = None) -> Tshark:
    """Locate tshark and check that it is 4.0 or newer."""
    path = locate(explicit)
    identity, cached = _cached_version(path)
    version = _ask_version(path) if cached is None else cached
    if version < MIN_VERSION:
        have = ".".join(map(str, version))
        raise TsharkTooOld(
            f"tshark {have} at '{path}' is too old; smtpdoc needs 4.0 or newer: {INSTALL_HINT} "
            "(Debian 12 and Ubuntu 24.04 ship 4.0 or newer)."
        )
    if cached is None and identity:
        _remember(identity, version)
    return Tshark(path=path, version=version)


def known_tshark(explicit: str | None = None) -> Tshark | None:
    """The tshark `find_tshark` would find, when its version (4.0 or newer) is already cached; else None."""
    path = locate(explicit)
    _, cached = _cached_version(path)
    return Tshark(path=path, version=cached) if cached is not None and cached >= MIN_VERSION else None


def _cached_version(path: str) -> tuple[str, tuple[int, int, int] | None]:
    """The binary's identity, and its version when the cache has it."""
    identity = _identity(path)
    cached = _cached_versions().get(identity) if identity else None
    return identity, None if cached is None else (cached[0], cached[1], cached[2])


def _ask_version(path: str) -> tuple[int, int, int]:
    try:
        done = subprocess.run([path, "-v"], capture_output=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise TsharkMissing(f"tshark at '{path}' cannot be run ({exc}): {INSTALL_HINT}.") from None
    first = done.stdout.decode("utf-8", "replace").splitlines()[:1]
    version = _parse_version(first[0]) if first else None
    if done.returncode != 0 or version is None:
        raise TsharkMissing(f"'{path}' did not report a tshark version: {INSTALL_HINT}.")
    return version


def _identity(path: str) -> str:
    """The binary as it is now: a new build or another file under the same name is a miss."""
    try:
        real = os.path.realpath(path)
        info = os.stat(real)
    except OSError:
        return ""
    return f"{real}|{info.st_size}|{info.st_mtime_ns}|{info.st_ino}"


_VERSIONS = "tshark-versions.json"


def _cached_versions() -> dict[str, list[int]]:
    try:
        data = json.loads(cache.read(_VERSIONS) or "{}")
    except ValueError:
        return {}
    if not isinstance(data, dict):
        return {}
    return {
        k: v
        for k, v in data.items()
        if isinstance(v, list) and len(v) == 3 and all(isinstance(n, int) and not isinstance(n, bool) for n in v)
    }


def _remember(identity: str, version: tuple[int, int, int]) -> None:
    """Best effort: a cache that cannot be written only costs the next run a `tshark -v`."""
    known = _cached_versions()
    known[identity] = list(version)
    cache.write(_VERSIONS, json.dumps(dict(list(known.items())[-8:])))


@dataclass
class RunResult:
    """What tshark said once its output was consumed."""

    returncode: int
    stderr: str

    @property
    def cut_short(self) -> bool:
        return bool(_CUT_SHORT.search(self.stderr))

    def message(self) -> str:
        return _first_message(self.stderr)


def _first_message(stderr: str) -> str:
    for line in stderr.splitlines():
        line = line.strip()
        if line and not any(noise in line for noise in _NOISE):
            return line.removeprefix("tshark: ")
    return "no message"


@dataclass
class Spawned:
    """A tshark started ahead of reading it (its stderr goes to a temporary file)."""

    proc: subprocess.Popen[bytes]
    err: IO[bytes]
    # Started by the head start (smtpdoc.cli.head_start), which starts the whole pass of a
    # capture that may be narrowed only once the file's head showed it mostly SMTP.
    ahead: bool = False

    def stop(self) -> None:
        """Stop it unread (a pass started in case it was needed, and it was not)."""
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        if self.proc.poll() is None:
            self.proc.terminate()
        self.proc.wait()
        self.err.close()


# Passes started ahead (smtpdoc.cli.head_start), by their whole command line, until asked for.
_ahead: dict[tuple[str, ...], Spawned] = {}


def start_ahead(tshark: Tshark, args: Sequence[str]) -> None:
    """Start `tshark args` now; the first `spawn` with the same binary and arguments takes it."""
    started = spawn(tshark, args)
    started.ahead = True
    _ahead[(tshark.path, *args)] = started


def stop_ahead() -> None:
    """Stop the passes started ahead that nothing took."""
    while _ahead:
        _ahead.popitem()[1].stop()


def spawn(tshark: Tshark, args: Sequence[str]) -> Spawned:
    if _ahead:
        ahead = _ahead.pop((tshark.path, *args), None)
        stop_ahead()  # the first pass asked for is not what was started ahead: nothing will take it
        if ahead is not None:
            return ahead
    err = tempfile.TemporaryFile()
    try:
        proc = subprocess.Popen(
            [tshark.path, *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=err,
        )
    except OSError as exc:
        err.close()
        raise TsharkMissing(f"tshark at '{tshark.path}' cannot be run ({exc}).") from None
    assert proc.stdout is not None
    _widen(proc.stdout)
    return Spawned(proc=proc, err=err)


@contextmanager
def stream(
    tshark: Tshark, args: Sequence[str], spawned: Spawned | None = None
) -> Iterator[tuple[IO[bytes], RunResult]]:
    """Run `tshark args...` (or take the one `spawned` already) and yield its stdout to read.

    stderr goes to a temporary file so that a chatty tshark can never block on
    a full pipe while we read stdout. After the block, the RunResult holds the
    exit code and stderr; errors that make the whole file unreadable raise.
    """
    result = RunResult(returncode=0, stderr="")
    running = spawned or spawn(tshark, args)
    proc, err = running.proc, running.err
    assert proc.stdout is not None
    try:
        yield proc.stdout, result
    finally:
        proc.stdout.close()
        if proc.poll() is None:
            proc.terminate()
        result.returncode = proc.wait()
        err.seek(0)
        result.stderr = err.read().decode("utf-8", "replace")
        err.close()
    if result.returncode < 0:
        raise TsharkFailed(f"tshark was killed by signal {-result.returncode}: {result.message()}")


# A pipe of 1 MiB instead of 64 KiB lets tshark run ahead while Python is busy with a
# burst of work (a session finished, its report written), so the two overlap better.
_PIPE_BYTES = 1 << 20


def _widen(pipe: IO[bytes]) -> None:
    setsize = getattr(fcntl, "F_SETPIPE_SZ", None)
    if setsize is None:
        return
    try:
        fcntl.fcntl(pipe.fileno(), setsize, _PIPE_BYTES)
    except OSError:
        pass  # above /proc/sys/fs/pipe-max-size for this user: the default pipe works too


def check(result: RunResult, capture: str) -> None:
    """Turn tshark's complaint about the file into an exception (not for cut-short files)."""
    if result.returncode == 0 or result.cut_short:
        return
    text = result.message()
    if _UNREADABLE.search(result.stderr):
        raise CaptureUnreadable(f"cannot read '{capture}': {text}")
    raise TsharkFailed(f"tshark failed on '{capture}' (exit {result.returncode}): {text}")


# Encapsulations (capinfos -E, wiretap's short names) of files tshark opens that hold no network
# traffic: media and document formats it can browse. A short text file, for one, opens as MP4.
_NOT_NETWORK = {
    "mp4": "MP4 media",
    "mime": "a media or document file",
    "json": "JSON",
    "rfc7468": "a PEM (RFC 7468) file",
    "ber": "ASN.1 BER data",
    "mpeg": "MPEG media",
    "systemd_journal": "a systemd journal",
    "ruby_marshal": "Ruby marshal data",
}


def check_network(tshark: Tshark, capture: str) -> None:
    """A file that gave no packet: is it a capture at all? capinfos (beside tshark) tells its encapsulation."""
    found = shutil.which("capinfos", path=os.path.dirname(tshark.path)) or shutil.which("capinfos")
    if found is None:
        return
    try:
        done = subprocess.run(
            [found, "-T", "-r", "-t", "-E", capture], capture_output=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return
    fields = done.stdout.decode("utf-8", "replace").rstrip("\n").split("\t")
    if done.returncode != 0 or len(fields) < 3:
        return
    kind = _NOT_NETWORK.get(fields[-1])
    if kind is not None:
        raise CaptureUnreadable(
            f"cannot read '{capture}': tshark reads it as {kind} (file type {fields[-2]}), not a network capture"
        )


def run(tshark: Tshark, args: Sequence[str], capture: str) -> str:
    """Run tshark to completion and return its stdout (for small, secondary passes)."""
    with stream(tshark, args) as (stdout, result):
        data = stdout.read()
    check(result, capture)
    return data.decode("utf-8", "replace")
