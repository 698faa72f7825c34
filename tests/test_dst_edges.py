"""Webinars next to a DST change, in both hemispheres, read by people in other zones.

Each case is a webinar whose date is next to a change of its own zone's clocks (Seoul's only
in 1988), and a reader in another of the four zones, often across a change of their own
between the day the mail is written and the day of the webinar: the mail must show the
reader's clock on the webinar's day, not on the day it was written. Every expected time
below was worked out by hand from the zones' rules, not by calling the code under test:

- Europe/London: GMT+0, BST (+1) from 01:00 UTC on the last Sunday of March to 01:00 UTC on
  the last Sunday of October (28 March and 31 October 2021; 27 March to 23 October 1988).
- America/Santiago: -3 in the southern summer, -4 in winter; in 2021 clocks went back at
  24:00 on Saturday 3 April (03:00 UTC on the 4th) and forward at 24:00 on Saturday
  4 September (04:00 UTC on the 5th), skipping to 01:00.
- Australia/Lord_Howe: +11 in summer, +10:30 in winter, a 30-minute change: back at 02:00
  on Sunday 4 April 2021 (15:00 UTC on the 3rd), forward at 02:00 on Sunday 3 October 2021
  (15:30 UTC on the 2nd).
- Asia/Seoul: +9, no DST since 1988; in 1988 KDT (+10) from 02:00 on Sunday 8 May to 03:00
  on Sunday 9 October.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from test_compose import confirmation, flat, parse, person, the_part

from webinar_ops.definition import load_definition
from webinar_ops.mail.compose import Composer
from webinar_ops.store import Store

STAMP = datetime(2021, 1, 1, tzinfo=UTC)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@dataclass(frozen=True)
class Webinar:
    """A definition's schedule, and what it must read as on its own clock and in UTC."""

    start: str
    zone: str
    duration: str
    shown: str  # the event's line in the mail
    dtstart: str  # DTSTART;TZID=zone:... in the invite
    dtend: str
    utc_start: datetime
    utc_end: datetime
    agenda: tuple[tuple[str, str], ...] = ()  # items as (start, end) on the event's clock


