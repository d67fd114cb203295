"""Run the smtpdoc CLI in this process, then write its peak memory as JSON.

    python bench/rusage_wrapper.py REPORT.json explain FILE --format json

Exactly `python -m smtpdoc ARGS` (same entry point), plus one report written at
exit: `self_kib` is the peak RSS of this Python process (smtpdoc itself),
`children_kib` the largest peak among the processes it waited for (tshark).
"""

from __future__ import annotations

import json
import resource
import sys


def _report(path: str, code: int) -> None:
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(path, "w", encoding="utf-8") as f:
        json.dump({"exit": code, "self_kib": me.ru_maxrss, "children_kib": kids.ru_maxrss}, f)


def main() -> None:
    report, args = sys.argv[1], sys.argv[2:]
    from smtpdoc.cli import main as smtpdoc_main

    code = 0
    try:
        smtpdoc_main(args=args, prog_name="smtpdoc")
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    sys.stdout.flush()
    _report(report, code)
    sys.exit(code)


if __name__ == "__main__":
    main()
