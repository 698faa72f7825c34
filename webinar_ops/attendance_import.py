"""Attendance from a file: Zoom's own "Attendee Report" export, or any CSV with an `email`
column. All or nothing, as the registrant import: the whole file is read and checked first,
every bad row is reported with its line, and only a clean file is recorded, in one
transaction. A second import replaces the first (a corrected file).

Zoom's export holds header blocks (the report, the webinar, its host and panelists) before
the "Attendee Details" table, one row per session: someone who dropped out and came back has
two rows, and a registrant who never came has one saying `Attended` No. Its times are wall
times in the Zoom account's zone, written `Apr 30, 2021 15:02:11` (or `04/30/2021 03:02:11
PM` in newer exports). Zoom's Participants export (from Usage Reports, for a meeting or a
webinar) lists only those who joined, a row per session, with the same times.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from webinar_ops import csv_files, times, validate
from webinar_ops.attendance import Join, Matched, match
from webinar_ops.errors import InputError, Problem
from webinar_ops.store import Store, WebinarRecord

COLUMNS = ("email", "attended", "joined_at", "left_at", "minutes")  # a plain CSV's columns
MAX_SESSIONS = 200_000  # rows in one file: a webinar holds tens of thousands of people at most
MAX_MINUTES = 7 * 24 * 60  # one session of a webinar lasts less than a week
# How far from the webinar's own time a session may lie: enough for a host who starts late and
# runs over, too little for another session's file (a day or a week away) or for times read in a
# zone four hours or more away from the Zoom account's (New York's and London's are five apart).
HELD_MARGIN = timedelta(hours=3)
ZOOM_TABLE = "attendee details"  # the title of the section holding the attendees, in Zoom's export
# Zoom's names for the columns we read (as csv_files.column_name writes them); others are ignored.
ZOOM_COLUMNS = {
    "email": "email",
    "attended": "attended",
    "join_time": "joined_at",
    "leave_time": "left_at",
    "time_in_session_(minutes)": "minutes",
}
# Zoom's Participants export (Usage Reports, a meeting's or webinar's Participants, Export):
# one row per session of whoever joined, below the meeting's own row when exported "with
# meeting data". Its header is told by these two columns; rows in the waiting room are no
# attendance.
PARTICIPANT_COLUMNS = {
    "user_email": "email",
    "join_time": "joined_at",
    "leave_time": "left_at",
    "duration_(minutes)": "minutes",
    "in_waiting_room": "waiting",
}
PARTICIPANT_HEADER = {"user_email", "join_time"}
FORMS = {"zoom": "Zoom's Attendee Report", "zoom-participants": "Zoom's Participants export", "csv": "a CSV"}
# How Zoom writes an instant, in the English its exports use: older exports first.
ZOOM_TIME_FORMATS = ("%b %d, %Y %H:%M:%S", "%m/%d/%Y %I:%M:%S %p", "%m/%d/%Y %H:%M:%S", "%b %d, %Y %I:%M:%S %p")
ZOOM_NONE = {"", "--"}  # Zoom's blank, for an absentee's times
YES, NO = {"yes", "y", "true", "1"}, {"no", "n", "false", "0"}

_HEADER_FIX = "give Zoom's Attendee Report as exported, or a header row with an email column and any of: " + ", ".join(
    COLUMNS[1:]
)
_TIME_FIX = (
    "write an ISO 8601 time such as 2021-04-30T15:02:00+09:00, or a wall time in the --time-zone "
    "such as 2021-04-30 15:02 or Zoom's Apr 30, 2021 15:02:11"
)
_REPEATED_HOUR = "the time happens twice as the clocks go back, and the minutes do not tell which"
_FIXES = {
    "email": "write a plain address such as ana@example.org",
    "attended": "write yes or no (or true/false, 1/0)",
    "joined_at": _TIME_FIX,
    "left_at": _TIME_FIX,
    "minutes": f"write a whole number of minutes from 0 to {MAX_MINUTES}",
}


@dataclass(frozen=True)
class AttendanceFile:
    """What a file says: its format (one of FORMS), the sessions of those who attended, and
    how many rows named someone who did not."""

    source: str
    form: str
    joins: tuple[Join, ...]
    absentee_rows: int


@dataclass(frozen=True)
class Held:
    """When a webinar was held, for telling a session of its own from one of another day: a
    file of another session of the series holds the same addresses, and would be recorded as
    this one's attendance."""

    slug: str
    start: datetime
    end: datetime
    zone_name: str  # the zone the file's wall times were read in, named by the problem

    def holds(self, session: Join) -> bool:
        """Whether the session lies within HELD_MARGIN of the webinar's time (one without
        times, as a list of addresses, always does)."""
        joined = session.joined_at or session.left_at
        left = session.left_at or session.joined_at
        if joined is None or left is None:
            return True
        return joined <= self.end + HELD_MARGIN and left >= self.start - HELD_MARGIN

    def problem(self, source: str, session: Join, line: int, field: str) -> Problem:
        """The problem of a session that `holds` refuses, naming both days."""
        moment = times.format_moment(session.joined_at or session.left_at, self.zone_name)
        held = times.format_moment(self.start, self.zone_name)
        hours = HELD_MARGIN // timedelta(hours=1)
        fix = (
            f"check that this is the file of {self.slug}; if the Zoom account's zone is not {self.zone_name}, "
            f"name it with --time-zone; if {self.slug} was held at another time, set that time in its definition"
        )
        message = f"the session is on {moment}, more than {hours} hours from {self.slug}'s time ({held})"
        return Problem(source, message, line=line, field=field, fix=fix)


