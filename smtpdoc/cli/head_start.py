"""tshark's first pass, started before the rest of smtpdoc is imported (issue 11: start-up).

On a small capture a run is mostly tshark starting up (about 0.2 s) and Python importing
smtpdoc (click, the session machine, the catalog: about as long), one after the other.
For the plain case, one capture file explained (`smtpdoc explain FILE [options]`), `begin`
reads the few options that shape tshark's first pass and starts it at once, so the two
overlap; `smtpdoc.tshark.spawn` hands it over when explaining asks for exactly the same
command line (else it is not used). Anything unusual (an option this module does not
know, several captures, stdin, a folder, an empty file, a tshark whose version is not
cached yet) means no head start: the run goes as it always did. `end` stops a pass that
was started and never asked for (a usage error, say), so nothing of it is ever seen.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

# explain's options that do not take a value, and those that do (smtpdoc.cli.explain_cmd).
# --jobs and --dask (several captures at once) and --help are not here: no head start.
_FLAGS = frozenset(
    {"--show-secrets", "--color", "--no-color", "-q", "--quiet", "--brief", "--summary", "--findings-only"}
)
_VALUED = frozenset(
    {"--format", "-o", "--output", "--stream", "--keylog", "--decode-as", "--tshark", "--min-severity", "--fail-on"}
)


# The catalog's SMTP ports (smtpdoc.session.SMTP_PORTS, from steps.toml), which take the
# session machine to import; tests/test_cli_head_start.py checks that they agree. Only
# whether a large capture gets a head start depends on them.
SMTP_PORTS = frozenset({25, 465, 587})


def _options(argv: Sequence[str]) -> tuple[str, dict[str, list[str]]] | None:
    """(the one capture, option → values) of `explain CAPTURE ...`, or None when unsure."""
    if not argv or argv[0] != "explain":
        return None
    captures: list[str] = []
    values: dict[str, list[str]] = {}
    tokens = iter(argv[1:])
    for token in tokens:
        if token == "--":
            captures.extend(tokens)
            break
        if not token.startswith("-") or token == "-":
            captures.append(token)
            continue
        name, equals, value = token.partition("=") if token.startswith("--") else (token, "", "")
        if name in _FLAGS and not equals:
            continue
        if name not in _VALUED:
            return None
        if not equals:
            following = next(tokens, None)
            if following is None or following.startswith("-"):
                return None
            value = following
        values.setdefault(name, []).append(value)
    if len(captures) != 1 or captures[0] == "-":
        return None
    return captures[0], values


def begin(argv: Sequence[str]) -> None:
    """Start the first pass of `smtpdoc explain ...` now when the command line is the plain case."""
    found = _options(argv)
    if found is None:
        return
    capture, values = found
    try:
        if not os.path.isfile(capture):
            return
        size = os.path.getsize(capture)
        stream = int(values["--stream"][-1]) if "--stream" in values else None
        ports = [int(port) for port in values.get("--decode-as", [])]
        keylog = values["--keylog"][-1] if "--keylog" in values else None
    except (OSError, ValueError):
        return
    if (stream is not None and stream < 0) or any(not 1 <= port <= 65535 for port in ports):
        return
    if keylog is not None and not os.path.isfile(keylog):
        return
    if size == 0:
        return  # explain refuses an empty file before tshark runs
    from smtpdoc import narrow, tshark
    from smtpdoc.errors import SmtpdocError

    if size >= narrow.MIN_BYTES and stream is None and keylog is None:
        # A capture that may be narrowed: its whole pass is started ahead only when the
        # file's first frames are mostly SMTP, as smtpdoc.passes.start decides; it then takes
        # this answer instead of reading the head again (issue 11: the 1,000-session
        # capture's tshark started 0.14 s later than a small one's). Else the passes start
        # their own way: a whole pass started for nothing slows the imports and the
        # narrowing pass that follow.
        from smtpdoc import capture_head

        share = capture_head.smtp_share(capture, SMTP_PORTS | frozenset(ports), narrow.WINDOW)
        if share is None or share < narrow.SPARSE:
            return

    explicit = values["--tshark"][-1] if "--tshark" in values else None
    try:
        program = tshark.known_tshark(explicit)
        if program is None:
            return  # not found, or its version not cached yet: the run finds and asks as usual
        tshark.start_ahead(program, first_pass_args(capture, stream=stream, decode_as=ports, keylog=keylog))
    except (SmtpdocError, OSError):
        return


def first_pass_args(capture: str, *, stream: int | None, decode_as: Sequence[int], keylog: str | None) -> list[str]:
    """tshark's arguments for explain's first pass (as `smtpdoc.explain.explain_capture` and
    `smtpdoc.passes.start` build them; tests/test_cli_head_start.py checks they still agree)."""
    from smtpdoc import pdml_args

    display_filter = pdml_args.DISPLAY_FILTER
    if stream is not None:
        display_filter = f"tcp.stream == {stream} && ({display_filter})"
    rules = [f"tcp.port=={port},smtp" for port in decode_as]
    if keylog is not None:
        return pdml_args.tree_args(capture, decode_as=rules, keylog=keylog, display_filter=display_filter)
    return pdml_args.flat_args(capture, decode_as=rules, display_filter=display_filter)


def end() -> None:
    """Stop whatever was started ahead and not taken."""
    tshark = sys.modules.get("smtpdoc.tshark")  # not imported: nothing was started
    if tshark is not None:
        tshark.stop_ahead()
