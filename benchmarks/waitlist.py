"""Benchmark: a full webinar's waitlist, written and planned.

A webinar with `[registration] capacity = 10` takes a file of people at once, so that all
but ten are waitlisted by the store's seat rule; then one planning pass writes each of them a
`waitlisted` mail with their place in the queue. It prints the seconds of each step for
several sizes, so that a step that grows faster than the queue shows as such.

    .venv/bin/python benchmarks/waitlist.py [--sizes 2000 8000 20000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from webinar_ops.definition import load_definition
from webinar_ops.people import Person
from webinar_ops.plan import plan_webinar
from webinar_ops.store import NewRegistrant, Store

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "data" / "webinars" / "undesa-snu-session-5.toml"
NOW = datetime(2030, 1, 1, tzinfo=UTC)
CAPACITY = 10


def full_webinar(folder: Path, people: int) -> tuple[float, float, int]:
    """Seconds to add `people` (all but CAPACITY waitlisted), seconds to plan their mail, and
    how many mails the planning wrote."""
    text = SAMPLE.read_text(encoding="utf-8").replace('"2021-04-30 15:00"', '"2031-04-30 15:00"')
    text += f"\n[registration]\ncapacity = {CAPACITY}\n"
    path = folder / "webinar.toml"
    path.write_text(text, encoding="utf-8")
    with Store.open(folder / "bench.db") as store:
        webinar = store.save_webinar(load_definition(path), text, "local", NOW).record
        new = [
            NewRegistrant(
                webinar_id=webinar.id,
                person=Person(email=f"p{n:06d}@example.org", first_name="P"),
                status="approved",
                source="import",
            )
            for n in range(people)
        ]
        began = time.perf_counter()
        store.add_registrants(new, NOW)
        added = time.perf_counter() - began
        began = time.perf_counter()
        report = plan_webinar(store, store.webinar_by_id(webinar.id), NOW, "example.org")
        planned = time.perf_counter() - began
    return added, planned, report.created


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[2_000, 8_000, 20_000])
    args = parser.parse_args()
    print("| people | added | planned | mails written |")
    print("|---|---|---|---|")
    for size in args.sizes:
        with tempfile.TemporaryDirectory() as folder:
            added, planned, created = full_webinar(Path(folder), size)
        print(f"| {size:,} | {added:.2f} s | {planned:.2f} s | {created:,} |")


if __name__ == "__main__":
    main()
