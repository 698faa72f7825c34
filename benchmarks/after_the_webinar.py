"""After the webinar: importing Zoom's Attendee Report, and writing the report's HTML page.

    .venv/bin/python benchmarks/after_the_webinar.py [--quick]

Each figure is a new `webinar-ops` process, timed from its start to its exit, on a webinar held
two days ago with its registrants imported: `attendance import` of an Attendee Report of
50,000 session rows (people who rejoined have several), and `report --html` for 1,000 and
10,000 registrants once their attendance is recorded. `run.py --only after` runs it with the
others.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import reminders

from webinar_ops import times

HELD = (datetime.now(UTC) - timedelta(days=2)).replace(second=0, microsecond=0)
ZONE = reminders.SAMPLE_DEFINITION.time_zone  # the sample's, which write_definition keeps
COUNTRIES = ["KR", "FR", "GH", "AR", "IN", "US", "KE", "BR", "JP", "DE"]
ORGANISATIONS = [
    "Ministry of the Interior and Safety",
    "Direction interministérielle du numérique",
    "Ghana Statistical Service",
    'Universidad de "Los Andes", Bogotá',
    "清华大学公共管理学院",
    "City of Boston, Office of Budget & Program Evaluation",
]
ZOOM_TIME = "%b %d, %Y %H:%M:%S"


def project(folder: Path, people: int) -> tuple[Path, dict[str, str]]:
    """A project folder with the held webinar `held` and `people` registrants."""
    folder.mkdir(parents=True)
    env = {"WEBINAR_OPS_DB": str(folder / "after.db"), "WEBINAR_OPS_SECRET_KEY": reminders.SECRET_KEY}
    definition = reminders.write_definition(folder, "held", HELD, [60])
    cli(["webinar", "add", str(definition)], env, folder)
    cli(["registrants", "import", "held", str(write_people(folder, people)), "--force"], env, folder)
    return folder, env


def write_people(folder: Path, count: int) -> Path:
    """`count` registrants from several countries and organisations, some of them small."""
    path = folder / "people.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["email", "first_name", "last_name", "organisation", "country", "time_zone"])
        for i in range(count):
            organisation = ORGANISATIONS[i % len(ORGANISATIONS)] if i % 50 else f"Office {i}"
            row = [f"p{i:06d}@example.org", f"P{i}", "Benchmark", organisation, COUNTRIES[i % 10], ZONE]
            writer.writerow(row)
    return path


def write_attendee_report(folder: Path, rows: int, people: int) -> Path:
    """Zoom's Attendee Report with `rows` session rows over `people` registrants: most came,
    many rejoined, a fifth of the rows say someone did not come."""
    random.seed(16)
    path = folder / "attendee-report.csv"
    with path.open("w", newline="", encoding="utf-8-sig") as handle:
        writer = csv.writer(handle, lineterminator="\r\n")
        writer.writerows([["Attendee Report"], ["Report Generated:", "a day after"], [], ["Attendee Details"]])
        header = ["Attended", "User Name (Original Name)", "Email", "Join Time", "Leave Time"]
        writer.writerow([*header, "Time in Session (minutes)"])
        for n in range(rows):
            email = f"p{n % people:06d}@example.org"
            if random.random() < 0.2:
                writer.writerow(["No", "P", email, "--", "--", "--"])
                continue
            joined = HELD + timedelta(minutes=random.randint(-10, 60))
            left = joined + timedelta(minutes=random.randint(1, 60))
            walls = [times.in_zone(t, ZONE).strftime(ZOOM_TIME) for t in (joined, left)]
            writer.writerow(["Yes", "P", email, *walls, str((left - joined) // timedelta(minutes=1))])
    return path


def cli(args: list[str], env: dict[str, str], cwd: Path) -> None:
    """`webinar-ops ARGS` in a new process, with only `env`'s settings of webinar-ops."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("WEBINAR_OPS_", "SMTP_", "MAIL_", "ZOOM_"))}
    subprocess.run(
        [sys.executable, "-m", "webinar_ops", *args], env={**base, **env}, cwd=cwd, check=True, capture_output=True
    )


def timed(args: list[str], env: dict[str, str], folder: Path) -> float:
    began = time.perf_counter()
    cli(args, env, folder)
    return time.perf_counter() - began


def figures(folder: Path, quick: bool) -> list[tuple[str, float]]:
    """(what, seconds) for the import and each report, the median of a few runs."""
    runs = 1 if quick else 3
    rows = 5_000 if quick else 50_000
    found = []
    for people in (100, 1_000) if quick else (1_000, 10_000):
        where, env = project(folder / f"people-{people}", people)
        report = write_attendee_report(where, rows, people)
        seconds = statistics.median(
            timed(["attendance", "import", "held", str(report)], env, where) for _ in range(runs)
        )
        found.append((f"`attendance import` of an Attendee Report of {rows:,} rows, {people:,} registrants", seconds))
        html = ["report", "held", "--html", str(where / "report.html")]
        seconds = statistics.median(timed(html, env, where) for _ in range(runs))
        found.append((f"`report --html`, {people:,} registrants, attendance known", seconds))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller numbers, to try the script")
    quick = parser.parse_args().quick
    with tempfile.TemporaryDirectory() as folder:
        for what, seconds in figures(Path(folder), quick):
            print(f"| {what} | {seconds:.2f} s |")


if __name__ == "__main__":
    sys.exit(main())
