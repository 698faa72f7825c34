"""The report as one CSV table in long format, for a spreadsheet's pivot table: one figure per
row, as `section, category, measure, value` (`country, KR, people, 12`). Written like the
registrant export: UTF-8 with a byte-order mark, CRLF line ends, and every value a
spreadsheet would take for a formula written as text."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from webinar_ops.registrants import spreadsheet_text
from webinar_ops.report.gather import MAIL_STATES, SeriesReport, WebinarReport

COLUMNS = ("section", "category", "measure", "value")
Row = tuple[str, str, str, object]


def as_csv(report: WebinarReport | SeriesReport) -> str:
    """The report's figures as CSV text."""
    rows = series_rows(report) if isinstance(report, SeriesReport) else webinar_rows(report)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow([spreadsheet_text(_text(value)) for value in row])
    return "\ufeff" + out.getvalue()


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def webinar_rows(report: WebinarReport) -> Iterator[Row]:
    """One row per figure of a webinar's report, section by section as the page shows them."""
    for key in ("slug", "title", "series", "session", "start", "end", "time_zone", "revision", "cancelled_at"):
        yield "webinar", "", key, getattr(report, key)
    yield "webinar", "", "made_at", report.made_at
    yield "webinar", "", "small_group", report.small_group
    yield "registrations", "", "total", report.registrations.total
    for day in report.registrations.by_day:
        yield "registrations by day", day.day, "registrations", day.registrations
        yield "registrations by day", day.day, "cumulative", day.cumulative
    for sent in report.registrations.mail_sent:
        yield "mail sent", sent.kind, "sent", sent.sent
        yield "mail sent", sent.kind, "first_sent_at", sent.first_sent_at
        yield "mail sent", sent.kind, "last_sent_at", sent.last_sent_at
    for status in ("pending", "approved", "denied", "waitlisted", "cancelled", "promoted", "capacity", "unsubscribed"):
        yield "status", status, "people", getattr(report.statuses, status)
    for breakdown in report.breakdowns:
        for count in breakdown.counts:
            yield breakdown.name, count.category, "people", count.people
        yield breakdown.name, "", "categories grouped as other", breakdown.grouped
    for kind in report.mail.kinds:
        for state in (*MAIL_STATES, "bounced"):
            yield "mail", kind.kind, state, getattr(kind, state)
    yield "mail", "", "bounced", report.mail.bounced
    yield "mail", "", "unsubscribed", report.mail.unsubscribed
    for kind in report.speaker_mail:
        for state in (*MAIL_STATES, "bounced"):
            yield "speakers' mail", kind.kind, state, getattr(kind, state)
    yield from _attendance_rows(report)
    for line in report.agenda:
        yield "agenda", line.time, "title", line.title
        for speaker in line.speakers:
            yield "agenda", line.time, "speaker", speaker
    for person in report.people or ():
        for key in ("first_name", "last_name", "organisation", "country", "status", "attended", "minutes"):
            yield "registrant", person.email, key, getattr(person, key)


def _attendance_rows(report: WebinarReport) -> Iterator[Row]:
    shown = report.attendance
    yield "attendance", "", "known", shown.known
    if not shown.known:
        return
    for key in ("source", "known_at", "expected", "attended", "absent", "rate", "minutes", "mean_minutes"):
        yield "attendance", "", key, getattr(shown, key)
    for bar in shown.histogram:
        yield "minutes attended", bar.label, "people", bar.people


def series_rows(report: SeriesReport) -> Iterator[Row]:
    """One row per figure of each session of a series."""
    yield "series", "", "name", report.series
    yield "series", "", "made_at", report.made_at
    for session in report.sessions:
        for key in ("title", "session", "start", "day", "cancelled", "registrants", "approved", "attended", "rate"):
            yield "session", session.slug, key, getattr(session, key)
        yield "session", session.slug, "mean_minutes", session.mean_minutes
