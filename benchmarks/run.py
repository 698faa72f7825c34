"""Every benchmark, with one command; prints each figure, its target, and whether it is met.

    .venv/bin/python benchmarks/run.py [--quick]

Separate processes on loopback do the work: the service (`webinar-ops run`), an SMTP sink
(`smtp_sink.py`) and the local Zoom (`webinar-ops fake-zoom`). Ratios are measured inside one
run, against a floor taken in the same run, because the machine is shared and noisy; each
figure is the median of several runs. `--quick` makes everything smaller, to try the script.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import after_the_webinar
import reminders
import zoom_sync

REPO = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "webinar_ops"]


@dataclass
class Figure:
    name: str
    value: str
    target: str
    met: bool | None

    def row(self) -> str:
        verdict = "" if self.met is None else ("yes" if self.met else "NO")
        return f"| {self.name} | {self.value} | {self.target} | {verdict} |"


RELAY_DELAY = 0.05  # seconds before a far relay's replies to RCPT and to DATA's end (smtp_sink.py)


def wave_figures(folder: Path, people: int, runs: int, reply_delay: float = 0.0) -> list[Figure]:
    waves = [reminders.wave(folder / f"wave-{n}", people, reply_delay=reply_delay) for n in range(runs)]
    ratio = statistics.median(w.ratio for w in waves)
    seconds = statistics.median(w.seconds for w in waves)
    floor = statistics.median(w.floor for w in waves)
    where = f", relay replying after {reply_delay * 1000:.0f} ms" if reply_delay else ", loopback"
    figures = [
        Figure(f"wave of {people:,} reminders{where}, due time to last accepted", f"{seconds:.2f} s", "", None),
        Figure(f"floor: {people:,} ready-made messages by smtplib{where}", f"{floor:.2f} s", "", None),
        Figure(f"wave time ratio{where}", f"{ratio:.3f}", "≤ 1.25", ratio <= 1.25),
    ]
    if not reply_delay:
        figures.append(Figure("message size", f"{waves[0].message_bytes:,} bytes", "", None))
    return figures


def compose_figures(folder: Path, people: int) -> list[Figure]:
    seconds = reminders.compose_cost(folder / "compose", people)
    return [Figure("composing one reminder, as the wave does (`message_bytes`)", f"{seconds * 1000:.2f} ms", "", None)]


def lateness_figure(folder: Path, webinars: int, probes: int) -> Figure:
    late = reminders.lateness(folder / "lateness", webinars, probes)
    worst = max(late)
    value = f"{statistics.median(late):.2f} s median, {worst:.2f} s worst of {probes}"
    return Figure(f"lateness, {webinars:,} webinars × 3 reminders planned", value, "≤ 1 s", worst <= 1.0)


def memory_figures(folder: Path, small: int, large: int) -> list[Figure]:
    low = reminders.wave(folder / "memory-small", small, with_floor=False)
    high = reminders.wave(folder / "memory-large", large, with_floor=False)
    growth = (high.peak_rss_mb - low.peak_rss_mb) / low.peak_rss_mb
    return [
        Figure(
            f"peak RSS, {large:,}-registrant wave", f"{high.peak_rss_mb:.0f} MB", "≤ 150 MB", high.peak_rss_mb <= 150
        ),
        Figure(
            f"RSS growth {small:,} → {large:,}",
            f"{growth:+.0%} ({low.peak_rss_mb:.0f} → {high.peak_rss_mb:.0f} MB)",
            "≤ 20 %",
            growth <= 0.20,
        ),
        Figure(f"wave of {large:,}, due time to last accepted", f"{high.seconds:.1f} s", "", None),
    ]


def import_figure(folder: Path, rows: int, runs: int) -> Figure:
    def one(n: int) -> float:
        project = folder / f"import-{n}"
        project.mkdir(parents=True)
        env = {"WEBINAR_OPS_DB": str(project / "import.db"), "WEBINAR_OPS_SECRET_KEY": reminders.SECRET_KEY}
        path = reminders.write_definition(project, "import", reminders.FAR, [60])
        cli(["webinar", "add", str(path)], env, project)
        people = reminders.write_people(project, rows)
        began = time.perf_counter()
        cli(["registrants", "import", "import", str(people)], env, project)
        return time.perf_counter() - began

    seconds = statistics.median(one(n) for n in range(runs))
    return Figure(f"import of a {rows:,}-row CSV (`registrants import`)", f"{seconds:.2f} s", "≤ 10 s", seconds <= 10)


def cli_start_figure(runs: int) -> Figure:
    def one() -> float:
        began = time.perf_counter()
        subprocess.run([str(REPO / ".venv" / "bin" / "webinar-ops"), "--help"], check=True, capture_output=True)
        return time.perf_counter() - began

    seconds = statistics.median(one() for _ in range(runs))
    return Figure("`webinar-ops --help`, a new process", f"{seconds:.3f} s", "≤ 0.3 s", seconds <= 0.3)


def zoom_figure(folder: Path, people: int, runs: int) -> Figure:
    folder.mkdir(parents=True)
    results = [zoom_sync.one_run(folder, people, "pro") for _ in range(runs)]
    elapsed = statistics.median(r[0] for r in results)
    bound = results[0][1]
    ratio = elapsed / bound if bound else float("inf")
    value = f"{ratio:.3f} ({elapsed:.2f} s against {bound:.2f} s)"
    return Figure(f"Zoom sync of {people:,}, Pro limits, against the bound", value, "≤ 1.1", ratio <= 1.1)


def after_figures(folder: Path, quick: bool) -> list[Figure]:
    return [Figure(what, f"{seconds:.2f} s", "", None) for what, seconds in after_the_webinar.figures(folder, quick)]


def cli(args: list[str], env: dict[str, str], cwd: Path) -> None:
    import os

    base = {k: v for k, v in os.environ.items() if not k.startswith(("WEBINAR_OPS_", "SMTP_", "MAIL_", "ZOOM_"))}
    subprocess.run([*CLI, *args], env={**base, **env}, cwd=cwd, check=True, capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller numbers, to try the script")
    parser.add_argument("--only", nargs="+", metavar="STEP", help="run only these steps (by name)")
    args = parser.parse_args()
    q = args.quick
    steps: list[tuple[str, Callable[[Path], list[Figure] | Figure]]] = [
        ("CLI start", lambda f: cli_start_figure(7)),
        ("import", lambda f: import_figure(f, 10_000 if q else 100_000, 1 if q else 3)),
        ("compose", lambda f: compose_figures(f, 500 if q else 2_000)),
        ("wave", lambda f: wave_figures(f, 1_000 if q else 10_000, 1 if q else 3)),
        # A wave through a far relay is bound by its replies: 0.1 s a mail, so fewer mails.
        ("wave at relay latency", lambda f: wave_figures(f, 100 if q else 500, 1 if q else 3, RELAY_DELAY)),
        ("lateness", lambda f: lateness_figure(f, 50 if q else 1_000, 1 if q else 3)),
        ("memory", lambda f: memory_figures(f, 500 if q else 5_000, 5_000 if q else 50_000)),
        ("Zoom sync", lambda f: zoom_figure(f, 1_000 if q else 3_000, 1 if q else 3)),
        ("after the webinar", lambda f: after_figures(f, q)),
    ]
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory() as folder:
        for name, step in steps:
            if args.only and name.split()[0].lower() not in {o.lower() for o in args.only}:
                continue
            began = time.perf_counter()
            print(f"{name} …", file=sys.stderr, flush=True)
            found = step(Path(folder) / name.replace(" ", "-"))
            found = found if isinstance(found, list) else [found]
            figures += found
            for figure in found:
                print(f"  {figure.row()}", file=sys.stderr, flush=True)
            print(f"{name}: {time.perf_counter() - began:.0f} s", file=sys.stderr, flush=True)
    print(f"Measured {datetime.now(UTC):%Y-%m-%d} on {_machine()}")
    print("| figure | value | target | met |")
    print("|---|---|---|---|")
    for figure in figures:
        print(figure.row())


def _machine() -> str:
    import os
    import platform

    return f"{os.cpu_count()} cores, Python {platform.python_version()}"


if __name__ == "__main__":
    main()