LONDON_SPRING = Webinar(
    "2021-03-28 10:00", "Europe/London", "90m", "Sunday 28 March 2021, 10:00–11:30 London time (GMT+1)",
    "20210328T100000", "20210328T113000", utc(2021, 3, 28, 9, 0), utc(2021, 3, 28, 10, 30),
    agenda=(("10:00", "10:45"), ("10:45", "11:30")),
)  # fmt: skip  # nine hours after the clocks went forward
LONDON_NIGHT_OF_THE_CHANGE = Webinar(
    "2021-03-28 02:30", "Europe/London", "60m", "Sunday 28 March 2021, 02:30–03:30 London time (GMT+1)",
    "20210328T023000", "20210328T033000", utc(2021, 3, 28, 1, 30), utc(2021, 3, 28, 2, 30),
)  # fmt: skip  # half an hour after 01:00 became 02:00
LONDON_EASTER = Webinar(
    "2021-04-04 09:00", "Europe/London", "90m", "Sunday 4 April 2021, 09:00–10:30 London time (GMT+1)",
    "20210404T090000", "20210404T103000", utc(2021, 4, 4, 8, 0), utc(2021, 4, 4, 9, 30),
)  # fmt: skip  # a week after London's change; Santiago and Lord Howe change in between
LONDON_AUTUMN = Webinar(
    "2021-10-31 09:00", "Europe/London", "90m", "Sunday 31 October 2021, 09:00–10:30 London time (GMT+0)",
    "20211031T090000", "20211031T103000", utc(2021, 10, 31, 9, 0), utc(2021, 10, 31, 10, 30),
)  # fmt: skip  # eight hours after the clocks went back
SANTIAGO_AUTUMN = Webinar(
    "2021-04-04 10:00", "America/Santiago", "90m", "Sunday 4 April 2021, 10:00–11:30 Santiago time (GMT-4)",
    "20210404T100000", "20210404T113000", utc(2021, 4, 4, 14, 0), utc(2021, 4, 4, 15, 30),
    agenda=(("10:00", "10:45"), ("10:45", "11:30")),
)  # fmt: skip  # the morning after the clocks went back
SANTIAGO_ACROSS = Webinar(
    "2021-04-03 22:30", "America/Santiago", "2h", "Saturday 3 April 2021, 22:30–23:30 Santiago time (GMT-3/-4)",
    "20210403T223000", "20210404T033000Z", utc(2021, 4, 4, 1, 30), utc(2021, 4, 4, 3, 30),
)  # fmt: skip  # two hours long, and the clocks go back during it: they show one
SANTIAGO_NIGHT_OF_THE_CHANGE = Webinar(
    "2021-09-05 01:00", "America/Santiago", "60m", "Sunday 5 September 2021, 01:00–02:00 Santiago time (GMT-3)",
    "20210905T010000", "20210905T020000", utc(2021, 9, 5, 4, 0), utc(2021, 9, 5, 5, 0),
)  # fmt: skip  # the first minute after midnight became 01:00
SANTIAGO_SPRING = Webinar(
    "2021-09-05 10:00", "America/Santiago", "90m", "Sunday 5 September 2021, 10:00–11:30 Santiago time (GMT-3)",
    "20210905T100000", "20210905T113000", utc(2021, 9, 5, 13, 0), utc(2021, 9, 5, 14, 30),
)  # fmt: skip  # the morning after the skipped midnight hour
LORD_HOWE_SPRING = Webinar(
    "2021-10-03 09:00", "Australia/Lord_Howe", "90m", "Sunday 3 October 2021, 09:00–10:30 Lord Howe time (GMT+11)",
    "20211003T090000", "20211003T103000", utc(2021, 10, 2, 22, 0), utc(2021, 10, 2, 23, 30),
    agenda=(("09:00", "09:45"), ("09:45", "10:30")),
)  # fmt: skip  # seven hours after the clocks went forward by half an hour
LORD_HOWE_NIGHT_OF_THE_CHANGE = Webinar(
    "2021-10-03 02:30", "Australia/Lord_Howe", "60m", "Sunday 3 October 2021, 02:30–03:30 Lord Howe time (GMT+11)",
    "20211003T023000", "20211003T033000", utc(2021, 10, 2, 15, 30), utc(2021, 10, 2, 16, 30),
)  # fmt: skip  # the first minute after 02:00 became 02:30
LORD_HOWE_ACROSS = Webinar(
    "2021-04-04 01:00", "Australia/Lord_Howe", "90m", "Sunday 4 April 2021, 01:00–02:00 Lord Howe time (GMT+11/+10:30)",
    "20210404T010000", "20210404T020000", utc(2021, 4, 3, 14, 0), utc(2021, 4, 3, 15, 30),
)  # fmt: skip  # ninety minutes long; at 02:00 the clocks go back to 01:30, which ends it
SEOUL_OCTOBER = Webinar(
    "2021-10-03 10:00", "Asia/Seoul", "60m", "Sunday 3 October 2021, 10:00–11:00 Seoul time (GMT+9)",
    "20211003T100000", "20211003T110000", utc(2021, 10, 3, 1, 0), utc(2021, 10, 3, 2, 0),
)  # fmt: skip  # Seoul keeps its clock; Lord Howe (on the 2nd) and Santiago (5 September) changed theirs
SEOUL_1988_NIGHT = Webinar(
    "1988-05-08 03:00", "Asia/Seoul", "90m", "Sunday 8 May 1988, 03:00–04:30 Seoul time (GMT+10)",
    "19880508T030000", "19880508T043000", utc(1988, 5, 7, 17, 0), utc(1988, 5, 7, 18, 30),
)  # fmt: skip  # the first minute after 02:00 became 03:00
SEOUL_1988 = Webinar(
    "1988-05-08 15:00", "Asia/Seoul", "90m", "Sunday 8 May 1988, 15:00–16:30 Seoul time (GMT+10)",
    "19880508T150000", "19880508T163000", utc(1988, 5, 8, 5, 0), utc(1988, 5, 8, 6, 30),
)  # fmt: skip  # the day Korea went onto summer time for the Olympics


@dataclass(frozen=True)
class Reader:
    """Someone in `zone` who gets the mail at `written`, and what their clock must show."""

    zone: str
    written: datetime
    shown: str  # their line in the mail
    agenda: tuple[str, ...] = ()  # the agenda items on their clock


