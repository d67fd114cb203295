"""Run the smtpdoc CLI in this process, then write its peak memory as JSON.

    python bench/rusage_wrapper.py REPORT.json explain FILE --format json

Exactly `python -m smtpdoc ARGS` (same entry point), plus one report written at
exit: `self_kib` is the peak RSS of this Python process (smtpdoc itself),
`children_kib` the largest peak among the processes it waited for (tshark).

`self_kib` is VmHWM from /proc/self/status, not getrusage(RUSAGE_SELF): Linux
folds the RSS of the image a process had before exec (here: a fork of whoever
started us, e.g. bench/run.py after it loaded a 1,000-session JSON) into
ru_maxrss, which would report the parent's size instead of ours.
`children_kib` has the same flaw in principle (tshark's figure is at least our
own RSS when we started it, about 40 MiB) but tshark is far larger than that.
"""

from __future__ import annotations

import json
import resource
import sys


def _peak_rss_kib() -> int:
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # not Linux: may include the parent


def _report(path: str, code: int) -> None:
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    own = resource.getrusage(resource.RUSAGE_SELF)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(
            {
                "exit": code,
                "self_kib": _peak_rss_kib(),
                "children_kib": kids.ru_maxrss,
                "self_cpu": own.ru_utime + own.ru_stime,
                "children_cpu": kids.ru_utime + kids.ru_stime,
            },
            f,
        )


def main() -> None:
    report, args = sys.argv[1], sys.argv[2:]
    from smtpdoc.cli import run

    code = 0
    try:
        run(args, prog_name="smtpdoc")
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    sys.stdout.flush()
    _report(report, code)
    sys.exit(code)


if __name__ == "__main__":
    main()
