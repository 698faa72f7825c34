"""One racer of tests/test_waitlist_race.py, in a process of its own, on a shared SQLite file.

    python waitlist_racer.py register DB SLUG PREFIX COUNT SEED GO
    python waitlist_racer.py cancel DB SLUG COUNT SEED GO SHARE SHARES
    python waitlist_racer.py observe DB SLUG CAPACITY GO STOP

Each waits for the file GO to exist, so that all start together, then prints one JSON
document: what it did, or (the observer) what it saw of the seats at every snapshot it took.
"""

from __future__ import annotations

import json
import random
import sys
import time
from pathlib import Path

from webinar_ops.registrants import add_person, cancel_person
from webinar_ops.store import Store
from webinar_ops.times import utc_now


def wait_for(go: Path) -> None:
    while not go.exists():
        time.sleep(0.005)


def register(db: str, slug: str, prefix: str, count: int, seed: int, go: Path) -> dict:
    """Register `count` people one by one, each with the real `registrants add` path."""
    rng = random.Random(seed)
    added = []
    with Store.open(db) as store:
        webinar = store.webinar(slug)
        wait_for(go)
        started = time.time()
        for i in range(count):
            email, _ = add_person(
                store, webinar, {"email": f"{prefix}{i}@example.org", "first_name": "Racer"}, utc_now()
            )
            added.append(email)
            time.sleep(rng.uniform(0, 0.004))
    return {"added": added, "started": started, "ended": time.time()}


def cancel(db: str, slug: str, count: int, seed: int, go: Path, share: int, shares: int) -> dict:
    """Cancel `count` approved people, picked at random among those approved at the time
    whose id is `share` modulo `shares`: two cancellers never pick the same person."""
    rng = random.Random(seed)
    cancelled = []
    with Store.open(db) as store:
        webinar = store.webinar(slug)
        wait_for(go)
        started = time.time()
        deadline = started + 60
        while len(cancelled) < count and time.time() < deadline:
            seated = store.registrants(webinar.id, "status = 'approved' AND id % ? = ?", [shares, share])
            if not seated:
                time.sleep(0.002)
                continue
            row = cancel_person(store, webinar, rng.choice(seated).email, utc_now())
            cancelled.append(row.email)
            time.sleep(rng.uniform(0, 0.004))
    return {"cancelled": cancelled, "started": started, "ended": time.time()}


def observe(db: str, slug: str, capacity: int, go: Path, stop: Path) -> dict:
    """Take snapshots of every registrant until STOP exists; check the seat rule in each."""
    snapshots, busiest, queued, violations = 0, 0, 0, []
    with Store.open(db) as store:
        webinar = store.webinar(slug)
        wait_for(go)
        sql = "SELECT email, status, waitlist_order, approved_at FROM registrants WHERE webinar_id = ?"
        while not stop.exists():
            rows = list(store.db.query(sql, [webinar.id]))  # one statement: one consistent snapshot
            snapshots += 1
            violations += check(rows, capacity)
            approved = sum(row["status"] == "approved" for row in rows)
            busiest = max(busiest, approved)
            queued += any(row["status"] == "waitlisted" for row in rows)
    return {"snapshots": snapshots, "most_approved": busiest, "with_a_queue": queued, "violations": violations[:20]}


def check(rows: list[dict], capacity: int) -> list[str]:
    """What is wrong with one snapshot: more approved than seats, a free seat while someone
    waits, or someone seated from the queue while someone who queued before them still waits."""
    problems = []
    approved = sum(row["status"] == "approved" for row in rows)
    waiting = [row["waitlist_order"] for row in rows if row["status"] == "waitlisted"]
    promoted = [row["waitlist_order"] for row in rows if row["waitlist_order"] is not None and row["approved_at"]]
    if approved > capacity:
        problems.append(f"{approved} approved for {capacity} seats")
    if waiting and approved < capacity:
        problems.append(f"{len(waiting)} waiting while {capacity - approved} seats were free")
    if waiting and promoted and max(promoted) > min(waiting):
        problems.append(f"number {max(promoted)} of the queue was seated while number {min(waiting)} waited")
    return problems


def main(role: str, *args: str) -> None:
    if role == "register":
        db, slug, prefix, count, seed, go = args
        result = register(db, slug, prefix, int(count), int(seed), Path(go))
    elif role == "cancel":
        db, slug, count, seed, go, share, shares = args
        result = cancel(db, slug, int(count), int(seed), Path(go), int(share), int(shares))
    else:
        db, slug, capacity, go, stop = args
        result = observe(db, slug, int(capacity), Path(go), Path(stop))
    print(json.dumps(result))


if __name__ == "__main__":
    main(*sys.argv[1:])
