"""Processes racing on one SQLite file: registrations and cancellations at once never seat
more people than the capacity, never leave a seat free while someone waits, never seat
anyone before someone who queued earlier, and lose nobody.

Each racer is an OS process of its own (tests/waitlist_racer.py) with its own connection,
going through the same library calls as `registrants add` and `registrants cancel`; an
observer process checks every snapshot it can take while they run.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from conftest import NOW, SAMPLE_SLUG, definition_variant
from waitlist_racer import check

from webinar_ops.definition import load_definition
from webinar_ops.store import Store

CAPACITY = 20
REGISTRARS, PEOPLE_EACH = 4, 25
CANCELLERS, CANCELS_EACH = 2, 25
RACER = Path(__file__).with_name("waitlist_racer.py")


def start(*args: object) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(RACER), *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def outcome(process: subprocess.Popen) -> dict:
    out, err = process.communicate(timeout=180)
    assert process.returncode == 0, err
    return json.loads(out)


def test_racing_registrations_and_cancellations_keep_the_capacity_and_the_queue(workdir: Path):
    db = workdir / "data" / "race.db"
    path = definition_variant(workdir, {"[schedule]": f"[registration]\ncapacity = {CAPACITY}\n\n[schedule]"})
    with Store.open(db) as store:
        webinar = store.save_webinar(load_definition(path), path.read_text(encoding="utf-8"), "local", NOW).record
    go, stop = workdir / "go", workdir / "stop"

    observer = start("observe", db, SAMPLE_SLUG, CAPACITY, go, stop)
    registrars = [start("register", db, SAMPLE_SLUG, f"r{n}-", PEOPLE_EACH, n, go) for n in range(REGISTRARS)]
    cancellers = [start("cancel", db, SAMPLE_SLUG, CANCELS_EACH, 100 + n, go, n, CANCELLERS) for n in range(CANCELLERS)]
    time.sleep(2)  # every process has imported the package and opened the database
    go.touch()
    registered = [outcome(p) for p in registrars]
    cancelled = [outcome(p) for p in cancellers]
    stop.touch()
    seen = outcome(observer)

    # They did race: every canceller worked while registrations were still coming in.
    last_registration = max(r["ended"] for r in registered)
    assert all(c["started"] < last_registration for c in cancelled)
    assert seen["snapshots"] > 50
    assert seen["with_a_queue"] > 0
    assert seen["violations"] == []
    assert seen["most_approved"] == CAPACITY

    with Store.open(db) as store:
        rows = {row.email: row for row in store.registrants(webinar.id)}
        queue = [row.email for row in store.waitlist(webinar.id)]
        final = list(store.db.query("SELECT email, status, waitlist_order, approved_at FROM registrants"))
    everyone = {email for r in registered for email in r["added"]}
    gone = {email for c in cancelled for email in c["cancelled"]}
    assert set(rows) == everyone, "nobody lost, nobody invented"
    assert len(everyone) == REGISTRARS * PEOPLE_EACH
    assert {email for email, row in rows.items() if row.status == "cancelled"} == gone
    assert len(gone) == CANCELLERS * CANCELS_EACH
    approved = [email for email, row in rows.items() if row.status == "approved"]
    assert len(approved) == CAPACITY, "every seat taken while people wait"
    assert len(queue) == len(everyone) - len(gone) - CAPACITY
    assert {row.status for row in rows.values()} == {"approved", "waitlisted", "cancelled"}
    assert check(final, CAPACITY) == []
    promoted = [row for row in rows.values() if row.waitlist_order is not None and row.approved_at]
    assert promoted, "some people waited and then got a seat"
