"""The report an organiser hands on after a webinar, or a series of them.

`gather` reads the store and the outbox into a plain tree of dataclasses (`WebinarReport`,
`SeriesReport`); the renderers write that tree as JSON (`as_json`), one long CSV table
(`as_csv`) or one self-contained HTML page with SVG charts (`as_html`, which alone imports
matplotlib); `files` writes them all or none. By default the tree holds no personal data:
every breakdown groups the categories of fewer than `SMALL_GROUP` people as "other".
"""

from webinar_ops.report.gather import (
    SMALL_GROUP,
    SeriesReport,
    WebinarReport,
    page_language,
    series_report,
    webinar_report,
)

__all__ = ["SMALL_GROUP", "SeriesReport", "WebinarReport", "page_language", "series_report", "webinar_report"]
