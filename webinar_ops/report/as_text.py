"""The report's key figures as a few lines for the terminal, when no file is asked for."""

from __future__ import annotations

from webinar_ops.report.gather import SeriesReport, WebinarReport


def as_text(report: WebinarReport | SeriesReport) -> str:
    """A few lines of key figures, and how to get the whole report."""
    lines = _series_lines(report) if isinstance(report, SeriesReport) else _webinar_lines(report)
    return "\n".join([*lines, "The whole report: add --html FILE, --csv FILE or --json."]) + "\n"


def _webinar_lines(report: WebinarReport) -> list[str]:
    statuses, shown = report.statuses, report.attendance
    came = f"{shown.attended} attended ({shown.rate:.0%})" if shown.known and shown.rate is not None else None
    return [
        f"{report.slug}: {report.title}",
        f"  {report.registrations.total} registrants: {statuses.approved} approved, {statuses.pending} pending, "
        f"{statuses.waitlisted} waitlisted, {statuses.denied} denied, {statuses.cancelled} cancelled",
        f"  {report.mail.sent} mails sent, {report.mail.bounced} bounced, {report.mail.unsubscribed} unsubscribed",
        f"  attendance: {came or 'not known yet'}",
    ]


def _series_lines(report: SeriesReport) -> list[str]:
    count = len(report.sessions)
    lines = [f"{report.series}: {count} session{'' if count == 1 else 's'}"]
    for s in report.sessions:
        came = "attendance not known yet" if s.attended is None else f"{s.attended} attended"
        lines.append(f"  {s.day} {s.slug}: {s.registrants} registrants, {s.approved} approved, {came}")
    return lines
