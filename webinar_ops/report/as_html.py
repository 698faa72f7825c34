"""The report as one self-contained HTML page: inline CSS, inline SVG charts (charts.py), no
script and no address of anything to fetch, laid out to print on A4. Every chart's figures are
in a table beside it, for those who cannot see the chart and for the tests that read them back.

The page's words are messages of the gettext catalogs (docs/translating.md), so the page is
written in any language the mails are: English, or one with a catalog. Dates and numbers are
written as CLDR (Babel) writes them in that language.
"""

from __future__ import annotations

from datetime import date
from functools import cache
from gettext import NullTranslations
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from webinar_ops import times, wording
from webinar_ops.report import charts
from webinar_ops.report.gather import MAIL_STATES, NOT_GIVEN, OTHER, SeriesReport, WebinarReport

TEMPLATES = Path(__file__).resolve().parent / "templates"


def as_html(report: WebinarReport | SeriesReport, language: str = wording.ENGLISH) -> str:
    """The report as an HTML page, in `language` (a tag such as `fr`)."""
    env = _environment(language)
    words = wording.catalog(language)
    if isinstance(report, SeriesReport):
        title = words.gettext("Registrations and attendance by session")
        chart = Markup(charts.series_chart(report, title, language))  # charts._svg's own SVG, its text escaped
        return env.get_template("series.html").render(report=report, chart=chart, language=language)
    names = _names(words)
    return env.get_template("report.html").render(
        report=report, charts=_charts(report, language, names), states=MAIL_STATES, names=names, language=language
    )


def _names(words: NullTranslations) -> dict[str, dict[str, str]]:
    """The words for the report's own values: the states of a mail, the statuses of a
    registrant, the categories that are no registrant's value, and the sources of attendance."""
    return {
        "state": {
            "pending": words.pgettext("mail state", "pending"),
            "sending": words.pgettext("mail state", "sending"),
            "sent": words.pgettext("mail state", "sent"),
            "failed": words.pgettext("mail state", "failed"),
            "skipped": words.pgettext("mail state", "skipped"),
            "missed": words.pgettext("mail state", "missed"),
        },
        "status": {
            "pending": words.pgettext("registration status", "pending"),
            "approved": words.pgettext("registration status", "approved"),
            "denied": words.pgettext("registration status", "denied"),
            "waitlisted": words.pgettext("registration status", "waitlisted"),
            "cancelled": words.pgettext("registration status", "cancelled"),
        },
        "category": {
            OTHER: words.pgettext("a category of the report", "other"),
            NOT_GIVEN: words.pgettext("a category of the report", "not given"),
        },
        "source": {
            "provider": words.pgettext("where attendance came from", "the provider"),
            "join page": words.pgettext("where attendance came from", "the join page"),
            "import": words.pgettext("where attendance came from", "an imported file"),
        },
    }


def _charts(report: WebinarReport, language: str, names: dict[str, dict[str, str]]) -> dict[str, Markup]:
    _ = wording.catalog(language).gettext
    drawn = {
        "breakdown:" + b.name: charts.breakdown_chart(b, _(b.title), names["category"], language)
        for b in report.breakdowns
        if b.counts
    }
    if report.registrations.by_day:
        drawn["registrations"] = charts.registrations_chart(
            report.registrations, _("Registrations over time"), language
        )
    if report.mail.kinds:
        drawn["mail"] = charts.mail_chart(report.mail, _("Mail by kind and state"), names["state"], language)
    if report.attendance.histogram:
        drawn["minutes"] = charts.minutes_chart(report.attendance, _("Minutes attended"), language)
    return {name: Markup(svg) for name, svg in drawn.items()}  # charts._svg's own SVG, its text escaped


@cache
def _environment(language: str) -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.i18n"],
    )
    env.install_gettext_translations(wording.catalog(language), newstyle=True)
    env.filters["moment"] = lambda stamp, zone="UTC": _moment(stamp, zone, language)
    env.filters["span"] = lambda report: _span(report, language)
    env.filters["percent"] = lambda share: _percent(share, language)
    env.filters["number"] = lambda value: _number(value, language)
    env.filters["day"] = lambda iso_date: _day(iso_date, language)
    return env


def _moment(stamp: str | None, zone: str, language: str) -> str:
    """An ISO UTC stamp as the event's clock reads it, in words."""
    return times.format_moment(times.parse_iso_utc(stamp), zone, language) if stamp else "—"


def _span(report: WebinarReport, language: str) -> str:
    start, end = times.parse_iso_utc(report.start), times.parse_iso_utc(report.end)
    return times.format_span(start, end, report.time_zone, language=language)


def _percent(share: float | None, language: str) -> str:
    from babel.numbers import format_percent

    return "—" if share is None else format_percent(share, locale=wording.locale(language))


def _number(value: float | None, language: str) -> str:
    from babel.numbers import format_decimal

    return "—" if value is None else format_decimal(value, locale=wording.locale(language))


def _day(iso_date: str, language: str) -> str:
    from babel.dates import format_date

    return format_date(date.fromisoformat(iso_date), "medium", locale=wording.locale(language))
