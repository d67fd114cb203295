"""The typed names the machine uses are exactly the catalog's (so neither can drift)."""

from __future__ import annotations

import tomllib
from importlib import resources
from typing import get_args

from smtpdoc.catalog import load_catalog
from smtpdoc.names import DetailName, FindingName, NoteName, StepName


def _toml(name: str) -> dict[str, object]:
    return tomllib.loads(resources.files("smtpdoc.catalog").joinpath(name).read_text(encoding="utf-8"))


def test_step_names_are_the_catalog_steps() -> None:
    assert sorted(get_args(StepName)) == sorted(step.name for step in load_catalog().steps)


def test_finding_names_are_the_catalog_findings() -> None:
    doc = _toml("findings.toml")
    rows = doc["finding"]
    assert isinstance(rows, list)
    assert sorted(get_args(FindingName)) == sorted(row["name"] for row in rows)


def test_note_and_detail_names_are_the_dialogue_tables() -> None:
    doc = _toml("dialogue.toml")
    notes, details = doc["notes"], doc["details"]
    assert isinstance(notes, dict) and isinstance(details, dict)
    assert sorted(get_args(NoteName)) == sorted(notes)
    assert sorted(get_args(DetailName)) == sorted(details)
