"""The finding colours of the Wireshark profile, read from the catalog (findings.toml `[colours]`).

The step rules themselves (`steps.toml [rules]`, `dialogue.toml`) are read once, by
`smtpdoc.catalog.rules`, for the session machine: the Wireshark plugin shows what that machine
decided (through `smtpdoc annotate`) and reads no rules of its own.
"""

from __future__ import annotations

import functools
import re
import tomllib
from importlib import resources

from smtpdoc.catalog import CatalogError

_COLOUR = re.compile(r"#[0-9a-f]{6}")


@functools.cache
def finding_colours() -> dict[str, str]:
    """Severity → #rrggbb, checked (once per process)."""
    try:
        text = resources.files("smtpdoc.catalog").joinpath("findings.toml").read_text(encoding="utf-8")
        colours = tomllib.loads(text).get("colours")
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise CatalogError(f"cannot read catalog file findings.toml: {error}") from error
    if not isinstance(colours, dict) or not all(isinstance(c, str) and _COLOUR.fullmatch(c) for c in colours.values()):
        raise CatalogError("findings.toml: [colours] must map severities to #rrggbb")
    return {str(k): str(v) for k, v in colours.items()}
