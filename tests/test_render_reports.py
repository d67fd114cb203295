"""Markdown and HTML reports: golden files per example, content, escaping, the CLI and progress."""

from __future__ import annotations

import dataclasses
import io
import re
from pathlib import Path

import pytest
from lxml import html as lxml_html

from smtpdoc import render
from smtpdoc.model import Report, Session
from smtpdoc.progress import CaptureProgress, count_frames
from smtpdoc.render import RenderOptions
from smtpdoc.render.ladder import BOTH, arrows, layout, offset
from smtpdoc.render.markdown import md, mermaid, para

from conftest import DATA, EXAMPLES, ROOT, explained, run_cli

GOLDEN = ROOT / "tests" / "golden"
# (capture, keylog): the example captures every report format is pinned against
EXAMPLE_CASES = [
    ("examples/starttls-dsb.pcapng", None),
    ("examples/starttls.pcapng", None),
    ("examples/plain.pcapng", None),
    ("examples/starttls-ipv6.pcapng", "examples/starttls-ipv6.keylog"),
]
FORMATS = [("markdown", "md"), ("html", "html")]


def report_of(relative: str, keylog: str | None = None) -> tuple[Report, list[Session]]:
    """The explained report of a capture, named by its path relative to the repository (stable output)."""
    key = str(ROOT / keylog) if keylog else None
    report, sessions = explained(str(ROOT / relative), keylog=key)
    return dataclasses.replace(report, capture=relative, sessions=list(sessions)), list(sessions)


def rendered(fmt: str, report: Report) -> str:
    out = io.StringIO()
    render.by_name(fmt)(dataclasses.replace(report, sessions=list(report.sessions)), out, RenderOptions())
    return out.getvalue()


def _stable(text: str, report: Report) -> str:
    return text.replace(f"tshark {report.tshark_version}", "tshark <version>")


@pytest.mark.parametrize(("fmt", "suffix"), FORMATS)
@pytest.mark.parametrize(("capture", "keylog"), EXAMPLE_CASES)
def test_report_matches_golden_file(
    capture: str, keylog: str | None, fmt: str, suffix: str, request: pytest.FixtureRequest
) -> None:
    if not (ROOT / capture).exists():
        pytest.skip(f"{capture} is not made yet (examples/make_examples.sh)")
    report, _ = report_of(capture, keylog)
    text = _stable(rendered(fmt, report), report)
    golden = GOLDEN / f"{Path(capture).stem}.{suffix}"
    if request.config.getoption("--update-golden"):
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(text, encoding="utf-8")
    assert golden.exists(), f"no golden file {golden.name}: run pytest --update-golden once and review it"
    assert text == golden.read_text(encoding="utf-8"), f"{golden.name} differs: review, then pytest --update-golden"


@pytest.mark.parametrize(("capture", "keylog"), EXAMPLE_CASES[:3])
def test_markdown_has_diagram_steps_tables_transactions_and_findings(capture: str, keylog: str | None) -> None:
    report, sessions = report_of(capture, keylog)
    text = rendered("markdown", report)
    assert text.count("```mermaid\nsequenceDiagram\n") == len(sessions)
    diagram = text.split("```mermaid", 1)[1].split("```", 1)[0]
    for session in sessions:
        for position, step in enumerate(session.steps, 1):
            assert f"#### {position}. {md(step.title)}" in text
            assert md(step.explanation) in text
            assert mermaid(f"{position}. {step.title} ({offset(step.time)})") in diagram
        for ext in session.extensions:
            assert f"| {md(ext.keyword)} |" in text
        for tr in session.transactions:
            assert md(tr.mail_from) in text
        for finding in session.findings:
            assert md(finding.title) in text
        if session.tls is not None:
            assert "### TLS" in text
    assert "### Transactions" in text and "### Findings" in text


def test_markdown_of_plain_smtp_shows_both_recipients_and_the_subject() -> None:
    report, _ = report_of("examples/plain.pcapng")
    text = rendered("markdown", report)
    assert "alice@example.test (250)" in text and "carol@example.test (250)" in text
    assert "subject “plain SMTP, two recipients”" in text


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"),
        ("a | b", "a \\| b"),
        ("*bold* _it_ `code` [link](x)", "\\*bold\\* \\_it\\_ \\`code\\` \\[link\\](x)"),
        ("R&amp;D", "R&amp;amp;D"),
        ("line\nbreak", "line break"),
        ("bell\x07", "bell\\\\x07"),
    ],
)
def test_markdown_escapes_capture_text(raw: str, escaped: str) -> None:
    assert md(raw) == escaped


@pytest.mark.parametrize(("raw", "escaped"), [("# title", "\\# title"), ("- item", "\\- item"), ("1. one", "1\\. one")])
def test_markdown_paragraph_cannot_start_a_heading_or_list(raw: str, escaped: str) -> None:
    assert para(raw) == escaped