CASES = {
    "london-spring/lord-howe": (LONDON_SPRING, Reader(
        "Australia/Lord_Howe", utc(2021, 3, 21, 9, 0), "20:00–21:30 your time (Australia/Lord_Howe)",
        agenda=("20:00–20:45", "20:45–21:30"),
    )),
    "london-spring/santiago": (LONDON_SPRING, Reader(
        "America/Santiago", utc(2021, 3, 21, 9, 0), "06:00–07:30 your time (America/Santiago)",
        agenda=("06:00–06:45", "06:45–07:30"),
    )),
    "london-night-of-the-change/seoul": (LONDON_NIGHT_OF_THE_CHANGE, Reader(
        "Asia/Seoul", utc(2021, 3, 21, 1, 30), "10:30–11:30 your time (Asia/Seoul)",
    )),
    "london-easter/santiago-changed-since-writing": (LONDON_EASTER, Reader(
        "America/Santiago", utc(2021, 3, 27, 12, 0), "04:00–05:30 your time (America/Santiago)",
    )),
    "london-easter/lord-howe-changed-since-writing": (LONDON_EASTER, Reader(
        "Australia/Lord_Howe", utc(2021, 3, 27, 12, 0), "18:30–20:00 your time (Australia/Lord_Howe)",
    )),
    "london-autumn/seoul": (LONDON_AUTUMN, Reader(
        "Asia/Seoul", utc(2021, 10, 24, 9, 0), "18:00–19:30 your time (Asia/Seoul)",
    )),
    "london-autumn/lord-howe": (LONDON_AUTUMN, Reader(
        "Australia/Lord_Howe", utc(2021, 10, 24, 9, 0), "20:00–21:30 your time (Australia/Lord_Howe)",
    )),
    "santiago-autumn/lord-howe-changed-since-writing": (SANTIAGO_AUTUMN, Reader(
        "Australia/Lord_Howe", utc(2021, 3, 27, 12, 0),
        "Monday 5 April 2021, 00:30–02:00 your time (Australia/Lord_Howe)",
        agenda=("00:30–01:15", "01:15–02:00"),
    )),
    "santiago-autumn/london-changed-since-writing": (SANTIAGO_AUTUMN, Reader(
        "Europe/London", utc(2021, 3, 27, 12, 0), "15:00–16:30 your time (Europe/London)",
        agenda=("15:00–15:45", "15:45–16:30"),
    )),
    "santiago-autumn/seoul": (SANTIAGO_AUTUMN, Reader(
        "Asia/Seoul", utc(2021, 3, 27, 12, 0),
        "Sunday 4 April 2021, 23:00 – Monday 5 April 2021, 00:30 your time (Asia/Seoul)",
        agenda=("23:00–23:45", "23:45–00:30"),
    )),
    "santiago-across/london": (SANTIAGO_ACROSS, Reader(
        "Europe/London", utc(2021, 3, 27, 12, 0), "Sunday 4 April 2021, 02:30–04:30 your time (Europe/London)",
    )),
    "santiago-across/lord-howe-changed-hours-before": (SANTIAGO_ACROSS, Reader(
        "Australia/Lord_Howe", utc(2021, 3, 27, 12, 0),
        "Sunday 4 April 2021, 12:00–14:00 your time (Australia/Lord_Howe)",
    )),
    "santiago-night-of-the-change/london": (SANTIAGO_NIGHT_OF_THE_CHANGE, Reader(
        "Europe/London", utc(2021, 8, 29, 4, 0), "05:00–06:00 your time (Europe/London)",
    )),
    "santiago-spring/seoul": (SANTIAGO_SPRING, Reader(
        "Asia/Seoul", utc(2021, 8, 29, 13, 0), "22:00–23:30 your time (Asia/Seoul)",
    )),
    "santiago-spring/london": (SANTIAGO_SPRING, Reader(
        "Europe/London", utc(2021, 8, 29, 13, 0), "14:00–15:30 your time (Europe/London)",
    )),
    "lord-howe-spring/santiago-changed-since-writing": (LORD_HOWE_SPRING, Reader(
        "America/Santiago", utc(2021, 9, 1, 0, 0), "Saturday 2 October 2021, 19:00–20:30 your time (America/Santiago)",
        agenda=("19:00–19:45", "19:45–20:30"),
    )),
    "lord-howe-spring/london": (LORD_HOWE_SPRING, Reader(
        "Europe/London", utc(2021, 9, 1, 0, 0),
        "Saturday 2 October 2021, 23:00 – Sunday 3 October 2021, 00:30 your time (Europe/London)",
        agenda=("23:00–23:45", "23:45–00:30"),
    )),
    "lord-howe-spring/seoul": (LORD_HOWE_SPRING, Reader(
        "Asia/Seoul", utc(2021, 9, 1, 0, 0), "07:00–08:30 your time (Asia/Seoul)",
        agenda=("07:00–07:45", "07:45–08:30"),
    )),
    "lord-howe-night-of-the-change/london": (LORD_HOWE_NIGHT_OF_THE_CHANGE, Reader(
        "Europe/London", utc(2021, 9, 1, 0, 0), "Saturday 2 October 2021, 16:30–17:30 your time (Europe/London)",
    )),
    "lord-howe-across/santiago": (LORD_HOWE_ACROSS, Reader(
        "America/Santiago", utc(2021, 3, 27, 12, 0), "Saturday 3 April 2021, 11:00–12:30 your time (America/Santiago)",
    )),
    "lord-howe-across/london-changed-since-writing": (LORD_HOWE_ACROSS, Reader(
        "Europe/London", utc(2021, 3, 27, 12, 0), "Saturday 3 April 2021, 15:00–16:30 your time (Europe/London)",
    )),
    "seoul/lord-howe-changed-since-writing": (SEOUL_OCTOBER, Reader(
        "Australia/Lord_Howe", utc(2021, 9, 1, 0, 0), "12:00–13:00 your time (Australia/Lord_Howe)",
    )),
    "seoul/santiago-changed-since-writing": (SEOUL_OCTOBER, Reader(
        "America/Santiago", utc(2021, 9, 1, 0, 0), "Saturday 2 October 2021, 22:00–23:00 your time (America/Santiago)",
    )),
    "seoul-1988-night/london": (SEOUL_1988_NIGHT, Reader(
        "Europe/London", utc(1988, 5, 1, 0, 0), "Saturday 7 May 1988, 18:00–19:30 your time (Europe/London)",
    )),
    "seoul-1988/london": (SEOUL_1988, Reader(
        "Europe/London", utc(1988, 5, 1, 5, 0), "06:00–07:30 your time (Europe/London)",
    )),
}  # fmt: skip


