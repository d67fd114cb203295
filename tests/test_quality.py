"""The code stays typed and lint-clean, and its imports point one way (no cycles at all)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT

PACKAGE = ROOT / "smtpdoc"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, check=False)


def test_mypy_strict_is_clean() -> None:
    done = _run("mypy", "--strict", "smtpdoc")
    assert done.returncode == 0, done.stdout + done.stderr


def test_ruff_is_clean() -> None:
    done = _run("ruff", "check", "smtpdoc", "tests", "bench")
    assert done.returncode == 0, done.stdout + done.stderr


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Every module a file imports, at any depth (TYPE_CHECKING and function bodies included).

    `from smtpdoc import x` counts as importing smtpdoc.x when x is a module, and
    relative imports are resolved against the file's package.
    """
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = _module_name(path) if path.name == "__init__.py" else _module_name(path).rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                if _is_module(candidate):
                    found.add(candidate)
    return found


def _is_module(name: str) -> bool:
    if not name.startswith("smtpdoc"):
        return False
    path = ROOT.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {name: {m for m in imports_of(path) if m in modules and m != name} for name, path in modules.items()}


def test_the_import_reader_sees_every_form() -> None:
    """The rule below is only as good as the reader: `from smtpdoc import x` is an import of x."""
    found = imports_of(PACKAGE / "explain.py")
    assert {"smtpdoc.pdml_args", "smtpdoc.tshark", "smtpdoc.demux", "smtpdoc.catalog"} <= found
    assert "smtpdoc.dialogue" in imports_of(PACKAGE / "session.py")


_ENGINE_FORBIDDEN = ("lxml", "subprocess", "rich", "click", "smtpdoc.tshark", "smtpdoc.pdml", "smtpdoc.explain")
_RENDER_FORBIDDEN = ("smtpdoc.tshark", "smtpdoc.pdml", "smtpdoc.session", "smtpdoc.dialogue", "smtpdoc.demux")
FORBIDDEN = {
    **{
        f"smtpdoc.{name}": _ENGINE_FORBIDDEN
        for name in (
            "session",
            "demux",
            "dialogue",
            "dialogue_state",
            "commands",
            "replies",
            "message_reading",
            "message_text",
            "readers",
            "events",
            "builder",
            "judge",
            "reassembly",
            "tls_phase",
            "tls_records",
            "catalog.rules",
        )
    },
    # The pieces below the machine never reach up into it.
    "smtpdoc.events": (*_ENGINE_FORBIDDEN, "smtpdoc.session", "smtpdoc.dialogue", "smtpdoc.builder"),
    "smtpdoc.readers": (*_ENGINE_FORBIDDEN, "smtpdoc.session", "smtpdoc.dialogue", "smtpdoc.builder"),
    "smtpdoc.builder": (*_ENGINE_FORBIDDEN, "smtpdoc.session", "smtpdoc.dialogue", "smtpdoc.dialogue_state"),
    "smtpdoc.judge": (*_ENGINE_FORBIDDEN, "smtpdoc.session", "smtpdoc.dialogue"),
    "smtpdoc.catalog.rules": (*_ENGINE_FORBIDDEN, "smtpdoc.session", "smtpdoc.dialogue", "smtpdoc.model"),
    "smtpdoc.model": ("smtpdoc.session", "smtpdoc.dialogue", "smtpdoc.catalog", "smtpdoc.explain", "lxml"),
    **{f"smtpdoc.render.{name}": _RENDER_FORBIDDEN for name in ("terminal", "json", "html", "markdown")},
}


@pytest.mark.parametrize("module", sorted(FORBIDDEN))
def test_imports_point_one_way(module: str) -> None:
    """The engine never imports lxml, subprocess, rich or tshark; renderers never reach the machine."""
    path = ROOT.joinpath(*module.split(".")).with_suffix(".py")
    imported = imports_of(path)
    for name in FORBIDDEN[module]:
        bad = sorted(m for m in imported if m == name or m.startswith(name + "."))
        assert not bad, f"{module} imports {bad}"


def test_nothing_imports_the_cli_and_only_it_exits() -> None:
    """The smtpdoc.cli package (its group and command modules) alone exits; nothing outside imports it."""
    cli = PACKAGE / "cli"
    assert (cli / "__init__.py").is_file() and not (PACKAGE / "cli.py").exists()
    for path in PACKAGE.rglob("*.py"):
        if path.is_relative_to(cli) or path.name == "__main__.py":
            continue
        bad = sorted(m for m in imports_of(path) if m == "smtpdoc.cli" or m.startswith("smtpdoc.cli."))
        assert not bad, f"{path} imports the CLI: {bad}"
        assert "sys.exit" not in path.read_text(encoding="utf-8"), f"{path} exits: only the smtpdoc.cli package may"


def test_no_module_is_over_400_lines() -> None:
    """The cli package, at least, stays split (STYLE.md: modules over ~400 lines get split)."""
    for path in (PACKAGE / "cli").glob("*.py"):
        lines = len(path.read_text(encoding="utf-8").splitlines())
        assert lines <= 400, f"{path} has {lines} lines"


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle, as the modules along it, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_the_cycle_finder_finds_one() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycle_even_under_type_checking() -> None:
    """A package importing its own modules (smtpdoc.render → render.json) is no cycle of modules."""
    graph = _graph()
    for name, deps in graph.items():
        # A package's __init__ may register its submodules; a submodule importing its package
        # then is the usual plug-in pattern, not a design circle.
        graph[name] = {d for d in deps if not d.startswith(name + ".")}
    assert _cycle(graph) is None, " → ".join(_cycle(graph) or [])