@pytest.mark.parametrize("raw", ["a;b", "#x", "<b>bold</b>", "%% comment", "x:y", 'q"uote', "end", "über;#<>"])
def test_mermaid_text_has_no_syntax_left(raw: str) -> None:
    text = mermaid(raw)
    assert not re.search(r"[;#<>%\"]", re.sub(r"#\d+;", "", text)), text
    assert ":" not in raw or "#58;" not in text  # a colon is text to Mermaid: the source stays readable
    assert re.sub(r"#(\d+);", lambda m: chr(int(m[1])), text) == raw


def test_every_step_has_an_arrow_and_both_ways_steps_span_the_lifelines() -> None:
    _, sessions = report_of("examples/plain.pcapng")
    session = sessions[0]
    drawn = arrows(session)
    assert {a.step for a in drawn} == set(range(1, len(session.steps) + 1))
    assert [a.direction for a in drawn if a.step == 1] == [BOTH]  # TCP handshake
    command = next(i for i, s in enumerate(session.steps, 1) if s.name == "mail_from")
    assert [(a.direction, a.text.split()[0]) for a in drawn if a.step == command] == [("c2s", "mail"), ("s2c", "250")]


@pytest.mark.parametrize(("capture", "keylog"), EXAMPLE_CASES[:3])
def test_html_is_self_contained_with_a_wide_and_a_narrow_ladder_and_every_step(capture: str, keylog: str | None) -> None:
    report, sessions = report_of(capture, keylog)
    text = rendered("html", report)
    doc = lxml_html.fromstring(text)
    assert doc.xpath("//script") == []
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text), "the page must fetch nothing"
    assert doc.xpath("//style") and "@media print" in text and "@media (max-width" in text
    svgs = doc.xpath("//figure[@class='ladder']/svg[contains(@class, 'ladder-wide')]")
    narrow = doc.xpath("//figure[@class='ladder']/svg[contains(@class, 'ladder-narrow')]")
    assert len(svgs) == len(narrow) == len(sessions)
    for session, svg, small in zip(sessions, svgs, narrow, strict=True):
        drawn = {int(g.get("data-step")) for g in svg.xpath(".//g[contains(@class, 'arrow')]")}
        assert drawn == set(range(1, len(session.steps) + 1))
        assert {int(g.get("data-step")) for g in small.xpath(".//g[contains(@class, 'arrow')]")} == drawn
        assert small.get("viewbox").split()[2] == "400"  # lxml.html lowercases attribute names
        labels = " ".join(svg.itertext())
        for position, step in enumerate(session.steps, 1):
            assert f"{position}. {step.title}" in labels
            assert offset(step.time) in labels
            item = doc.get_element_by_id(f"s{session.index}-step{position}")
            assert step.explanation in item.text_content()
        for ext in session.extensions:
            assert doc.xpath(f"//table[@class='extensions']//td[.='{ext.keyword}']")


def test_capture_text_in_html_is_escaped_not_markup() -> None:
    report, _ = report_of("tests/data/subject-script.pcapng")
    text = rendered("html", report)
    assert "<script>" not in text and "<b>" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    doc = lxml_html.fromstring(text)
    assert doc.xpath("//script") == [] and doc.xpath("//main//b") == []
    assert "subject “<script>alert(1)</script>”" in doc.xpath("string(//table[@class='transactions'])")


def test_capture_text_in_markdown_is_escaped_not_markup() -> None:
    report, _ = report_of("tests/data/subject-script.pcapng")
    text = rendered("markdown", report)
    assert "<script>" not in text.replace("```text", "").split("```mermaid")[0].split("### Steps")[0]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    diagram = text.split("```mermaid", 1)[1].split("```", 1)[0]
    assert "<" not in diagram.replace("<br/>", "")