def definition_file(folder: Path, webinar: Webinar) -> Path:
    agenda = "".join(
        f'\n[[agenda]]\nstart = "{start}"\nend = "{end}"\ntitle = "Part {n}"\n'
        for n, (start, end) in enumerate(webinar.agenda, 1)
    )
    path = folder / "edge.toml"
    path.write_text(
        f"""slug = "dst-edge"
title = "Clocks at the edge"

[schedule]
start = "{webinar.start}"
time_zone = "{webinar.zone}"
duration = "{webinar.duration}"
{agenda}""",
        encoding="utf-8",
    )
    return path


def mail_for(store: Store, settings, folder: Path, webinar: Webinar, reader: Reader) -> dict[str, str]:
    """The confirmation `reader` gets, written at `reader.written`: its text, HTML and invite."""
    path = definition_file(folder, webinar)
    record = store.save_webinar(load_definition(path), path.read_text(encoding="utf-8"), "local", STAMP).record
    raw = Composer(record, settings).message_bytes(confirmation(), person(time_zone=reader.zone), reader.written)
    message = parse(raw)
    return {kind: the_part(message, f"text/{kind}").get_content() for kind in ("plain", "html", "calendar")}


def unfolded(calendar: str) -> list[str]:
    return re.sub(r"\r?\n[ \t]", "", calendar).splitlines()


def utc_offset(text: str) -> timedelta:
    sign, hours, minutes, seconds = re.fullmatch(r"([+-])(\d\d)(\d\d)(\d\d)?", text).groups()
    delta = timedelta(hours=int(hours), minutes=int(minutes), seconds=int(seconds or 0))
    return -delta if sign == "-" else delta


