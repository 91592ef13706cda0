"""The text on an app's screen, as a person reads it (from Textual's SVG screenshot)."""

from __future__ import annotations

import html
import re
from typing import Any

from textual.app import App

_TEXT = re.compile(r"<text[^>]*>(.*?)</text>", re.DOTALL)
# Spacing, and the box-drawing glyphs of borders that a wrapped line runs into.
_NOISE = re.compile(r"[\s\u2500-\u257f]+")


def screen_text(app: App[Any]) -> str:
    """Every text run of the current screen, unescaped, in order, without separators."""
    runs = _TEXT.findall(app.export_screenshot())
    return "".join(html.unescape(run).replace("\xa0", " ") for run in runs)


def shows(app: App[Any], needle: str) -> bool:
    """Whether `needle` is on screen, ignoring spacing, line wrapping and panel borders."""
    return _NOISE.sub("", needle) in _NOISE.sub("", screen_text(app))
