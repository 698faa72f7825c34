"""Find the line of a key in a TOML file, so that errors can point at it.

tomllib gives values without positions. This scanner walks the text once and records the
line of every table header, key and multi-line array element under the same path that the
parsed data has, such as ("agenda", 2, "speakers", 0, "name"). It understands the subset
of TOML that people write by hand; when it cannot place a path it falls back to the
nearest enclosing one, so the worst case is a line that is close rather than none.
"""

from __future__ import annotations

import re

Path = tuple[str | int, ...]

_ARRAY_TABLE_RE = re.compile(r"^\[\[\s*(.+?)\s*\]\]")
_TABLE_RE = re.compile(r"^\[\s*(.+?)\s*\]")
_KEY_RE = re.compile(
    r"""^((?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*'))*)\s*=\s*(.*)$"""
)


def _split_key(dotted: str) -> list[str]:
    parts = re.findall(r"""[A-Za-z0-9_-]+|"[^"]*"|'[^']*'""", dotted)
    return [p[1:-1] if p[:1] in "\"'" else p for p in parts]


class LineIndex:
    """Maps parsed-data paths to 1-based line numbers in the source text."""

    def __init__(self, text: str):
        self._lines: dict[Path, int] = {}
        self._counts: dict[Path, int] = {}
        self._scan(text)

    def line(self, path: Path) -> int | None:
        """The line of `path`, or of the nearest enclosing path the scanner saw."""
        for end in range(len(path), 0, -1):
            if path[:end] in self._lines:
                return self._lines[path[:end]]
        return None

    def _resolve(self, names: list[str]) -> Path:
        path: Path = ()
        for name in names:
            path = (*path, name)
            if path in self._counts:
                path = (*path, self._counts[path] - 1)
        return path

    def _scan(self, text: str) -> None:
        table: Path = ()
        closing: str | None = None
        array: Path | None = None
        index = 0
        for number, raw in enumerate(text.split("\n"), 1):  # TOML's only line break: not U+2028 nor NEL
            line = raw.strip()
            if closing:
                if closing in line:
                    closing = None
                continue
            if array is not None:
                index = self._array_items(array, index, line, number)
                if _closes_array("[" + line):
                    array = None
                continue
            if not line or line.startswith("#"):
                continue
            if match := _ARRAY_TABLE_RE.match(line):
                names = _split_key(match.group(1))
                key = (*self._resolve(names[:-1]), names[-1])
                self._counts[key] = self._counts.get(key, 0) + 1
                table = (*key, self._counts[key] - 1)
                self._lines.setdefault(key, number)
                self._lines[table] = number
            elif match := _TABLE_RE.match(line):
                table = self._resolve(_split_key(match.group(1)))
                self._place(table, number)
            elif match := _KEY_RE.match(line):
                key = (*table, *_split_key(match.group(1)))
                self._place(key, number)
                value = match.group(2).strip()
                closing = _open_multiline_string(value)
                if value.startswith("[") and not _closes_array(value):
                    array, index = key, self._array_items(key, 0, value[1:], number)

    def _place(self, path: Path, number: int) -> None:
        """`path` is on line `number`; so are the tables a dotted name such as [a.b.c] makes."""
        for end in range(1, len(path)):
            self._lines.setdefault(path[:end], number)
        self._lines[path] = number

    def _array_items(self, array: Path, index: int, text: str, number: int) -> int:
        """Record the line of each array item that starts on this line; return the next index."""
        for _ in range(_count_items(text)):
            self._lines[(*array, index)] = number
            index += 1
        return index


def _open_multiline_string(value: str) -> str | None:
    for quote in ('"""', "'''"):
        if value.startswith(quote) and value.count(quote) == 1:
            return quote
    return None


_STRING_RE = re.compile(r""""(?:\\.|[^"\\])*"|'[^']*'""")


def _without_strings(text: str) -> str:
    """The text with each string literal replaced by a placeholder and the comment cut off."""
    return _STRING_RE.sub("S", text).split("#")[0]


def _closes_array(value: str) -> bool:
    bare = _without_strings(value)
    return bare.count("[") <= bare.count("]")


def _count_items(text: str) -> int:
    """How many array items start in `text` (one line of a multi-line array)."""
    bare = _without_strings(text).replace("]", "").replace("[", "")
    return sum(1 for chunk in bare.split(",") if chunk.strip())
