"""The report's key figures as a few lines for the terminal, when no file is asked for."""

from __future__ import annotations

from webinar_ops.report.gather import SeriesReport, WebinarReport


def as_text(report: WebinarReport | SeriesReport) -> str:
    """A few lines of key figures, and how to get the whole report."""
    lines = _series_lines(report) if isinstance(report, SeriesReport) else _webinar_lines(report)
    return "\n".join([*lines, "The whole report: add --html FILE, --csv FILE or --json."]) + "\n"


def _webinar_lines(report: WebinarReport) -> list[str]:
    statuses = report.statuses
    cancelled = [f"  cancelled at {report.cancelled_at}"] if report.cancelled_at else []
    return [
        f"{report.slug}: {report.title}",
        *cancelled,
        f"  {report.registrations.total} registrants: {statuses.approved} approved, {statuses.pending} pending, "
        f"{statuses.waitlisted} waitlisted, {statuses.denied} denied, {statuses.cancelled} cancelled",
        f"  {report.mail.sent} mails sent, {report.mail.bounced} bounced, {report.mail.unsubscribed} unsubscribed",
        *_speaker_mail(report),
        f"  attendance: {_attendance(report)}",
    ]


def _speaker_mail(report: WebinarReport) -> list[str]:
    """The speakers' mail in a line of its own (none when the webinar has none)."""
    if not report.speaker_mail:
        return []
    sent = sum(kind.sent for kind in report.speaker_mail)
    bounced = sum(kind.bounced for kind in report.speaker_mail)
    return [f"  speakers' mail, apart: {sent} sent, {bounced} bounced"]


def _attendance(report: WebinarReport) -> str:
    """What is known of who attended, or why nothing is: a cancelled webinar, or one not over,
    will have no attendance to wait for (instants are ISO UTC text, which sorts as time does)."""
    shown = report.attendance
    if shown.known and shown.rate is not None:
        return f"{shown.attended} attended ({shown.rate:.0%})"
    if report.cancelled_at:
        return "none, the webinar was cancelled"
    if report.made_at < report.end:
        return f"not yet, the webinar ends at {report.end}"
    return "not known yet"


def _series_lines(report: SeriesReport) -> list[str]:
    count = len(report.sessions)
    lines = [f"{report.series}: {count} session{'' if count == 1 else 's'}"]
    for s in report.sessions:
        came = "attendance not known yet" if s.attended is None else f"{s.attended} attended"
        came = "cancelled" if s.cancelled else came
        lines.append(f"  {s.day} {s.slug}: {s.registrants} registrants, {s.approved} approved, {came}")
    return lines
