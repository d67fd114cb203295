"""Live traffic: tshark captures an interface and each SMTP session is explained as it closes.

Theory of operation. Without a key log, one tshark reads the interface and prints the
same pruned PDML as for a file (`pdml_args.tree_args`, with `-i` in place of `-r`); the
same PDML reader, demultiplexer and session machine as `explain` turn it into sessions,
which are explained and handed to the renderer the moment they close. With `--keylog`,
decryption needs tshark passes over a file (see `explain._Decrypted`), so the traffic is
spooled to a temporary pcapng instead, and explained from it, decrypted steps included,
once the capture ends.

The capture ends by `--duration`, by `--count`, or by Ctrl-C: the first Ctrl-C asks
tshark to stop (it ends its PDML properly), and what was seen so far is explained;
a second one stops at once. tshark starts capturing a little after it starts: the
ready callback runs when its log says "Capture started", so a caller (a test, a
script) can connect only then.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from types import FrameType, TracebackType
from typing import IO, Any

from smtpdoc import pdml, pdml_args
from smtpdoc import tshark as tshark_mod
from smtpdoc.catalog import Catalog, load_catalog
from smtpdoc.demux import Demux
from smtpdoc.errors import EXIT_NOT_PERMITTED, SmtpdocError, TsharkFailed, UsageProblem
from smtpdoc.explain import Settings, explain_capture, explain_session
from smtpdoc.model import Finding, Report, Session
from smtpdoc.session import Options
from smtpdoc.tshark import Tshark

READY_TIMEOUT = 30.0
_READY = "Capture started"
_NO_DEVICE = re.compile(r"There is no device named|No such device", re.IGNORECASE)
_NOT_PERMITTED = re.compile(r"permission to capture|Operation not permitted", re.IGNORECASE)
_BAD_FILTER = re.compile(r"Invalid capture filter", re.IGNORECASE)
PERMISSION_HINT = (
    "run as root, or allow capturing for your user (Debian/Ubuntu: 'sudo dpkg-reconfigure wireshark-common', "
    "answer Yes, then 'sudo usermod -a -G wireshark $USER' and log in again)"
)


class NoSuchInterface(UsageProblem):
    """The interface to capture on does not exist."""


class BadCaptureFilter(UsageProblem):
    """tshark refused the capture filter."""


class CaptureNotPermitted(SmtpdocError):
    """This user may not capture on the interface."""

    exit_code = EXIT_NOT_PERMITTED


@dataclass(frozen=True)
class LiveOptions:
    interface: str
    bpf: str | None = None  # a capture filter (tcpdump syntax), applied by the kernel
    duration: float | None = None  # stop after this many seconds
    count: int | None = None  # stop after this many packets (those the capture filter lets through)


@dataclass
class LiveOutcome:
    interrupted: bool = False  # stopped by Ctrl-C
    sessions: int = 0
    warning: str | None = None


def interfaces(tshark: Tshark) -> tuple[list[str], list[str]]:
    """The interfaces tshark can capture on, as pyshark reads `tshark -D`: (names, names and aliases)."""
    from pyshark.tshark.tshark import get_all_tshark_interfaces_names, get_tshark_interfaces

    try:
        names: list[str] = get_tshark_interfaces(tshark.path)
        aliases: list[str] = get_all_tshark_interfaces_names(tshark.path)
    except (OSError, subprocess.CalledProcessError):
        return [], []
    return names, names + aliases


def check_interface(tshark: Tshark, name: str) -> None:
    names, accepted = interfaces(tshark)
    if accepted and name not in accepted and not name.isdigit():
        shown = ", ".join(names[:12]) + (", ..." if len(names) > 12 else "")
        raise NoSuchInterface(f"there is no interface '{name}'; tshark can capture on: {shown} (tshark -D lists them).")


def live_args(options: LiveOptions, settings: Settings, spool: str | None) -> list[str]:
    """tshark's arguments: the PDML pass of a file on the interface, or a plain capture into `spool`."""
    source = ["-i", options.interface]
    if options.bpf:
        source += ["-f", options.bpf]
    if options.duration is not None:
        source += ["-a", f"duration:{options.duration:g}"]
    if options.count is not None:
        source += ["-c", str(options.count)]
    if spool is not None:
        return ["-n", *source, "-w", spool]
    args = pdml_args.tree_args("-", decode_as=[f"tcp.port=={port},smtp" for port in settings.decode_as])
    at = args.index("-r")
    return [*args[:at], *source, "-l", *args[at + 2 :]]