@dataclass(frozen=True)
class AttendanceImport:
    """What an import would record: the file read, and its joins matched to the registrants."""

    file: AttendanceFile
    matched: Matched

    @property
    def attended(self) -> int:
        return len(self.matched.present)


def plan_attendance_import(
    store: Store, webinar: WebinarRecord, path: Path | str, now: datetime, time_zone: str | None = None
) -> AttendanceImport:
    """Read and check the file, and match its sessions to the webinar's registrants; raise
    InputError listing every bad row (nothing is recorded). Wall times are in `time_zone`
    (default: the webinar's)."""
    webinar.require_not_cancelled("attendance can be recorded")
    if now < webinar.definition.start:
        when = times.format_moment(webinar.definition.start, webinar.definition.time_zone)
        raise InputError(f"{webinar.slug} has not started yet (it starts on {when}): nobody can have attended.")
    zone_name = _checked_zone(time_zone or webinar.definition.time_zone)
    read = read_attendance(
        path, zone_name, Held(webinar.slug, webinar.definition.start, webinar.definition.end, zone_name)
    )
    return AttendanceImport(read, match(store.attendance_candidates(webinar.id), read.joins))


def apply_attendance_import(store: Store, webinar: WebinarRecord, plan: AttendanceImport, now: datetime) -> None:
    """Record a checked import, replacing whatever was recorded before, all or nothing."""
    store.record_attendance(webinar.id, plan.matched.present, "import", now, plan.matched.unmatched)


def read_attendance(path: Path | str, zone_name: str, held: Held | None = None) -> AttendanceFile:
    """The sessions a file reports, in Zoom's export or as a plain CSV; InputError naming
    every bad row, and, given when the webinar was `held`, every session far from it."""
    source = str(path)
    rows = _bounded(csv_files.rows(path, line_fix="check that this is an attendance list, one row per line"), source)
    if not rows:
        raise InputError(f"{source} is empty.", [Problem(source, "no header row", line=1, fix=_HEADER_FIX)])
    table = _zoom_table(rows)
    participants = _participants_table(rows)
    if table is not None:
        (line, header), body = table[0], table[1:]
        names, form = _zoom_columns(table[0], source), "zoom"
    elif participants is not None:
        (line, header), body = participants[0], participants[1:]
        names = [PARTICIPANT_COLUMNS.get(csv_files.column_name(cell)) for cell in header]
        form = "zoom-participants"
    elif "email" in {csv_files.column_name(cell) for cell in rows[0][1]}:
        (line, header), body = rows[0], rows[1:]
        names, form = csv_files.columns(header, source, line, COLUMNS, ("email",), _HEADER_FIX), "csv"
    else:
        problem = Problem(source, "no email column, and no Attendee Details section", line=rows[0][0], fix=_HEADER_FIX)
        raise InputError(f"{source} is not an attendance list:", [problem])
    shown = {name: cell.strip() for name, cell in zip(names, header, strict=False) if name}
    return _sessions(source, form, names, shown, body, zone_name, held)


