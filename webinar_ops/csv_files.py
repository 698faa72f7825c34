"""Reading CSV files the way organisers save them: UTF-8 with or without a byte-order mark,
commas, semicolons or tabs, headers in any case and with spaces for underscores. Every
problem is an InputError naming the file, the line and the fix. Used by the registrant import
and the attendance import.
"""

from __future__ import annotations

import csv
import difflib
import io
import itertools
from collections.abc import Collection, Iterator
from pathlib import Path

from webinar_ops import validate
from webinar_ops.errors import InputError, Problem

MAX_PROBLEMS_SHOWN = 200
MAX_LINE_LENGTH = 1_000_000  # characters on one line of the file
UTF8_FIX = "save the file as 'CSV UTF-8' (in Excel: Save As, CSV UTF-8)"
_SNIFF_BYTES = 512
_DELIMITERS = (",", ";", "\t")
_LOOKAHEAD_LINES = 20  # lines read at most to tell the delimiter, past a report's title


def rows(
    path: Path | str, line_fix: str = "check that this is the right file, one row per line"
) -> Iterator[tuple[int, list[str]]]:
    """Every row of the file that holds some text, as (line number, cells). The delimiter is
    the one the first line uses most, or if it uses none (a report's title), the one the lines
    after it use most, up to one holding two of a kind. A line longer than MAX_LINE_LENGTH is
    refused as soon as it is met (`line_fix` says what to check), without reading the rest."""
    path = Path(path)
    source = str(path)
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise InputError(f"Cannot read {validate.shown_path(path)}: {exc.strerror or exc}.") from exc
    with handle:
        if validate.looks_like_utf16(handle.peek(_SNIFF_BYTES)[:_SNIFF_BYTES]):
            raise InputError(
                f"{source} is UTF-16 text, not UTF-8:",
                [Problem(source, "the file is saved as UTF-16 ('Unicode Text')", line=1, fix=UTF8_FIX)],
            )
        text = io.TextIOWrapper(handle, encoding="utf-8-sig", newline="")
        try:
            yield from _cells(_lines(text, source, line_fix), source)
        except UnicodeDecodeError as exc:
            raise _not_utf8(path, source) from exc


def _lines(text: io.TextIOBase, source: str, fix: str) -> Iterator[str]:
    """The file's lines as the csv module reads them (ending in LF, CRLF or CR), each at most
    MAX_LINE_LENGTH long: a longer one is refused before the rest of it is read."""
    number = 0
    while line := text.readline(MAX_LINE_LENGTH + 1):
        number += 1
        if len(line) > MAX_LINE_LENGTH:
            problem = Problem(source, f"the line is longer than {MAX_LINE_LENGTH:,} characters", line=number, fix=fix)
            raise InputError(f"{source} is not a readable CSV file:", [problem])
        yield line


def _cells(lines: Iterator[str], source: str) -> Iterator[tuple[int, list[str]]]:
    blank = 0
    for first in lines:
        if first.strip():
            break
        blank += 1
    else:
        return
    # The first line tells the delimiter, unless it holds none: a report's title (Zoom's
    # "Attendee Report"), and the line after it may hold one delimiter of each kind; then the
    # lines up to the first holding two of a kind tell.
    ahead = [first]
    while not _delimiter_in(first) and not _tells_delimiter(ahead[-1]) and len(ahead) < _LOOKAHEAD_LINES:
        if (line := next(lines, None)) is None:
            break
        ahead.append(line)
    # The blank lines before the first are given back as such, so that line numbers hold.
    reader = csv.reader(itertools.chain(itertools.repeat("\n", blank), ahead, lines), delimiter=_delimiter(ahead))
    line = 1
    try:
        for cells in reader:
            number, line = line, reader.line_num + 1
            if any(cell.strip() for cell in cells):
                yield number, cells
    except csv.Error as exc:
        raise InputError(
            f"{source} is not a readable CSV file:",
            [Problem(source, str(exc), line=line, fix="check the quoting on this line, and that it holds text only")],
        ) from exc


