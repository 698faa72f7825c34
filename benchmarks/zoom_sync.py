"""Benchmark: a sync of 3,000 registrants with the zoom provider, at Pro limits.

The local Zoom runs as a separate process (`webinar-ops fake-zoom`), and the provider talks
to it over loopback exactly as it would to Zoom. The bound is the least time Zoom's per-second
limits allow for the requests the sync made: for each category, a burst of `rate` requests and
then `rate` a second; the slowest category sets it. The target is a ratio of at most 1.1.

A last run, not timed against the bound, switches the fake's faults on (5xx replies, dropped
connections, lost batch answers, writes applied then answered 5xx, and every token expiring
mid-sync) and checks that everyone is still registered exactly once.

    .venv/bin/python benchmarks/zoom_sync.py [--registrants 3000] [--runs 3] [--no-faults]
"""

from __future__ import annotations

import argparse
import csv
import math
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import requests

from webinar_ops.config import Settings
from webinar_ops.definition import load_definition
from webinar_ops.providers import load_provider
from webinar_ops.providers.zoom import ZoomSettings
from webinar_ops.providers.zoom.client import PLAN_RATES
from webinar_ops.registrants import apply_import, plan_import
from webinar_ops.store import Store
from webinar_ops.sync import sync_webinar

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "data" / "webinars" / "undesa-snu-session-5.toml"
TARGET = 1.1
FAULTS = {"seed": 4, "error_rate": 0.05, "drop_rate": 0.02, "lost_batch_rate": 0.05, "late_error_rate": 0.05}


def start_fake_zoom(plan: str) -> tuple[subprocess.Popen, dict[str, str]]:
    """The local Zoom in its own process, on a free port; returns it and its ZOOM_* settings."""
    process = subprocess.Popen(
        [sys.executable, "-m", "webinar_ops", "fake-zoom", "--port", "0", "--plan", plan],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    settings: dict[str, str] = {}
    while "ZOOM_PLAN" not in settings:
        line = process.stdout.readline()
        if not line:
            raise RuntimeError("the local Zoom did not start")
        key, _, value = line.strip().partition("=")
        settings[key] = value
    return process, settings


def bound(requests_made: Counter, plan: str) -> float:
    """The least time the plan's per-second limits allow for these requests."""
    rates = PLAN_RATES[plan]
    return max((max(0, math.ceil(n / rates[c]) - 1) for c, n in requests_made.items()), default=0)


def one_run(folder: Path, people: int, plan: str, faults: bool = False) -> tuple[float, float, int, dict]:
    process, zoom = start_fake_zoom(plan)
    admin = zoom["ZOOM_API_BASE_URL"].removesuffix("/v2") + "/_fake"
    try:
        settings = Settings(
            db_path=folder / "bench.db",
            provider="zoom",
            secret_key="benchmark-secret-key-0123456789abcdef",
        ).with_plugin(
            ZoomSettings(
                account_id=zoom["ZOOM_ACCOUNT_ID"],
                client_id=zoom["ZOOM_CLIENT_ID"],
                client_secret=zoom["ZOOM_CLIENT_SECRET"],
                api_base_url=zoom["ZOOM_API_BASE_URL"],
                oauth_url=zoom["ZOOM_OAUTH_URL"],
                plan=plan,
            )
        )
        with Store.open(settings.db_path) as store:
            webinar = add_webinar(store, folder)
            apply_import(store, webinar, plan_import(store, webinar, write_people(folder, people)), datetime.now(UTC))
            provider = load_provider("zoom", settings, store)
            progress = None
            if faults:
                requests.post(f"{admin}/faults", json=FAULTS, timeout=10).raise_for_status()
                progress = expire_tokens_now_and_then(admin)
            started = time.perf_counter()
            report = sync_webinar(store, provider, webinar, datetime.now(UTC), progress)
            elapsed = time.perf_counter() - started
        state = requests.get(f"{admin}/state", timeout=10).json()
        counters = state["counters"]
        twice = sum(n > 1 for by_address in counters["newly_registered"].values() for n in by_address.values())
        held = sum(len(w.get("registrants", [])) for w in state["webinars"]) if faults else people
        if report.failed or report.registered != people or twice or counters["throttled"] or held != people:
            raise RuntimeError(f"the sync went wrong: {report}, {counters['throttled']}, {twice} registered twice")
        # What a first sync must ask: one create, three listings (one per status), the batches.
        made = Counter(heavy=math.ceil(people / 30), medium=3, light=1)
        return elapsed, bound(made, plan), counters["requests"], counters.get("faults_injected", {})
    finally:
        process.terminate()
        process.wait(timeout=10)
        for leftover in folder.glob("bench.db*"):
            leftover.unlink()


def expire_tokens_now_and_then(admin: str):
    """A progress callback that makes every access token expire after each batch."""

    def expire(done: int, total: int) -> None:
        if done < total:
            requests.post(f"{admin}/expire-tokens", timeout=10).raise_for_status()

    return expire


def add_webinar(store: Store, folder: Path):
    text = SAMPLE.read_text(encoding="utf-8").replace('start = "2021-04-30 15:00"', 'start = "2031-04-30 15:00"')
    path = folder / "webinar.toml"
    path.write_text(text, encoding="utf-8")
    return store.save_webinar(load_definition(path), text, "zoom", datetime.now(UTC)).record


def write_people(folder: Path, people: int) -> Path:
    path = folder / "people.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["email", "first_name", "last_name"])
        writer.writerows([f"person{i}@example.org", f"Person{i}", "Benchmark"] for i in range(people))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--registrants", type=int, default=3000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--plan", default="pro", choices=sorted(PLAN_RATES))
    parser.add_argument("--no-faults", dest="faults", action="store_false", help="skip the run with faults on")
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as folder:
        for _ in range(args.runs):
            results.append(one_run(Path(folder), args.registrants, args.plan))
        faulted = one_run(Path(folder), args.registrants, args.plan, faults=True) if args.faults else None
    times = [elapsed for elapsed, _, _, _ in results]
    limit = results[0][1]
    median = statistics.median(times)
    print(
        f"Zoom sync: {args.registrants} registrants, plan {args.plan}, {results[0][2]} API requests a run, "
        f"{args.runs} runs; no 429s, nobody registered twice"
    )
    print(f"{'figure':<28}{'value':>10}{'target':>10}  met")
    print(f"{'time (median), s':<28}{median:>10.2f}")
    print(f"{'bound from rate limits, s':<28}{limit:>10.2f}")
    ratio = median / limit if limit else float("inf")
    print(f"{'ratio':<28}{ratio:>10.3f}{TARGET:>10.2f}  {'yes' if ratio <= TARGET else 'NO'}")
    if faulted:
        elapsed, _, made, injected = faulted
        struck = ", ".join(f"{n} {kind}" for kind, n in sorted(injected.items())) or "none"
        print(
            f"with faults on ({struck}, tokens expired after every batch): {elapsed:.2f} s, "
            f"{made} requests, all {args.registrants} registered exactly once, no 429s"
        )


if __name__ == "__main__":
    main()