def _bounded(rows: Iterable[tuple[int, list[str]]], source: str) -> list[tuple[int, list[str]]]:
    kept = []
    for row in rows:
        if len(kept) > MAX_SESSIONS:
            # Not "split it": each import replaces the one before, so the parts would not add up.
            fix = f"check that this is one webinar's attendance list: one holds at most {MAX_SESSIONS:,} sessions"
            raise InputError(
                f"{source} is too long to import:", [Problem(source, "too many rows", line=row[0], fix=fix)]
            )
        kept.append(row)
    return kept


def _zoom_table(rows: Sequence[tuple[int, list[str]]]) -> list[tuple[int, list[str]]] | None:
    """The rows of Zoom's Attendee Details section (its header first), up to the next
    section's title; None when the file has no such section."""
    titles = [i for i, (_, cells) in enumerate(rows) if _section_title(cells) == ZOOM_TABLE]
    if not titles:
        return None
    table = []
    for row in rows[titles[0] + 1 :]:
        if table and _section_title(row[1]):
            break
        table.append(row)
    return table


def _participants_table(rows: Sequence[tuple[int, list[str]]]) -> list[tuple[int, list[str]]] | None:
    """The rows of Zoom's Participants export from its header on (past the meeting's own
    row, when there is one); None when the file has no such header."""
    for index, (_, cells) in enumerate(rows):
        if {csv_files.column_name(cell) for cell in cells} >= PARTICIPANT_HEADER:
            return list(rows[index:])
    return None


def _section_title(cells: list[str]) -> str | None:
    """The title of a section in Zoom's export (a row of one cell, such as "Host Details"),
    lower case; None for any other row."""
    first, *rest = [cell.strip() for cell in cells]
    if any(rest) or first.lower() in YES | NO:
        return None
    return first.lower()


def _zoom_columns(header: tuple[int, list[str]], source: str) -> list[str | None]:
    line, cells = header
    names = [ZOOM_COLUMNS.get(csv_files.column_name(cell)) for cell in cells]
    missing = [zoom for zoom, ours in ZOOM_COLUMNS.items() if ours in ("email", "attended") and ours not in names]
    if missing:
        fix = "export the Attendee Report again from Zoom (Reports, Usage, Webinar: Attendee Report)"
        problem = Problem(
            source, f"the Attendee Details table has no {' or '.join(missing)} column", line=line, fix=fix
        )
        raise InputError(f"{source} has a header problem:", [problem])
    return names


def _sessions(
    source: str,
    form: str,
    names: list[str | None],
    shown: dict[str, str],
    body: Sequence[tuple[int, list[str]]],
    zone_name: str,
    held: Held | None,
) -> AttendanceFile:
    """The rows under the header as sessions; `shown` gives each column's name as the file
    writes it, for the problems."""
    problems: list[Problem] = []
    joins = []
    absentees = 0
    for line, cells in body:
        values = csv_files.record(names, cells)
        if values.pop("waiting", "").strip().lower() in YES:
            continue  # waiting to be let in: not attending yet
        if form == "csv" and "_extra" in values:
            problems.append(Problem(source, values["_extra"], line=line, fix="remove it, or give the column a header"))
            continue
        session, wrong = _session(values, zone_name, blank_email_ok=form != "csv")
        problems.extend(
            Problem(source, message, line=line, field=shown.get(name, name), fix=_FIXES[name])
            for name, message in wrong
        )
        if wrong:
            continue
        if session is None:
            absentees += 1
        elif held and not held.holds(session):
            field = "joined_at" if session.joined_at else "left_at"
            problems.append(held.problem(source, session, line, shown.get(field, field)))
        else:
            joins.append(session)
    if problems:
        raise csv_files.import_refused(source, problems)
    return AttendanceFile(source, form, tuple(joins), absentees)


