"""The report's charts: drawn with matplotlib, written as SVG to be inlined in the page.

matplotlib is imported inside `_figure` only, so that no other command pays for it, and only
its Agg-free SVG path is used (a bare `Figure`, no pyplot, no GUI backend). Text stays text
(`svg.fonttype = none`: the reader's browser draws it with its own fonts, none fetched), the
ids matplotlib makes come from a fixed salt (the same figures give the same file), and what
the page must not carry is taken out: the XML prolog, metadata, style sheets and scripts.
Each chart gets its title as the SVG's <title>, which screen readers read.
"""

from __future__ import annotations

import io
import re
import unicodedata
import warnings
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from datetime import date
from typing import Any

from webinar_ops import wording
from webinar_ops.report.gather import MAIL_STATES, Attendance, Breakdown, Mail, Registrations, SeriesReport

SVG = "http://www.w3.org/2000/svg"
XLINK = "http://www.w3.org/1999/xlink"
ET.register_namespace("", SVG)
ET.register_namespace("xlink", XLINK)

SETTINGS = {
    "svg.fonttype": "none",  # text as <text>, drawn by the browser, searchable and accessible
    "svg.hashsalt": "webinar-ops-report",  # ids made from this salt: the same figures, the same SVG
    "text.parse_math": False,  # an organisation's `$` is a dollar sign, not TeX
    "font.family": "sans-serif",
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
}
INK, ACCENT, SOFT, WARN = "#1f3b57", "#2a7ab0", "#9cc3df", "#b34a3c"
STATE_COLOURS = {
    "sent": ACCENT,
    "pending": SOFT,
    "sending": "#6aa5cf",
    "failed": WARN,
    "skipped": "#b8b8b8",
    "missed": "#e0a23a",
}
MAX_BARS = 20  # a breakdown's chart shows its largest categories; its table shows them all
# A breakdown's chart is half the page wide: a longer label would leave its bars and their scale
# no room (the table beside it names each category in full). In columns of a Latin letter; a
# Chinese or Japanese character takes two.
LABEL_COLUMNS = 26
WIDTH = 7.0  # inches: A4's text width at the page's margins


