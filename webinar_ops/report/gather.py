"""What a report holds: the figures of one webinar, or of the sessions of one series, read from
the store and the outbox into a plain tree of frozen dataclasses that every renderer reads.

No personal data enters the tree unless the organiser asks (`with_names`): every breakdown of
people into categories (country, organisation, ...) folds the categories of fewer than
`SMALL_GROUP` people into one "other" line, and says how many it folded, so that the report
can be shared. Instants are ISO UTC text; days and agenda times are on the event's clock.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from webinar_ops import languages, times, validate, wording
from webinar_ops.errors import InputError, NotFound
from webinar_ops.mail.outbox import Outbox, State
from webinar_ops.store import Store, WebinarRecord

SMALL_GROUP = 5  # a category of fewer people than this is folded into "other"
OTHER = "other"
NOT_GIVEN = "not given"
SCHEMA = 1  # the version of the JSON's keys (docs/commands.md#report); raised when one changes meaning
MAIL_STATES = tuple(state.value for state in State)


@dataclass(frozen=True)
class Count:
    """How many people fall in one category."""

    category: str
    people: int


@dataclass(frozen=True)
class Breakdown:
    """The registrants by one of their fields, the most first and "other" last; `grouped` says
    how many categories of fewer than SMALL_GROUP people "other" holds."""

    name: str  # country, organisation, time_zone, language, language_read, tracking_source
    title: str
    counts: tuple[Count, ...]
    total: int
    grouped: int


@dataclass(frozen=True)
class Day:
    """Registrations on one day of the event's clock, and all of them up to that day."""

    day: str  # ISO date
    registrations: int
    cumulative: int


@dataclass(frozen=True)
class MailSent:
    """One kind of mail that went out: how many, and when the first and the last went."""

    kind: str
    sent: int
    first_sent_at: str
    last_sent_at: str
    first_day: str  # the ISO date of the first on the event's clock


@dataclass(frozen=True)
class Registrations:
    """How registrations came in, day by day, against the mail that went out."""

    total: int
    by_day: tuple[Day, ...]
    mail_sent: tuple[MailSent, ...]


@dataclass(frozen=True)
class Statuses:
    """The registrants by status; `promoted` of the approved were seated from the waitlist."""

    pending: int
    approved: int
    denied: int
    waitlisted: int
    cancelled: int
    promoted: int
    capacity: int | None
    unsubscribed: int


@dataclass(frozen=True)
class MailKind:
    """One kind of mail: its deliveries in each state, and how many of them bounced."""

    kind: str
    pending: int
    sending: int
    sent: int
    failed: int
    skipped: int
    missed: int
    bounced: int

    @property
    def total(self) -> int:
        return sum(getattr(self, state) for state in MAIL_STATES)


@dataclass(frozen=True)
class Mail:
    """The audience's mail (the registrants'): by kind and state, with bounces (refused for
    good with a 5xx reply) and the registrants who unsubscribed from reminders. The speakers'
    mail is counted apart (`WebinarReport.speaker_mail`)."""

    kinds: tuple[MailKind, ...]
    sent: int
    bounced: int
    unsubscribed: int


@dataclass(frozen=True)
class Bin:
    """People who attended for `low` minutes up to (not including) `high`."""

    low: int
    high: int
    people: int

    @property
    def label(self) -> str:
        return f"{self.low}–{self.high}"


@dataclass(frozen=True)
class Attendance:
    """Who came, once a source told (`known`); the figures are None before."""

    known: bool
    source: str | None
    known_at: str | None
    expected: int | None
    attended: int | None
    absent: int | None
    rate: float | None
    minutes: int | None
    mean_minutes: float | None
    histogram: tuple[Bin, ...]


@dataclass(frozen=True)
class AgendaLine:
    """One item of the agenda as held: its time on the event's clock, title and speakers."""

    time: str
    title: str
    speakers: tuple[str, ...]


@dataclass(frozen=True)
class Person:
    """One registrant, only in a report made `with_names`."""

    first_name: str
    last_name: str | None
    email: str
    organisation: str | None
    country: str | None
    status: str
    attended: bool | None
    minutes: int | None


