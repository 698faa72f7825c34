"""The report as one self-contained HTML page: inline CSS, inline SVG charts (charts.py), no
script and no address of anything to fetch, laid out to print on A4. The words are the
organiser's, in English, as the command line's are. Every chart's figures are in a table
beside it, for those who cannot see the chart and for the tests that read them back.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from webinar_ops import times
from webinar_ops.report import charts
from webinar_ops.report.gather import MAIL_STATES, SeriesReport, WebinarReport

TEMPLATES = Path(__file__).resolve().parent / "templates"


def as_html(report: WebinarReport | SeriesReport) -> str:
    """The report as an HTML page."""
    if isinstance(report, SeriesReport):
        return _environment().get_template("series.html").render(report=report, chart=_series_chart(report))
    return _environment().get_template("report.html").render(report=report, charts=_charts(report), states=MAIL_STATES)


def _charts(report: WebinarReport) -> dict[str, Markup]:
    drawn = {"breakdown:" + b.name: charts.breakdown_chart(b) for b in report.breakdowns if b.counts}
    if report.registrations.by_day:
        drawn["registrations"] = charts.registrations_chart(report.registrations, "Registrations over time")
    if report.mail.kinds:
        drawn["mail"] = charts.mail_chart(report.mail, "Mail by kind and state")
    if report.attendance.histogram:
        drawn["minutes"] = charts.minutes_chart(report.attendance, "Minutes attended")
    return {name: Markup(svg) for name, svg in drawn.items()}  # charts._svg's own SVG, its text escaped


def _series_chart(report: SeriesReport) -> Markup:
    return Markup(charts.series_chart(report, "Registrations and attendance by session"))


@cache
def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["moment"] = _moment
    env.filters["percent"] = _percent
    env.filters["day"] = _day
    return env


def _moment(stamp: str | None, zone: str = "UTC") -> str:
    """An ISO UTC stamp as the event's clock reads it, in words."""
    return times.format_moment(times.parse_iso_utc(stamp), zone) if stamp else "—"


def _percent(share: float | None) -> str:
    return "—" if share is None else f"{share:.0%}"


def _day(iso_date: str) -> str:
    from datetime import date

    from babel.dates import format_date

    return format_date(date.fromisoformat(iso_date), "d MMM y", locale="en")
