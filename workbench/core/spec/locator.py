"""The TOML line locator: which line of workbench.toml each field is written on.

tomllib gives no positions; error messages need `file:line`, so this scans the text itself.
"""

from __future__ import annotations

import bisect
import re
import tomllib

FieldPath = tuple[str | int, ...]


def format_field_path(path: FieldPath) -> str:
    """`("steps", 1, "function")` as `steps[1].function`."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            name = part if re.fullmatch(r"[A-Za-z0-9_-]+", part) else f'"{part}"'
            text += f".{name}" if text else name
    return text


_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_SCALAR = re.compile(r"[^\s,\]}#]+(?: \d[^\s,\]}#]*)?")  # numbers, booleans, dates


class _ScanStop(Exception):
    """The text is not what the scanner expected; it keeps what it found so far."""


def locate_fields(text: str) -> dict[FieldPath, int]:
    """Map each field path in (valid) TOML text to the line it is written on.

    tomllib gives no positions, so this scans headers (`[t]`, `[[t]]` with their index),
    `key = value` lines, inline tables and arrays; it is best-effort and never raises.
    """
    scanner = _FieldScanner(text)
    try:
        scanner.run()
    except (_ScanStop, IndexError, ValueError, tomllib.TOMLDecodeError, KeyError):
        pass
    return scanner.lines


class _FieldScanner:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.starts = [0] + [m.end() for m in re.finditer("\n", text)]
        self.lines: dict[FieldPath, int] = {}

    def record(self, path: FieldPath, pos: int) -> None:
        line = bisect.bisect_right(self.starts, pos)
        self.lines[path] = line
        for end in range(1, len(path)):
            self.lines.setdefault(path[:end], line)

    def char(self) -> str:
        if self.pos >= len(self.text):
            raise _ScanStop
        return self.text[self.pos]

    def skip(self, newlines: bool) -> None:
        """Skip blanks and comments (and newlines, when allowed there)."""
        text = self.text
        while self.pos < len(text):
            c = text[self.pos]
            if c in " \t\r" or (newlines and c == "\n"):
                self.pos += 1
            elif c == "#":
                end = text.find("\n", self.pos)
                self.pos = len(text) if end < 0 else end
            else:
                return

    def run(self) -> None:
        table: FieldPath = ()
        counts: dict[FieldPath, int] = {}  # array-of-tables path -> index of its last entry
        while True:
            self.skip(newlines=True)
            if self.pos >= len(self.text):
                return
            start = self.pos
            if self.char() == "[":
                array = self.text.startswith("[[", self.pos)
                self.pos += 2 if array else 1
                names = self.key()
                self.pos += 2 if array else 1
                resolved: list[str | int] = []
                for position, name in enumerate(names):
                    resolved.append(name)
                    if position < len(names) - 1 and tuple(resolved) in counts:
                        resolved.append(counts[tuple(resolved)])
                table = tuple(resolved)
                if array:
                    counts[table] = counts.get(table, -1) + 1
                    table = (*table, counts[table])
                self.record(table, start)
            else:
                self.keyval(table)

    def keyval(self, base: FieldPath) -> None:
        start = self.pos
        path = (*base, *self.key())
        self.record(path, start)
        if self.char() != "=":
            raise _ScanStop
        self.pos += 1
        self.value(path)

    def key(self) -> tuple[str, ...]:
        parts: list[str] = []
        while True:
            self.skip(newlines=False)
            if self.char() in "\"'":
                parts.append(tomllib.loads("k = " + self.string())["k"])
            else:
                match = _BARE_KEY.match(self.text, self.pos)
                if match is None:
                    raise _ScanStop
                parts.append(match.group())
                self.pos = match.end()
            self.skip(newlines=False)
            if self.pos < len(self.text) and self.text[self.pos] == ".":
                self.pos += 1
            else:
                return tuple(parts)

    def value(self, path: FieldPath) -> None:
        self.skip(newlines=False)
        c = self.char()
        if c == "[":
            self.pos += 1
            index = 0
            while True:
                self.skip(newlines=True)
                if self.char() == "]":
                    self.pos += 1
                    return
                element = (*path, index)
                self.record(element, self.pos)
                self.value(element)
                self.skip(newlines=True)
                if self.char() == ",":
                    self.pos += 1
                    index += 1
        elif c == "{":
            self.pos += 1
            while True:
                self.skip(newlines=False)
                if self.char() == "}":
                    self.pos += 1
                    return
                self.keyval(path)
                self.skip(newlines=False)
                if self.char() == ",":
                    self.pos += 1
        elif c in "\"'":
            self.string()
        else:
            match = _SCALAR.match(self.text, self.pos)
            if match is None:
                raise _ScanStop
            self.pos = match.end()

    def string(self) -> str:
        """Skip a string of any of TOML's four kinds; return its source text."""
        text, start = self.text, self.pos
        quote = text[start]
        delimiter = quote * 3 if text.startswith(quote * 3, start) else quote
        i = start + len(delimiter)
        while i < len(text):
            if quote == '"' and text[i] == "\\":
                i += 2
            elif text.startswith(delimiter, i):
                i += len(delimiter)
                extra = 0
                while len(delimiter) == 3 and extra < 2 and i < len(text) and text[i] == quote:
                    i += 1
                    extra += 1
                self.pos = i
                return text[start:i]
            else:
                i += 1
        raise _ScanStop