@dataclass(frozen=True)
class WebinarReport:
    """Everything the report of one webinar shows."""

    slug: str
    title: str
    series: str | None
    session: str | None
    when: str  # the start and end on the event's clock, in words
    start: str
    end: str
    time_zone: str
    revision: int
    cancelled_at: str | None
    made_at: str
    small_group: int
    registrations: Registrations
    statuses: Statuses
    breakdowns: tuple[Breakdown, ...]
    mail: Mail
    speaker_mail: tuple[MailKind, ...]  # the speakers' mail by kind and state: counts, no names
    attendance: Attendance
    moderator: str | None
    agenda: tuple[AgendaLine, ...]
    people: tuple[Person, ...] | None  # None unless made with names


@dataclass(frozen=True)
class Session:
    """The key figures of one session of a series."""

    slug: str
    title: str
    session: str | None
    start: str
    day: str  # the ISO date on the event's clock
    cancelled: bool
    registrants: int
    approved: int
    attended: int | None  # None until attendance is known
    rate: float | None
    mean_minutes: float | None


@dataclass(frozen=True)
class SeriesReport:
    """The sessions of one series side by side, the earliest first."""

    series: str
    made_at: str
    sessions: tuple[Session, ...]


def webinar_report(store: Store, record: WebinarRecord, now: datetime, with_names: bool = False) -> WebinarReport:
    """The report of one webinar, as the store holds it at `now`; with the registrants'
    names and addresses only when `with_names`."""
    definition = record.definition
    return WebinarReport(
        slug=record.slug,
        title=record.title,
        series=definition.series,
        session=definition.session,
        when=times.format_span(definition.start, definition.end, definition.time_zone),
        start=times.iso_utc(definition.start),
        end=times.iso_utc(definition.end),
        time_zone=definition.time_zone,
        revision=record.revision,
        cancelled_at=record.cancelled_at,
        made_at=times.iso_utc(now),
        small_group=SMALL_GROUP,
        registrations=registrations(store, record),
        statuses=statuses(store, record),
        breakdowns=breakdowns(store, record),
        mail=mail(store, record),
        speaker_mail=speaker_mail(store, record),
        attendance=attendance(store, record),
        moderator=definition.moderator.describe() if definition.moderator else None,
        agenda=agenda(record),
        people=people(store, record) if with_names else None,
    )


def registrations(store: Store, record: WebinarRecord) -> Registrations:
    """Registrations per day on the event's clock, every day from the first registration
    (or mail) to the last shown, with the first day each kind of the audience's mail went out
    (the speakers' mail is no mark of how registrations came in)."""
    zone = record.definition.time_zone
    per_day: Counter[date] = Counter()
    for stamp, count in store.registration_stamps(record.id):
        per_day[_local_day(stamp, zone)] += count
    sent = tuple(
        MailSent(**row, first_day=_local_day(row["first_sent_at"], zone).isoformat())
        for row in Outbox(store).sending_times(record.id, "registrants")
    )
    days = sorted({*per_day, *(date.fromisoformat(row.first_day) for row in sent)})
    by_day, running = [], 0
    for day in _every_day(days[0], days[-1]) if days else ():
        running += per_day[day]
        by_day.append(Day(day.isoformat(), per_day[day], running))
    return Registrations(total=running, by_day=tuple(by_day), mail_sent=sent)


def _local_day(stamp: str, zone: str) -> date:
    return times.in_zone(times.parse_iso_utc(stamp), zone).date()


def _every_day(first: date, last: date) -> Iterable[date]:
    return (first + timedelta(days=n) for n in range((last - first).days + 1))


def statuses(store: Store, record: WebinarRecord) -> Statuses:
    """The registrants by status, those promoted from the waitlist, the capacity and the
    unsubscribed."""
    counts = store.registrant_counts(record.id)
    return Statuses(
        **counts,
        promoted=store.promoted_count(record.id),
        capacity=store.seats(record.id).capacity,
        unsubscribed=store.unsubscribed_count(record.id),
    )


def N_(message: str) -> str:
    """Marks `message` for the catalogs (`make catalogs`); the page translates it where shown."""
    return message


# Each breakdown's title: English in the JSON and the CSV, translated on the page (as_html.py).
_BREAKDOWN_TITLES = {
    "country": N_("Registrants by country"),
    "organisation": N_("Registrants by organisation"),
    "time_zone": N_("Registrants by time zone"),
    "language": N_("Registrants by the language they gave"),
    "language_read": N_("Registrants by the language their mail is written in"),
    "tracking_source": N_("Registrants by where they came from"),
}