def clock_changes(lines: list[str]) -> list[tuple[datetime, timedelta]]:
    """Each onset of the invite's VTIMEZONE as (UTC instant, offset from then on), in order.
    RFC 5545: an observance's DTSTART and RDATEs are wall times on the clock before the
    change, that is at its TZOFFSETFROM."""
    changes, observance = [], None
    for line in lines[lines.index("BEGIN:VTIMEZONE") : lines.index("END:VTIMEZONE")]:
        name, _, value = line.partition(":")
        if line in ("BEGIN:STANDARD", "BEGIN:DAYLIGHT"):
            observance = {"RDATE": []}
        elif line in ("END:STANDARD", "END:DAYLIGHT"):
            before, after = utc_offset(observance["TZOFFSETFROM"]), utc_offset(observance["TZOFFSETTO"])
            for onset in [observance["DTSTART"], *observance["RDATE"]]:
                changes.append((datetime.strptime(onset, "%Y%m%dT%H%M%S") - before, after))
        elif observance is not None:
            assert name != "RRULE", "this reader expects onsets listed as RDATEs"
            if name == "RDATE":
                observance["RDATE"] += value.split(",")
            else:
                observance[name] = value
    return sorted(changes)


def instant_in_invite(calendar: str, name: str) -> datetime:
    """DTSTART or DTEND as a calendar reads it: a UTC value as it stands; a wall time through
    the invite's own VTIMEZONE, as the first instant whose offset is the one then in force
    (a repeated wall time means its first occurrence)."""
    lines = unfolded(calendar)
    event = lines[lines.index("BEGIN:VEVENT") :]
    [value] = [line.split(":", 1)[1] for line in event if line.startswith((f"{name}:", f"{name};"))]
    if value.endswith("Z"):
        return datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    wall = datetime.strptime(value, "%Y%m%dT%H%M%S")
    changes = clock_changes(lines)

    def in_force(instant: datetime) -> timedelta | None:
        earlier = [offset for onset, offset in changes if onset <= instant]
        return earlier[-1] if earlier else None

    readings = sorted({wall - offset for _, offset in changes if in_force(wall - offset) == offset})
    assert readings, f"the invite's VTIMEZONE gives {value} no instant"
    return readings[0].replace(tzinfo=UTC)


@pytest.mark.parametrize(("webinar", "reader"), CASES.values(), ids=CASES.keys())
def test_the_reader_sees_the_event_time_and_their_own_on_the_day(store, settings, tmp_path, webinar, reader):
    mail = mail_for(store, settings, tmp_path, webinar, reader)

    for part in (flat(mail["plain"]), flat(mail["html"])):
        assert webinar.shown in part
        assert reader.shown in part


@pytest.mark.parametrize(
    ("webinar", "reader"),
    [case for case in CASES.values() if case[1].agenda],
    ids=[k for k, v in CASES.items() if v[1].agenda],
)
def test_the_agenda_shows_both_clocks(store, settings, tmp_path, webinar, reader):
    mail = mail_for(store, settings, tmp_path, webinar, reader)

    for (start, end), theirs in zip(webinar.agenda, reader.agenda, strict=True):
        ours = f"{start}–{end}"
        assert re.search(rf"  {ours} [A-Za-z ]+ time · {theirs} your time\r?\n", mail["plain"]), ours
        assert re.search(rf">{ours}<br><span[^>]*>{theirs}</span></td>", mail["html"]), ours


@pytest.mark.parametrize(("webinar", "reader"), CASES.values(), ids=CASES.keys())
def test_the_invite_names_the_wall_time_in_its_zone_and_means_the_right_instant(
    store, settings, tmp_path, webinar, reader
):
    mail = mail_for(store, settings, tmp_path, webinar, reader)
    lines = unfolded(mail["calendar"])

    assert f"DTSTART;TZID={webinar.zone}:{webinar.dtstart}" in lines
    assert f"DTEND;TZID={webinar.zone}:{webinar.dtend}" in lines or f"DTEND:{webinar.dtend}" in lines
    assert instant_in_invite(mail["calendar"], "DTSTART") == webinar.utc_start
    assert instant_in_invite(mail["calendar"], "DTEND") == webinar.utc_end


def test_the_two_hour_webinar_across_santiagos_change_lasts_two_hours(store, settings, tmp_path):
    """It ends at 23:30 on the second pass of the clock, which the invite cannot write as a
    wall time (a repeated wall time means its first pass): so it writes the end in UTC."""
    webinar, reader = CASES["santiago-across/london"]
    calendar = mail_for(store, settings, tmp_path, webinar, reader)["calendar"]

    assert "DTEND:20210404T033000Z" in unfolded(calendar)
    assert instant_in_invite(calendar, "DTEND") - instant_in_invite(calendar, "DTSTART") == timedelta(hours=2)
