"""Time zones, wall times and durations.

Instants are stored as aware UTC datetimes. Wall times exist only at the edges: in a
definition (the organiser writes the local time of the event) and in what a person reads.
Every conversion between the two goes through this module.

What people read is written in their language (`language`, a tag the templates exist in):
day and month names from Babel (CLDR), the clock and the few words around it from
wording.py. English is `Friday 30 April 2021, 15:00–16:30 Seoul time (GMT+9)`; French is
`vendredi 30 avril 2021, 15 h 00–16 h 30, heure de Séoul (UTC+9)`, with no-break spaces
inside each time so that a wrapped line never splits one.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from webinar_ops import wording

_DURATION_RE = re.compile(r"^\s*(?:(\d+)\s*d)?\s*(?:(\d+)\s*h)?\s*(?:(\d+)\s*m(?:in)?)?\s*$")
ENGLISH = wording.ENGLISH


class LocalTimeError(ValueError):
    """A wall time that does not name exactly one instant in its zone."""

    def __init__(self, message: str, fix: str):
        super().__init__(message)
        self.fix = fix


@lru_cache(maxsize=512)
def zone(name: str) -> ZoneInfo:
    """Return the IANA zone `name`, or raise ValueError naming the closest real zones."""
    if not isinstance(name, str) or not name or name != name.strip() or name.startswith("/"):
        raise ValueError(f"{name!r} is not an IANA time zone name")
    if name not in iana_zone_names():
        # ZoneInfo also opens the host's own files (localtime, posixrules, posix/..., right/...):
        # not zones, or zones with leap seconds that no calendar client reads the same way
        raise ValueError(f"unknown time zone {name!r}")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError, UnicodeError) as exc:  # OSError: a name too long for a file
        raise ValueError(f"unknown time zone {name!r}") from exc


@lru_cache(maxsize=1)
def iana_zone_names() -> frozenset[str]:
    """The canonical IANA zones and their links, as tzdata lists them (less its `Factory`)."""
    from importlib import resources

    listed = resources.files("tzdata").joinpath("zones").read_text(encoding="utf-8").split()
    return frozenset(listed) - {"Factory"}


def suggest_zones(name: str) -> str:
    """A fix text for an unknown zone: the closest IANA names, or an example."""
    import difflib

    names = sorted(iana_zone_names())
    by_lower = {n.lower(): n for n in names}
    close = difflib.get_close_matches(str(name).lower(), list(by_lower), n=3, cutoff=0.6)
    if close:
        return "use an IANA zone name such as " + " or ".join(by_lower[c] for c in close)
    return "use an IANA zone name such as Asia/Seoul, Europe/Paris or America/New_York"


def to_utc(wall: datetime, zone_name: str) -> datetime:
    """Turn a naive wall time in `zone_name` into an aware UTC instant.

    Raises LocalTimeError when the wall time falls in a DST gap (it never happens on the
    clock) or a fold (it happens twice), because either guess would send people at the
    wrong hour.
    """
    instants = wall_instants(wall, zone_name)
    if len(instants) == 1:
        return instants[0]
    if instants:
        earlier, later = (_offset(wall - instant.replace(tzinfo=None)) for instant in instants)
        raise LocalTimeError(
            f"{wall:%Y-%m-%d %H:%M} happens twice in {zone_name} "
            f"(once at UTC{earlier}, once at UTC{later}) as clocks go back",
            "choose a time outside the repeated hour, or move the event by an hour",
        )
    raise LocalTimeError(
        f"{wall:%Y-%m-%d %H:%M} does not exist in {zone_name}: clocks skip it as they go forward",
        "choose a time outside the skipped hour, for example one hour later",
    )


def wall_instants(wall: datetime, zone_name: str) -> tuple[datetime, ...]:
    """Every UTC instant at which the clocks of `zone_name` show the naive `wall`, earliest
    first: one, none in a DST gap, two in a fold. For a reading that may settle a fold
    otherwise (an attendance report's minutes); `to_utc` refuses both."""
    tz = zone(zone_name)
    first = wall.replace(tzinfo=tz, fold=0)
    second = wall.replace(tzinfo=tz, fold=1)
    if first.utcoffset() == second.utcoffset():
        return (first.astimezone(UTC),)
    return tuple(sorted(c.astimezone(UTC) for c in (first, second) if _round_trips(c, tz)))


def _round_trips(candidate: datetime, tz: ZoneInfo) -> bool:
    back = candidate.astimezone(UTC).astimezone(tz)
    return back.replace(tzinfo=None) == candidate.replace(tzinfo=None)


def _offset(delta: timedelta | None) -> str:
    minutes = int((delta or timedelta()).total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    hours, mins = divmod(abs(minutes), 60)
    return f"{sign}{hours}" if not mins else f"{sign}{hours}:{mins:02d}"


def gmt_label(instant: datetime, zone_name: str, language: str = ENGLISH) -> str:
    """`GMT+9`, `GMT-4`, `GMT+10:30`: the offset a reader sees for `instant` in `zone_name`
    (`UTC+9` in French, `+9 GMT` in Portuguese, as CLDR writes them)."""
    return _gmt_format(language) % _offset(instant.astimezone(zone(zone_name)).utcoffset())


@lru_cache(maxsize=16)
def _gmt_format(language: str) -> str:
    if language == ENGLISH:
        return "GMT%s"  # what CLDR says too, without loading it
    return wording.locale(language).zone_formats["gmt"]


def in_zone(instant: datetime, zone_name: str) -> datetime:
    """The aware instant expressed in `zone_name` (for display only)."""
    if instant.tzinfo is None:
        raise ValueError("in_zone needs an aware datetime")
    return instant.astimezone(zone(zone_name))


def parse_duration(text: str) -> timedelta:
    """Parse `90m`, `1h30m`, `7d`, `1d 2h`: whole days, hours and minutes, more than zero."""
    match = _DURATION_RE.match(text) if isinstance(text, str) else None
    if not match or not any(match.groups()):
        raise ValueError(f"{text!r} is not a duration")
    days, hours, minutes = (int(g or 0) for g in match.groups())
    try:
        delta = timedelta(days=days, hours=hours, minutes=minutes)
    except OverflowError as exc:
        raise ValueError(f"{text!r} is too long a duration") from exc
    if delta <= timedelta(0):
        raise ValueError(f"{text!r} is not longer than zero")
    return delta


def format_duration(delta: timedelta) -> str:
    """The inverse of parse_duration: `7d`, `1h30m`, `90m` is written `1h30m`."""
    minutes = int(delta.total_seconds() // 60)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    parts = [f"{days}d" if days else "", f"{hours}h" if hours else "", f"{minutes}m" if minutes else ""]
    return "".join(parts) or "0m"


def utc_now() -> datetime:
    """The current instant, aware, in UTC. Code that needs the time takes it as a parameter."""
    return datetime.now(UTC)


def iso_utc(instant: datetime) -> str:
    """How instants are stored: `2021-04-30T06:00:00Z`, sortable as text."""
    if instant.tzinfo is None:
        raise ValueError("iso_utc needs an aware datetime")
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso_utc(text: str) -> datetime:
    """Read back an instant stored by iso_utc."""
    instant = datetime.fromisoformat(text)  # a tenth of strptime's cost: this runs for every mail sent
    if instant.tzinfo is None or instant.utcoffset():
        raise ValueError(f"{text!r} is not an instant in UTC as webinar-ops stores them")
    return instant


def zone_label(zone_name: str, language: str = ENGLISH) -> str:
    """What people call a zone: `Seoul time` for Asia/Seoul (`heure de Séoul`), `UTC` for UTC."""
    if zone_name in ("UTC", "Etc/UTC", "GMT", "Etc/GMT"):
        return "UTC"
    if zone_name.startswith("Etc/"):
        return zone_name
    words = wording.of(language)
    city = _city(zone_name, language) if words.places_from_cldr else zone_name.rsplit("/", 1)[-1].replace("_", " ")
    return words.zone % {"place": words.place(city)}


@lru_cache(maxsize=512)
def _city(zone_name: str, language: str) -> str:
    """The zone's city as the language names it (CLDR's exemplar city: `Séoul`, `Le Caire`)."""
    from babel.dates import get_timezone_location

    locale = wording.locale(language)
    try:
        return get_timezone_location(zone_name, locale=locale, return_city=True)
    except (LookupError, ValueError):  # a zone CLDR does not know: its own name
        return zone_name.rsplit("/", 1)[-1].replace("_", " ")


def format_day(instant: datetime, zone_name: str, language: str = ENGLISH) -> str:
    """`Friday 30 April 2021` (`vendredi 30 avril 2021`): the date of `instant` on the
    clocks of `zone_name`."""
    return _day(in_zone(instant, zone_name).date(), language)


@lru_cache(maxsize=1024)
def _day(day: date, language: str) -> str:
    # Cached: a wave writes the same few dates into every mail.
    from babel.dates import format_date

    words = wording.of(language)
    text = format_date(day, words.day or "full", locale=wording.locale(language))
    if words.first_of_month != "1" and day.day == 1:
        text = text.replace(" 1 ", f" {words.first_of_month} ", 1)  # `samedi 1er mai 2021`
    return text


def _clock(local: datetime, language: str) -> str:
    return local.strftime(wording.of(language).clock)


def format_span(
    start: datetime,
    end: datetime,
    zone_name: str,
    with_day: bool = True,
    label: str | None = None,
    language: str = ENGLISH,
) -> str:
    """`Friday 30 April 2021, 15:00–16:30 Seoul time (GMT+9)`, in `zone_name`; in French
    `vendredi 30 avril 2021, 15 h 00–16 h 30, heure de Séoul (UTC+9)`.

    When the span crosses midnight on that clock, the end carries its own date; when the
    offset changes inside the span (a DST change), both offsets are shown. `label` replaces
    the zone's name (`your time`).
    """
    first, last = in_zone(start, zone_name), in_zone(end, zone_name)
    offsets = (_offset(first.utcoffset()), _offset(last.utcoffset()))
    gmt = _gmt_format(language) % "/".join(dict.fromkeys(offsets))  # `GMT+1/+2` across a DST change
    if label is None:
        name = zone_label(zone_name, language)
        label = f"{name} ({gmt})" if name != "UTC" else "UTC"
    with_zone = wording.of(language).with_zone
    if first.date() != last.date():
        start_text = f"{format_day(start, zone_name, language)}, {_clock(first, language)}"
        span = f"{start_text} – {format_day(end, zone_name, language)}, {_clock(last, language)}"
        return with_zone % {"time": span, "zone": label}
    day = f"{format_day(start, zone_name, language)}, " if with_day else ""
    return with_zone % {"time": f"{day}{_clock(first, language)}–{_clock(last, language)}", "zone": label}


def format_moment(instant: datetime, zone_name: str, language: str = ENGLISH) -> str:
    """`Friday 30 April 2021, 15:00 Seoul time (GMT+9)`: one instant on the clocks of `zone_name`."""
    local = in_zone(instant, zone_name)
    name = zone_label(zone_name, language)
    gmt = _gmt_format(language) % _offset(local.utcoffset())
    label = f"{name} ({gmt})" if name != "UTC" else "UTC"
    moment = f"{format_day(instant, zone_name, language)}, {_clock(local, language)}"
    return wording.of(language).with_zone % {"time": moment, "zone": label}


def format_reader_span(
    start: datetime, end: datetime, event_zone: str, reader_zone: str, language: str = ENGLISH
) -> str:
    """The span on the reader's clock: `08:00–09:30 your time (Europe/Paris)`, with the
    date too when it is not the event's date there."""
    same_day = in_zone(start, reader_zone).date() == in_zone(start, event_zone).date()
    same_day = same_day and in_zone(end, reader_zone).date() == in_zone(start, reader_zone).date()
    label = wording.of(language).your_time % {"zone": reader_zone}
    return format_span(start, end, reader_zone, with_day=not same_day, label=label, language=language)


def format_clock_span(start: datetime, end: datetime | None, zone_name: str, language: str = ENGLISH) -> str:
    """`15:00–15:45` (or `15:00` for a moment) on the clocks of `zone_name`; `15 h 00–15 h 45` in French."""
    first = _clock(in_zone(start, zone_name), language)
    return first if end is None else f"{first}–{_clock(in_zone(end, zone_name), language)}"


def format_reader_clock_span(
    start: datetime, end: datetime | None, zone_name: str, day_of: date, language: str = ENGLISH
) -> str:
    """An agenda row on the reader's clock: `00:00–00:45`, led by the short weekday when it
    falls on another day than `day_of` (the day the webinar starts on that clock): `Fri
    00:00–00:45` for a reader whose evening runs past midnight."""
    span = format_clock_span(start, end, zone_name, language)
    local_day = in_zone(start, zone_name).date()
    return span if local_day == day_of else f"{_weekday(local_day, language)} {span}"


@lru_cache(maxsize=256)
def _weekday(day: date, language: str) -> str:
    from babel.dates import format_date

    return format_date(day, "EEE", locale=wording.locale(language))


def describe_lead(lead: timedelta, language: str = ENGLISH) -> str:
    """How long before the start a reminder goes, as a person writes it: `in 30 minutes`,
    `in 1 hour 30 minutes`, `in 8 hours`, `tomorrow`, `in 12 days`, `in 3 months`, `in 2
    years`; in French `dans 30 minutes`, `dans une heure`, `dans 1 heure 30 minutes`, `demain`,
    `dans 3 mois`, `dans 2 ans`. Each count agrees with its unit by CLDR's plural rules."""
    words = wording.of(language)
    parts = lead_parts(lead)
    if parts == (("days", 1),):
        return words.tomorrow
    if parts == (("hours", 1),):
        return words.in_one_hour
    if parts == (("minutes", 1),):
        return words.in_one_minute
    counts = [words.count(unit, n) for unit, n in parts]
    if len(counts) == 2:
        return words.in_time % {"time": words.hours_and_minutes % {"hours": counts[0], "minutes": counts[1]}}
    return words.in_time % {"time": counts[0]}


_MONTH = timedelta(days=365.2425 / 12)  # the mean Gregorian month, 30.44 days
_YEAR = timedelta(days=365.2425)


def lead_parts(lead: timedelta) -> tuple[tuple[str, int], ...]:
    """The units and counts a person would say a lead in, the largest first: `(("minutes",
    45),)`, `(("hours", 1), ("minutes", 30))`, `(("days", 1),)` for tomorrow, `(("months", 3),)`.

    Each count is the lead rounded to its unit, so that a longer lead never reads as less time.
    The unit grows when a person would round to it: hours with minutes from 1 hour (the minutes
    still matter then), whole hours from 6, days from about 24 hours, months and years once the
    lead is 2 of them when rounded (from about 45 days and 18 months: `in 44 days` is not
    followed by `in 1 month`).
    """
    seconds = lead.total_seconds()
    if seconds <= 0:  # a manual reminder sent after the start
        return (("minutes", 0),)
    minutes = max(_nearest(seconds / 60), 1)  # a few seconds are still a minute away
    if minutes < 60:
        return (("minutes", minutes),)
    if minutes < 6 * 60:
        hours, minutes = divmod(minutes, 60)
        return (("hours", hours), ("minutes", minutes)) if minutes else (("hours", hours),)
    if (hours := _nearest(seconds / 3600)) < 24:
        return (("hours", hours),)
    if (months := _nearest(lead / _MONTH)) < 2:
        return (("days", _nearest(seconds / 86400)),)
    if (years := _nearest(lead / _YEAR)) < 2:
        return (("months", months),)
    return (("years", years),)


def _nearest(amount: float) -> int:
    """`amount` rounded half up (round() goes to the even neighbour: 2.5 would read as 2)."""
    return math.floor(amount + 0.5)