def registrations_chart(registrations: Registrations, title: str, language: str) -> str:
    """Registrations per day (bars) and in all (a line), with a dashed mark on the first day
    each kind of mail went out."""
    _ = wording.catalog(language).gettext
    days = [date.fromisoformat(day.day) for day in registrations.by_day]
    figure, axes = _figure(2.8)
    positions = range(len(days))
    axes.bar(positions, [day.registrations for day in registrations.by_day], color=SOFT, label=_("per day"))
    axes.set_ylabel(_("registrations per day"))
    total = axes.twinx()
    total.plot(positions, [day.cumulative for day in registrations.by_day], color=INK, label=_("in all"))
    total.set_ylabel(_("registrations in all"))
    total.set_ylim(bottom=0)
    index = {day: n for n, day in enumerate(days)}
    for where, kinds in _kinds_by_day(registrations, index).items():
        axes.axvline(where, color=WARN, linestyle="--", linewidth=0.8)
        # Kinds first sent the same day share one mark, their names side by side, not overlapping.
        label = "\n".join(f" {kind}" for kind in kinds)
        axes.text(where, 1.0, label, rotation=90, va="top", fontsize=7, color=WARN, transform=_x_data(axes))
    step = max(1, len(days) // 10)
    axes.set_xticks(list(positions)[::step], [_short_day(day, language) for day in days[::step]])
    figure.legend(loc="outside upper center", frameon=False, ncols=2)
    return _svg(figure, title)


def _kinds_by_day(registrations: Registrations, index: Mapping[date, int]) -> dict[int, list[str]]:
    """The kinds of mail first sent on each day (by its place on the chart), in their order."""
    kinds: dict[int, list[str]] = {}
    for sent in registrations.mail_sent:
        kinds.setdefault(index[date.fromisoformat(sent.first_day)], []).append(sent.kind)
    return kinds


def breakdown_chart(breakdown: Breakdown, title: str, categories: Mapping[str, str], language: str) -> str:
    """One breakdown as horizontal bars, the largest on top; `categories` gives the words
    for the categories that are not the registrants' own values ("other", "not given")."""
    counts = breakdown.counts[:MAX_BARS]
    figure, axes = _figure(0.6 + 0.25 * max(len(counts), 1), width=WIDTH / 2)
    labels = [_shortened(categories.get(count.category, count.category), LABEL_COLUMNS) for count in counts]
    axes.barh(range(len(counts)), [count.people for count in counts], color=ACCENT)
    axes.set_yticks(range(len(counts)), labels)
    axes.invert_yaxis()
    axes.set_xlabel(wording.catalog(language).gettext("registrants"))
    _whole_numbers(axes.xaxis, bins=4)  # the bars may have little room beside long labels
    return _svg(figure, title)


def mail_chart(mail: Mail, title: str, states: Mapping[str, str], language: str) -> str:
    """The deliveries of each kind of mail, stacked by state (`states`: each state's name)."""
    figure, axes = _figure(1.2 + 0.3 * max(len(mail.kinds), 1))
    left = [0] * len(mail.kinds)
    for state in MAIL_STATES:
        widths = [getattr(kind, state) for kind in mail.kinds]
        if any(widths):
            axes.barh(range(len(widths)), widths, left=left, color=STATE_COLOURS[state], label=states[state])
            left = [a + b for a, b in zip(left, widths, strict=True)]
    axes.set_yticks(range(len(mail.kinds)), [kind.kind for kind in mail.kinds])
    axes.invert_yaxis()
    axes.set_xlabel(wording.catalog(language).gettext("mails"))
    _whole_numbers(axes.xaxis)
    figure.legend(loc="outside lower center", frameon=False, ncols=len(MAIL_STATES))
    return _svg(figure, title)


def minutes_chart(attendance: Attendance, title: str, language: str) -> str:
    """How long the attendees stayed: a histogram of their minutes."""
    _ = wording.catalog(language).gettext
    bars = attendance.histogram
    figure, axes = _figure(2.4)
    axes.bar(range(len(bars)), [bar.people for bar in bars], color=ACCENT)
    axes.set_xticks(range(len(bars)), [bar.label for bar in bars])
    axes.set_xlabel(_("minutes attended"))
    axes.set_ylabel(_("attendees"))
    _whole_numbers(axes.yaxis)
    return _svg(figure, title)


def series_chart(series: SeriesReport, title: str, language: str) -> str:
    """Registrants, approved and attended for each session of a series, side by side."""
    _ = wording.catalog(language).gettext
    sessions = series.sessions
    figure, axes = _figure(2.8)
    width = 0.27
    shown = (("registrants", _("registrants"), SOFT), ("approved", _("approved"), ACCENT))
    shown += (("attended", _("attended"), INK),)
    for n, (name, label, colour) in enumerate(shown):
        values = [getattr(session, name) or 0 for session in sessions]
        axes.bar([i + (n - 1) * width for i in range(len(sessions))], values, width, color=colour, label=label)
    axes.set_xticks(range(len(sessions)), [_shortened(s.session or s.slug, 24) for s in sessions])
    axes.set_ylabel(_("people"))
    _whole_numbers(axes.yaxis)
    figure.legend(loc="outside upper center", frameon=False, ncols=3)
    return _svg(figure, title)


def _figure(height: float, width: float = WIDTH) -> tuple[Any, Any]:
    import matplotlib
    from matplotlib.figure import Figure

    # For the whole process: the fonts are read as the figure is drawn, the SVG settings as it
    # is saved, and the report's process draws nothing else.
    matplotlib.rcParams.update(SETTINGS)
    figure = Figure(figsize=(width, height), layout="constrained")
    return figure, figure.add_subplot()


def _x_data(axes: Any) -> Any:
    """Where x is a day and y a share of the axes' height (for a mark's label at the top)."""
    return axes.get_xaxis_transform()


def _whole_numbers(axis: Any, bins: int | str = 10) -> None:
    """Ticks at whole numbers only, in at most `bins` steps (matplotlib's default is 10)."""
    from matplotlib.ticker import MaxNLocator

    axis.set_major_locator(MaxNLocator(nbins=bins, integer=True))


def _short_day(day: date, language: str) -> str:
    from babel.dates import format_skeleton

    return format_skeleton("MMMd", day, locale=wording.locale(language))


def _shortened(text: str, limit: int) -> str:
    """`text` in at most `limit` columns, ending in an ellipsis when cut; a wide (East Asian)
    character takes two columns."""
    if sum(map(_columns, text)) <= limit:
        return text
    kept, used = [], 0
    for character in text:
        used += _columns(character)
        if used > limit - 1:  # a column for the ellipsis
            break
        kept.append(character)
    return "".join(kept).rstrip() + "…"


def _columns(character: str) -> int:
    return 2 if unicodedata.east_asian_width(character) in ("W", "F") else 1


_UNWANTED = {f"{{{SVG}}}{name}" for name in ("metadata", "script", "style", "foreignObject")}


def _svg(figure: Any, title: str) -> str:
    """The figure as an <svg> element for the page: titled, with nothing to run or fetch."""
    out = io.StringIO()
    with warnings.catch_warnings():
        # The browser draws the text, with the reader's fonts: that matplotlib's own font lacks
        # a script (Chinese, Devanagari) is no concern of the organiser's, who would see one
        # warning per character on their terminal.
        warnings.filterwarnings("ignore", r"Glyph \d+ .* missing from font", UserWarning)
        figure.savefig(out, format="svg", metadata={"Date": None, "Creator": None, "Format": None, "Type": None})
    text = out.getvalue()
    root = ET.fromstring(text)
    _strip(root)
    _own_ids(root, set(re.findall(r'(?:url\(#|href="#)([^)"]+)', text)), _prefix(title))
    for size in ("width", "height"):
        root.attrib.pop(size, None)  # the page sizes it, from the viewBox's proportions
    root.set("role", "img")
    root.set("class", "chart")
    heading = ET.Element(f"{{{SVG}}}title")
    heading.text = title
    root.insert(0, heading)
    return ET.tostring(root, encoding="unicode")


def _strip(element: ET.Element) -> None:
    """Take out, everywhere below `element`, what a shared page must not hold: scripts, style
    sheets, metadata, event handlers and links to anything outside the drawing."""
    for child in list(element):
        if child.tag in _UNWANTED:
            element.remove(child)
            continue
        for name in list(child.attrib):
            if name.lower().startswith("on") or (_is_link(name) and not child.attrib[name].startswith("#")):
                del child.attrib[name]
        _strip(child)


def _is_link(name: str) -> bool:
    return name in ("href", f"{{{XLINK}}}href")


def _prefix(title: str) -> str:
    return "chart-" + re.sub(r"[^a-z0-9]+", "-", title.casefold()).strip("-")


def _own_ids(root: ET.Element, referenced: set[str], prefix: str) -> None:
    """Make the chart's ids its own: one page holds several charts, and may hold an id only
    once. Those nothing refers to (`figure_1`, `axes_1`...) are taken out; the others (clip
    paths, tick marks) are led by `prefix`, and so are the references to them."""
    for element in root.iter():
        own = element.get("id")
        if own is not None:
            if own in referenced:
                element.set("id", f"{prefix}-{own}")
            else:
                del element.attrib["id"]
        for name, value in element.attrib.items():
            if "url(#" in value:
                element.set(name, re.sub(r"url\(#([^)]+)\)", rf"url(#{prefix}-\1)", value))
            elif _is_link(name) and value.startswith("#"):
                element.set(name, f"#{prefix}-{value[1:]}")