def _end_with_parent() -> None:
    """In the child, before exec: on Linux, tshark gets SIGTERM if smtpdoc dies (so no capture is orphaned)."""
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


class _Tshark:
    """One live tshark: started in its own session (so Ctrl-C reaches us, not it), stopped by SIGINT."""

    def __init__(self, tshark: Tshark, args: list[str], interface: str) -> None:
        self.interface = interface
        self.ready = threading.Event()
        self.stderr: list[str] = []
        try:
            self.proc = subprocess.Popen(
                [tshark.path, *args],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                bufsize=0,  # unbuffered: the PDML reader gets each packet as tshark writes it
                start_new_session=True,
                preexec_fn=_end_with_parent,
            )
        except OSError as exc:
            raise TsharkFailed(f"tshark at '{tshark.path}' cannot be run ({exc}).") from None
        self.reader = threading.Thread(target=self._read_stderr, daemon=True)
        self.reader.start()

    @property
    def stdout(self) -> IO[bytes]:
        assert self.proc.stdout is not None
        return self.proc.stdout

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        for raw in self.proc.stderr:
            line = raw.decode("utf-8", "replace")
            self.stderr.append(line)
            if _READY in line:
                self.ready.set()
        self.ready.set()  # tshark ended: whoever waits looks at why

    def wait_ready(self) -> None:
        if not self.ready.wait(READY_TIMEOUT):
            self.stop()
            raise TsharkFailed(f"tshark did not start capturing on '{self.interface}' within {READY_TIMEOUT:g} s.")
        if self.proc.poll() is not None or not any(_READY in line for line in self.stderr):
            self.proc.wait()
            self.reader.join()
            self.raise_for_errors()
            raise TsharkFailed(f"tshark stopped before capturing on '{self.interface}': {self.message()}")

    def message(self, pattern: re.Pattern[str] | None = None) -> str:
        """tshark's first telling line (the one matching `pattern`, when given)."""
        if pattern is not None:
            for line in self.stderr:
                if pattern.search(line):
                    return line.strip().removeprefix("tshark: ")
        lines = [line for line in self.stderr if not line.startswith("Capturing on") and _READY not in line]
        return tshark_mod.RunResult(self.proc.returncode or 0, "".join(lines)).message()

    def raise_for_errors(self) -> None:
        text = "".join(self.stderr)
        if _NO_DEVICE.search(text):
            raise NoSuchInterface(f"there is no interface '{self.interface}' ({self.message(_NO_DEVICE)}).")
        if _NOT_PERMITTED.search(text):
            raise CaptureNotPermitted(f"not permitted to capture on '{self.interface}': {PERMISSION_HINT}.")
        if _BAD_FILTER.search(text):
            raise BadCaptureFilter(f"{self.message(_BAD_FILTER).rstrip('.')}: see 'man pcap-filter' for the syntax.")
        if self.proc.returncode not in (0, None):
            raise TsharkFailed(f"tshark failed capturing on '{self.interface}': {self.message()}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGINT)  # tshark stops dumpcap and ends its output properly

    def close(self) -> None:
        self.stop()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)  # tshark and its dumpcap
            self.proc.wait()
        self.reader.join(timeout=5)
        self.stdout.close()