def _session(values: dict[str, str], zone_name: str, blank_email_ok: bool) -> tuple[Join | None, list[tuple[str, str]]]:
    """One row as a Join (None: it says this person did not attend), and its problems as
    (column, message)."""
    wrong: list[tuple[str, str]] = []

    def checked(name: str, read):
        text = values.get(name, "").strip()
        try:
            return read(text)
        except ValueError as exc:
            wrong.append((name, str(exc)))
            return None

    email = checked("email", lambda text: None if not text and blank_email_ok else validate.email_address(text))
    attended = checked("attended", _attended)
    joins = checked("joined_at", lambda text: _instants(text, zone_name))
    leaves = checked("left_at", lambda text: _instants(text, zone_name))
    minutes = checked("minutes", _minutes)
    if wrong:
        return None, wrong
    span, why = _settled(joins, leaves, minutes)
    if why:
        return None, [why]
    if not attended:
        return None, []
    return Join(email, joined_at=span[0], left_at=span[1], minutes=minutes), []


def _settled(
    joins: tuple[datetime, ...], leaves: tuple[datetime, ...], minutes: int | None
) -> tuple[tuple[datetime | None, datetime | None], tuple[str, str] | None]:
    """The session's start and end among the instants their wall times may name: a wall time
    in the hour the clocks repeat names two, and the row's minutes settle which (the pair in
    order, that far apart). A problem (column, message) when the session ends before it
    begins, or when a repeated hour stays unsettled."""
    pairs = [(joined, left) for joined in joins or (None,) for left in leaves or (None,)]
    if len(pairs) == 1:
        joined, left = pairs[0]
        if joined and left and left < joined:
            return (None, None), ("left_at", "the session ends before it begins")
        return pairs[0], None
    fits = [(joined, left) for joined, left in pairs if _lasts(joined, left, minutes)]
    if len(fits) == 1:
        return fits[0], None
    return (None, None), ("joined_at" if len(joins) > 1 else "left_at", _REPEATED_HOUR)


def _lasts(joined: datetime | None, left: datetime | None, minutes: int | None) -> bool:
    """Whether a session from `joined` to `left` lasts `minutes`, to the minute Zoom rounds to."""
    if joined is None or left is None or minutes is None or left < joined:
        return False
    return abs((left - joined).total_seconds() / 60 - minutes) <= 1


def _attended(text: str) -> bool:
    if not text or text.lower() in YES:  # a row without the column is someone who came
        return True
    if text.lower() in NO:
        return False
    raise ValueError(f"{validate.shown(text)} is not yes or no")


def _minutes(text: str) -> int | None:
    if text in ZOOM_NONE:
        return None
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{validate.shown(text)} is not a number of minutes") from None
    if not 0 <= value <= MAX_MINUTES:
        raise ValueError(f"{validate.shown(text)} minutes is out of range")
    return round(value)


def _instants(text: str, zone_name: str) -> tuple[datetime, ...]:
    """The instants a time as a file writes it may be: ISO 8601 with its offset, or a wall
    time in `zone_name` (ISO 8601 without an offset, or one of Zoom's spellings), which names
    two instants in the hour the clocks repeat. None for an empty time."""
    if text in ZOOM_NONE:
        return ()
    wall = _wall_or_instant(text)
    if wall.tzinfo is not None:
        return (wall.astimezone(UTC),)
    if instants := times.wall_instants(wall, zone_name):
        return instants
    raise ValueError(f"{wall:%Y-%m-%d %H:%M} does not exist in {zone_name}: clocks skip it as they go forward")


def _wall_or_instant(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        pass
    for form in ZOOM_TIME_FORMATS:
        try:
            return datetime.strptime(text, form)
        except ValueError:
            continue
    raise ValueError(f"{validate.shown(text)} is not a time")


def _checked_zone(name: str) -> str:
    try:
        times.zone(name)
    except ValueError as exc:
        problem = Problem("command line", str(exc), field="--time-zone", fix=times.suggest_zones(name))
        raise InputError("The time zone is not one webinar-ops knows:", [problem]) from exc
    return name