def _not_utf8(path: Path, source: str) -> InputError:
    """The error for a file that is not UTF-8, naming the line and the first bad byte."""
    line, byte = validate.first_bad_utf8_byte(path)
    problem = Problem(source, f"byte {byte:#04x} is not UTF-8", line=line, fix=UTF8_FIX)
    return InputError(f"{source} is not UTF-8 text:", [problem])


def _delimiter_in(line: str) -> bool:
    return any(d in line for d in _DELIMITERS)


def _tells_delimiter(line: str) -> bool:
    return any(line.count(d) >= 2 for d in _DELIMITERS)


def _delimiter(lines: list[str]) -> str:
    """The delimiter these lines use most (a comma where they use none)."""
    counts = {d: sum(line.count(d) for line in lines) for d in _DELIMITERS}
    return max(counts, key=lambda d: counts[d]) if any(counts.values()) else ","


def column_name(cell: str) -> str:
    """A header cell as a column name: lower case, spaces and hyphens as underscores."""
    return "_".join(cell.strip().lower().replace("-", " ").split())


def columns(
    header: list[str], source: str, line: int, known: Collection[str], required: Collection[str], fix: str
) -> list[str | None]:
    """Map header cells to the `known` column names; None for a blank header (an empty
    column). An unknown or repeated column, or a `required` one missing, is an InputError
    whose problems end in `fix` (how the header should look)."""
    names: list[str | None] = []
    seen: set[str] = set()
    problems = []
    wrong = 0
    for cell in header:
        name = column_name(cell)
        if not name:
            names.append(None)
            continue
        if name not in known or name in seen:
            wrong += 1
            if wrong <= MAX_PROBLEMS_SHOWN:  # a header of thousands of wrong cells is not a header
                problems.append(_header_problem(cell, name, source, line, known))
        seen.add(name)
        names.append(name)
    if wrong > MAX_PROBLEMS_SHOWN:
        more = f"... and {wrong - MAX_PROBLEMS_SHOWN:,} more columns like these"
        problems.append(Problem(source, more, line=line, fix=fix))
    missing = [c for c in required if c not in seen]
    if missing:
        problems.append(Problem(source, f"no {' or '.join(missing)} column", line=line, fix=fix))
    if problems:
        raise InputError(f"{source} has a header problem:", problems)
    return names


def _header_problem(cell: str, name: str, source: str, line: int, known: Collection[str]) -> Problem:
    if name in known:
        return Problem(source, f"column {name!r} appears twice", line=line, fix="keep one of them")
    close = difflib.get_close_matches(name[:40], list(known), n=1, cutoff=0.6)
    fix = f"did you mean {close[0]}?" if close else f"known columns: {', '.join(known)}"
    return Problem(source, f"unknown column {validate.shown(cell.strip())}", line=line, fix=fix)


def record(names: list[str | None], cells: list[str]) -> dict[str, str]:
    """One row as {column: value}; a value under no header is kept as `_extra`, the problem."""
    values: dict[str, str] = {}
    for index, cell in enumerate(cells):
        name = names[index] if index < len(names) else None
        if name is not None:
            values[name] = cell
        elif cell.strip():
            values["_extra"] = f"has a value in column {index + 1}, which has no header"
    return values


def import_refused(source: str, problems: list[Problem]) -> InputError:
    """The error for a file with bad rows: nothing imported, and every problem (the first
    MAX_PROBLEMS_SHOWN of them) with its line."""
    shown = problems[:MAX_PROBLEMS_SHOWN]
    if len(problems) > len(shown):
        shown.append(Problem(source, f"... and {len(problems) - len(shown)} more problems"))
    bad_lines = len({p.line for p in problems})
    return InputError(
        f"{source}: nothing was imported; {bad_lines} line{'s' if bad_lines != 1 else ''} need fixing:", shown
    )