@pytest.mark.parametrize(("suffix", "marker"), [(".md", "```mermaid"), (".html", "<!DOCTYPE html>")])
def test_cli_picks_the_format_from_the_output_suffix(tmp_path: Path, suffix: str, marker: str) -> None:
    out = tmp_path / f"report{suffix}"
    done = run_cli("explain", str(EXAMPLES / "plain.pcapng"), "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert out.read_text(encoding="utf-8").lstrip().startswith(marker) or marker in out.read_text(encoding="utf-8")
    assert done.stderr == ""  # stderr is not a terminal here: no progress bar


def test_cli_format_option_accepts_markdown_and_html() -> None:
    for fmt, marker in (("markdown", "sequenceDiagram"), ("html", "<svg")):
        done = run_cli("explain", str(EXAMPLES / "plain.pcapng"), "--format", fmt, "--quiet")
        assert done.returncode == 0, done.stderr
        assert marker in done.stdout


def test_capture_level_findings_and_no_sessions_are_said_in_words() -> None:
    report, _ = report_of("tests/data/one-sided.pcapng") if (DATA / "one-sided.pcapng").exists() else (None, [])
    if report is None:
        pytest.skip("tests/data/one-sided.pcapng is not made yet")
    for fmt in ("markdown", "html"):
        assert "Session 1" in rendered(fmt, report) or "No SMTP session found" in rendered(fmt, report)


def test_progress_counts_frames_and_learns_the_total_from_capinfos() -> None:
    stream = io.StringIO()
    with CaptureProgress(str(EXAMPLES / "plain.pcapng"), stream, capinfos="/usr/bin/capinfos") as tick:
        for n in range(1, 1001):
            tick(n)
    assert count_frames("File name: x\nNumber of packets:   1234\n") == 1234
    assert count_frames("nothing") is None


def test_steps_inside_tls_get_a_band_in_svg_and_a_rect_in_mermaid() -> None:
    report, sessions = report_of("examples/plain.pcapng")
    session = dataclasses.replace(sessions[0], steps=[dataclasses.replace(s) for s in sessions[0].steps])
    for step in session.steps[4:7]:
        step.inside_tls = True
    lay = layout(session)
    assert len(lay.bands) == 1
    inside = [row for row in lay.rows if row.arrow.inside_tls]
    assert lay.bands[0].y < inside[0].title_y and inside[-1].line_y < lay.bands[0].y + lay.bands[0].height
    text = rendered("markdown", dataclasses.replace(report, sessions=[session]))
    assert text.count("    rect rgba(") == 1 and "    end\n" in text
    page = rendered("html", dataclasses.replace(report, sessions=[session]))
    assert "inside TLS (decrypted)" in page and page.count('class="badge tls"') == 3


def test_multi_session_page_opens_with_an_index_of_sessions_and_findings() -> None:
    from conftest import ZEEK

    report, sessions = explained(str(ZEEK / "traces" / "smtp.pcap"))
    doc = lxml_html.fromstring(rendered("html", dataclasses.replace(report, sessions=list(sessions))))
    (nav,) = doc.xpath("//nav[@class='sessions']")
    first_session = doc.xpath("//section[@class='session']")[0]
    assert nav.getparent().index(nav) < nav.getparent().index(first_session)  # at the top
    rows = nav.xpath(".//tbody/tr")
    assert len(rows) == len(sessions) == 2
    for row, session in zip(rows, sessions, strict=True):
        assert row.xpath("string(td[2])") == f"{session.client} → {session.server}"
        links = row.xpath("td[5]/a")
        assert [a.text_content() for a in links] == [f"{f.severity}: {f.title}" for f in session.findings]
        for a in links + row.xpath("td[1]/a"):
            assert doc.get_element_by_id(a.get("href")[1:]) is not None  # every link lands
    single, _ = report_of("examples/plain.pcapng")
    assert lxml_html.fromstring(rendered("html", single)).xpath("//nav[@class='sessions']") == []


def test_terminal_renders_500_sessions_about_as_fast_as_json(tmp_path: Path) -> None:
    import gc
    import sys
    import time

    sys.path.insert(0, str(ROOT / "bench"))
    import make_capture

    capture = tmp_path / "500.pcapng"
    make_capture.write_capture(EXAMPLES / "plain.pcapng", 500, capture)
    report, sessions = explained(str(capture))
    assert len(sessions) == 500

    def once(fmt: str) -> tuple[float, str]:
        out = io.StringIO()
        started = time.perf_counter()
        render.by_name(fmt)(dataclasses.replace(report, sessions=iter(sessions)), out, RenderOptions())
        return time.perf_counter() - started, out.getvalue()

    times: dict[str, list[float]] = {"json": [], "terminal": []}
    texts: dict[str, str] = {}
    gc.disable()  # the machine is shared: alternate the two, keep each one's best of five
    try:
        for _ in range(5):
            for fmt in times:
                took, texts[fmt] = once(fmt)
                times[fmt].append(took)
    finally:
        gc.enable()
    text = texts["terminal"]
    json_time, terminal_time = min(times["json"]), min(times["terminal"])
    assert terminal_time <= 1.2 * json_time, f"terminal {terminal_time:.3f} s, json {json_time:.3f} s"
    table = text[text.index("Summary: 500 session(s)") :].splitlines()
    assert len(table) == 2 + 500  # title, header, one line per session
    assert text.count("Each RCPT TO names one envelope recipient") == 1


def test_certificate_name_is_shown_in_every_format() -> None:
    capture, keylog = DATA / "tls12.pcapng", DATA / "tls12.keylog"
    report, sessions = explained(str(capture), keylog=str(keylog))
    (session,) = sessions
    assert session.tls is not None and session.tls.certificate
    subject = session.tls.certificate["subject"]
    for fmt in ("terminal", "markdown", "html", "json", "csv"):
        text = rendered(fmt, dataclasses.replace(report, sessions=list(sessions)))
        assert subject in " ".join(text.split()), fmt


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16"])
def test_html_page_is_the_same_on_a_byte_stream(encoding: str) -> None:
    """Sections spooled as UTF-8 bytes go onto a UTF-8 stream's bytes as they are, onto others as text."""
    report, sessions = report_of("tests/data/auth-brute-force.pcapng")
    assert len(sessions) > 1  # the index comes before the spooled sections
    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding=encoding, newline="\n")
    render.by_name("html")(dataclasses.replace(report, sessions=list(sessions)), stream, RenderOptions())
    stream.flush()
    text = raw.getvalue().decode(encoding)
    assert text == rendered("html", report)
    assert text.index('<nav class="sessions"') < text.index('id="s1"') < text.index('id="s2"') < text.index("</html>")