def breakdowns(store: Store, record: WebinarRecord) -> tuple[Breakdown, ...]:
    """Every breakdown of the registrants, small categories grouped as "other"."""
    given = {column: store.category_counts(record.id, column) for column in ("country", "organisation", "time_zone")}
    tags = store.category_counts(record.id, "language")
    sources = {row["source"]: row["registrants"] for row in store.source_counts(record.id)}
    counted = {**given, "language": tags, "language_read": _as_read(record, tags), "tracking_source": sources}
    return tuple(grouped(name, _BREAKDOWN_TITLES[name], counts) for name, counts in counted.items())


def _as_read(record: WebinarRecord, tags: dict[str | None, int]) -> dict[str | None, int]:
    """The language tags given, as the language each reader's mail is written in (`fr-CA`
    reads French where the webinar has no Canadian French; no tag reads the fallback)."""
    offered = record.definition.languages_offered()
    fallback = languages.fallback_language(offered, record.definition.language)
    read: Counter[str | None] = Counter()
    for tag, count in tags.items():
        chosen = languages.choose(tag, offered, fallback)
        read[f"{languages.display_name(chosen)} ({chosen})"] += count
    return dict(read)


def grouped(name: str, title: str, counts: dict[str | None, int], small: int = SMALL_GROUP) -> Breakdown:
    """A breakdown of `counts` (category -> people; None for those who gave none) in which every
    category of fewer than `small` people is folded into one "other" line, kept last."""
    kept = sorted(((category or NOT_GIVEN, n) for category, n in counts.items() if n >= small), key=_most_first)
    folded = [n for n in counts.values() if n < small]
    lines = [Count(category, n) for category, n in kept]
    if folded:
        lines.append(Count(OTHER, sum(folded)))
    return Breakdown(name, title, tuple(lines), total=sum(counts.values()), grouped=len(folded))


def _most_first(item: tuple[str, int]) -> tuple[int, str]:
    return -item[1], item[0].casefold()


def mail(store: Store, record: WebinarRecord) -> Mail:
    """The audience's mail by kind and state, its bounces and the unsubscribed."""
    rows = mail_kinds(store, record, "registrants")
    bounced = sum(row.bounced for row in rows)
    return Mail(
        kinds=rows,
        sent=sum(row.sent for row in rows),
        bounced=bounced,
        unsubscribed=store.unsubscribed_count(record.id),
    )


def speaker_mail(store: Store, record: WebinarRecord) -> tuple[MailKind, ...]:
    """The speakers' mail (briefings, their reminders, the practice reminder, their
    cancellation) by kind and state: counts only, so no speaker is named."""
    return mail_kinds(store, record, "speakers")


def mail_kinds(store: Store, record: WebinarRecord, readers: str) -> tuple[MailKind, ...]:
    """The deliveries to `readers` (`registrants` or `speakers`) by kind and state, with bounces."""
    outbox = Outbox(store)
    bounced = outbox.bounces(record.id, readers)
    return tuple(
        MailKind(kind, **{state: states.get(state, 0) for state in MAIL_STATES}, bounced=bounced.get(kind, 0))
        for kind, states in outbox.counts(record.id, readers).items()
    )


HISTOGRAM_STEP = 15  # minutes per bar; 30 for webinars longer than three hours


def attendance(store: Store, record: WebinarRecord) -> Attendance:
    """Attendance once a source told who came; "not known" figures (None) before."""
    check = store.attendance_check(record.id)
    if not check.known:
        return Attendance(False, None, None, None, None, None, None, None, None, ())
    figures = store.attendance_figures(record.id)
    return Attendance(
        known=True,
        source=check.source,
        known_at=check.known_at,
        expected=figures.expected,
        attended=figures.attended,
        absent=figures.absent,
        rate=figures.rate,
        minutes=figures.minutes,
        mean_minutes=round(figures.mean_minutes, 1) if figures.mean_minutes is not None else None,
        histogram=histogram(store.attended_minutes(record.id), record.definition.duration),
    )