class Watch:
    """A running live capture; `report.sessions` yields explained sessions until the capture ends.

    Use it as a context manager: on the way out tshark is stopped, Ctrl-C handling restored
    and the spool file (with a key log) removed.
    """

    def __init__(
        self,
        tshark: Tshark,
        options: LiveOptions,
        settings: Settings,
        on_ready: Callable[[], None] = lambda: None,
    ) -> None:
        self.tshark = tshark
        self.options = options
        self.settings = settings
        self.outcome = LiveOutcome()
        self.catalog = load_catalog()
        check_interface(tshark, options.interface)
        self.spool: str | None = None
        if settings.keylog:
            handle, self.spool = tempfile.mkstemp(prefix="smtpdoc-live-", suffix=".pcapng")
            os.close(handle)
        self._previous: Any = None
        self._install_interrupts()
        try:
            self.capture = _Tshark(tshark, live_args(options, settings, self.spool), options.interface)
            self.capture.wait_ready()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        on_ready()
        label = f"live capture on {options.interface}" + (f" ({options.bpf})" if options.bpf else "")
        self.report = Report(capture=label, tshark_version=tshark.version_text, sessions=[])
        self.report.filter_title, self.report.filter_explanation = self.catalog.filter_intro
        self.report.sessions = self._from_spool() if self.spool else self._streamed()

    # -- Ctrl-C --------------------------------------------------------------------------
    def _install_interrupts(self) -> None:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._interrupted)

    def _interrupted(self, signum: int, frame: FrameType | None) -> None:
        if self.outcome.interrupted:  # the second Ctrl-C: stop now
            signal.signal(signal.SIGINT, signal.default_int_handler)
            raise KeyboardInterrupt
        self.outcome.interrupted = True
        self.capture.stop()

    def __enter__(self) -> Watch:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, trace: TracebackType | None
    ) -> None:
        capture = getattr(self, "capture", None)
        if capture is not None:
            capture.close()
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None
        if self.spool is not None:
            try:
                os.unlink(self.spool)
            except OSError:
                pass
            self.spool = None

    # -- sessions ------------------------------------------------------------------------
    def _streamed(self) -> Iterator[Session]:
        ports = self.settings.smtp_ports | frozenset(self.settings.decode_as)
        demux = Demux(Options(reveal_secrets=self.settings.reveal_secrets, smtp_ports=ports))
        frames = 0
        try:
            for packet in pdml.read_packets(self.capture.stdout):
                frames += 1
                yield from self._explained(demux.feed(packet))
                if demux.held:
                    # SMTP gone to TLS on a port tshark does not know: no second pass is possible
                    # on live traffic (--decode-as PORT says it), so the first reading stands.
                    yield from self._explained(demux.resolve({}))
        except pdml.PdmlError as exc:
            if not self.outcome.interrupted:
                self.outcome.warning = f"tshark's output ended early ({exc})"
        self.capture.close()
        self.capture.raise_for_errors()
        yield from self._explained(demux.close())
        self._no_smtp(frames)

    def _from_spool(self) -> Iterator[Session]:
        assert self.spool is not None
        self.capture.proc.wait()
        self.capture.close()
        self.capture.raise_for_errors()
        report, outcome = explain_capture(self.spool, self.tshark, self.settings)
        for session in report.sessions:
            self.outcome.sessions += 1
            yield session
        self.report.findings.extend(report.findings)
        if outcome.warning:
            self.outcome.warning = outcome.warning.replace(self.spool, "the live capture")

    def _explained(self, sessions: Iterable[Session]) -> Iterator[Session]:
        for session in sessions:
            self.outcome.sessions += 1
            yield explain_session(session, self.catalog)

    def _no_smtp(self, frames: int) -> None:
        if self.outcome.sessions == 0:
            detail = "no packets" if frames == 0 else f"{frames} TCP frames, none of them SMTP"
            self.report.findings.append(
                _catalog_finding(Finding(name="no_smtp", frames=[], detail=detail), self.catalog)
            )


def _catalog_finding(found: Finding, catalog: Catalog) -> Finding:
    info = catalog.finding(found.name)
    found.severity, found.title, found.explanation, found.rfc = info.severity, info.title, info.explanation, info.rfc
    return found
