"""The table after a many-capture run: one row per capture, in input order, and a total."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TextIO

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from smtpdoc.model import CaptureSummary
from smtpdoc.render import RenderOptions
from smtpdoc.render.common import printable

_SEVERITIES = ("critical", "warning", "notice")
_STATUS_STYLE = {"explained": "green", "cut short": "yellow", "failed": "bold red"}


def _findings(counts: dict[str, int]) -> str:
    parts = [f"{counts[severity]} {severity}" for severity in _SEVERITIES if counts.get(severity)]
    return ", ".join(parts) or "-"


def render_captures(summaries: Sequence[CaptureSummary], out: TextIO, options: RenderOptions) -> None:
    console = Console(
        file=out,
        force_terminal=options.colour,
        no_color=not options.colour,
        highlight=False,
        emoji=False,
        width=options.width or 200,
    )
    table = Table(show_edge=False, pad_edge=False, box=box.SIMPLE_HEAD)
    for name, justify in (("capture", "left"), ("sessions", "right"), ("TLS", "right"), ("messages", "right")):
        table.add_column(name, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    table.add_column("findings", no_wrap=True)
    table.add_column("result", no_wrap=True)
    total = CaptureSummary(capture="total")
    for summary in summaries:
        result = Text(summary.status, style=_STATUS_STYLE.get(summary.status, ""))
        table.add_row(
            Text(printable(summary.capture)),
            str(summary.sessions),
            str(summary.tls),
            str(summary.messages),
            _findings(summary.findings),
            result,
        )
        total.sessions += summary.sessions
        total.tls += summary.tls
        total.messages += summary.messages
        for severity, count in summary.findings.items():
            total.findings[severity] = total.findings.get(severity, 0) + count
    failed = sum(1 for summary in summaries if summary.status == "failed")
    table.add_section()
    table.add_row(
        "total",
        str(total.sessions),
        str(total.tls),
        str(total.messages),
        _findings(total.findings),
        f"{len(summaries) - failed} explained, {failed} failed",
    )
    with console.capture() as captured:
        console.print(table)
    # rich pads every row to the table's width; files and pipes get no trailing blanks
    lines = [line.rstrip() for line in captured.get().splitlines()]
    out.write(f"\n{len(summaries)} captures\n" + "\n".join(line for line in lines if line.strip()) + "\n")