def histogram(minutes: list[int], duration: timedelta) -> tuple[Bin, ...]:
    """The attendees by minutes attended, in bars of HISTOGRAM_STEP minutes from 0 to the
    webinar's length (or the longest stay, when someone stayed on)."""
    if not minutes:
        return ()
    length = int(duration.total_seconds() // 60)
    step = HISTOGRAM_STEP if length <= 180 else 2 * HISTOGRAM_STEP
    top = max(length, max(minutes) + 1)
    edges = range(0, top + step - 1, step)
    per_bin = Counter(min(m // step, len(edges) - 1) for m in minutes)
    return tuple(Bin(low, low + step, per_bin[n]) for n, low in enumerate(edges) if low < top)


def agenda(record: WebinarRecord) -> tuple[AgendaLine, ...]:
    """The agenda of the last revision of the definition, times on the event's clock."""
    definition = record.definition
    return tuple(
        AgendaLine(
            time=times.format_clock_span(item.start, item.end, definition.time_zone),
            title=item.title,
            speakers=tuple(speaker.describe() for speaker in item.speakers),
        )
        for item in definition.agenda
    )


def people(store: Store, record: WebinarRecord) -> tuple[Person, ...]:
    """Every registrant with their status and attendance (a report made with names), by name."""
    present = store.attendance_of(record.id)
    return tuple(
        Person(
            first_name=row.first_name,
            last_name=row.last_name,
            email=row.email,
            organisation=row.organisation,
            country=row.country,
            status=row.status,
            attended=present[row.id].attended if row.id in present else None,
            minutes=present[row.id].minutes if row.id in present else None,
        )
        for row in sorted(store.registrants(record.id), key=_by_name)
    )


def _by_name(row) -> tuple[str, str, str]:
    # By family name, then given name, as a list of people is read; the address settles ties.
    return ((row.last_name or row.first_name).casefold(), row.first_name.casefold(), row.email)


def series_report(store: Store, series: str, now: datetime) -> SeriesReport:
    """The sessions of the series named `series` (the definitions' `series`, matched whole
    but whatever the case), the earliest first; NotFound lists the series there are."""
    records = store.webinars()
    wanted = series.strip().casefold()
    sessions = sorted((r for r in records if (r.definition.series or "").casefold() == wanted), key=_starts)
    if not sessions:
        known = sorted({r.definition.series for r in records if r.definition.series})
        hint = f" Known series: {'; '.join(known)}." if known else " No webinar names a series (`series = ...`)."
        raise NotFound(f"No series called {series!r}.{hint}")
    return SeriesReport(
        series=sessions[0].definition.series or series,
        made_at=times.iso_utc(now),
        sessions=tuple(session_figures(store, record) for record in sessions),
    )


def _starts(record: WebinarRecord) -> datetime:
    return record.definition.start


def session_figures(store: Store, record: WebinarRecord) -> Session:
    """The key figures of one session of a series."""
    counts = store.registrant_counts(record.id)
    known = store.attendance_check(record.id).known
    figures = store.attendance_figures(record.id) if known else None
    definition = record.definition
    return Session(
        slug=record.slug,
        title=record.title,
        session=definition.session,
        start=times.iso_utc(definition.start),
        day=definition.local(definition.start).date().isoformat(),
        cancelled=record.cancelled_at is not None,
        registrants=sum(counts.values()),
        approved=counts["approved"],
        attended=figures.attended if figures else None,
        rate=figures.rate if figures else None,
        mean_minutes=round(figures.mean_minutes, 1) if figures and figures.mean_minutes is not None else None,
    )


def page_language(store: Store, report: WebinarReport | SeriesReport, asked: str | None) -> str:
    """The language a report's page is written in: the one `asked` for, else its webinar's (a
    series: its first session's) when its words can be written in it, else English. A
    language asked for whose words cannot be written is refused, naming those that can."""
    can = languages.available()
    if asked is not None:
        try:
            tag = validate.language(asked)
        except ValueError as exc:
            raise InputError(f"--language: {exc}.") from None
        if wording.primary(tag) not in {wording.primary(c) for c in can}:
            raise InputError(f"The report cannot be written in {asked!r}; its words are in {', '.join(can)}.")
        return tag
    slug = report.slug if isinstance(report, WebinarReport) else report.sessions[0].slug
    own = store.webinar(slug).definition.language
    return own if wording.primary(own) in {wording.primary(c) for c in can} else wording.ENGLISH
