"""The report as JSON: the report's tree as it stands, its keys in a fixed order, with
`schema` (the version of the keys) and `report` (`webinar` or `series`) first. The keys are
documented in docs/commands.md#report."""

from __future__ import annotations

import json
from dataclasses import asdict

from webinar_ops.report.gather import SCHEMA, SeriesReport, WebinarReport


def as_json(report: WebinarReport | SeriesReport) -> str:
    """The report as indented JSON text, ending with a newline."""
    kind = "series" if isinstance(report, SeriesReport) else "webinar"
    data = {"schema": SCHEMA, "report": kind, **asdict(report)}
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n"
