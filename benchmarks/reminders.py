"""Benchmarks of reminder waves: the wave against its floor, lateness, and memory.

Each measurement builds a fresh database in a temporary folder with the library (the sample
webinar, registrants imported and registered with the `local` provider, the outbox planned),
makes the reminders fall due a few seconds ahead, and starts the real service
(`python -m webinar_ops run`) and an SMTP sink (`smtp_sink.py`) as separate processes on
loopback. Times are the sink's wall clock, on the same machine.
"""

from __future__ import annotations

import csv
import json
import smtplib
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from webinar_ops import times
from webinar_ops.config import Settings
from webinar_ops.definition import load_definition
from webinar_ops.demo import demo_definition
from webinar_ops.mail.compose import Composer
from webinar_ops.mail.outbox import Delivery
from webinar_ops.plan import plan_webinar
from webinar_ops.providers import load_provider
from webinar_ops.registrants import apply_import, plan_import
from webinar_ops.store import Store
from webinar_ops.sync import sync_webinar
from webinar_ops.transports.smtp import SmtpSettings

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "data" / "webinars" / "undesa-snu-session-5.toml"
SINK = Path(__file__).with_name("smtp_sink.py")
SECRET_KEY = "benchmark-secret-key-0123456789abcdef"
ZONES = ["Europe/Paris", "Asia/Seoul", "America/New_York", "Africa/Accra", "America/Santiago", "Asia/Kolkata"]
THREE = [60, 24 * 60, 7 * 24 * 60]  # minutes: an hour, a day and a week before
FAR = datetime.now(UTC) + timedelta(days=30)
SAMPLE_TEXT = SAMPLE.read_text(encoding="utf-8")
SAMPLE_DEFINITION = load_definition(SAMPLE)
LEAD = 6.0  # seconds between starting the service and the due time


@dataclass
class Sink:
    """The sink process and the stats file it keeps."""

    process: subprocess.Popen
    port: int
    stats_path: Path

    def stats(self) -> dict:
        try:
            return json.loads(self.stats_path.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return {"messages": 0, "bytes": 0, "first_at": None, "last_at": None, "arrivals": []}

    def wait_for(self, messages: int, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            stats = self.stats()
            if stats["messages"] >= messages:
                time.sleep(0.15)  # one more write of the stats file
                return self.stats()
            time.sleep(0.05)
        raise RuntimeError(f"the sink got {self.stats()['messages']} of {messages} messages in {timeout:.0f} s")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def start_sink(folder: Path, name: str = "sink", reply_delay: float = 0.0) -> Sink:
    """The SMTP sink in its own process, on a free port, waiting `reply_delay` seconds before
    its replies to RCPT and to the end of DATA (see smtp_sink.py)."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    stats = folder / f"{name}.json"
    stats.unlink(missing_ok=True)
    process = subprocess.Popen(
        [sys.executable, str(SINK), "--port", str(port), "--stats", str(stats), "--reply-delay", str(reply_delay)],
        stdout=subprocess.PIPE,
        text=True,
    )
    if process.stdout.readline().strip() != "ready":
        raise RuntimeError("the SMTP sink did not start")
    return Sink(process, port, stats)


def settings_for(folder: Path, sink: Sink) -> Settings:
    return Settings(
        db_path=folder / "bench.db",
        secret_key=SECRET_KEY,
        mail_transport="smtp",
    ).with_plugin(SmtpSettings(host="127.0.0.1", port=sink.port, security="none"))


def service_env(settings: Settings) -> dict[str, str]:
    import os

    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("WEBINAR_OPS_", "SMTP_", "MAIL_", "ZOOM_"))},
        "WEBINAR_OPS_DB": str(settings.db_path),
        "WEBINAR_OPS_SECRET_KEY": SECRET_KEY,
        "MAIL_TRANSPORT": "smtp",
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(settings.of(SmtpSettings).port),
        "SMTP_SECURITY": "none",
    }


def write_definition(folder: Path, slug: str, start: datetime, offsets: list[int]) -> Path:
    """The sample webinar as `slug`, moved (agenda and all) to start at `start`, with
    reminders `offsets` minutes before, as the demo moves it."""
    wall = times.in_zone(start, SAMPLE_DEFINITION.time_zone).replace(tzinfo=None)
    path = folder / f"{slug}.toml"
    path.write_text(demo_definition(SAMPLE_TEXT, slug, wall, sorted(offsets, reverse=True)), encoding="utf-8")
    return path


def write_people(folder: Path, count: int, name: str = "people.csv") -> Path:
    path = folder / name
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["email", "first_name", "last_name", "organisation", "time_zone"])
        for i in range(count):
            writer.writerow(
                [f"participant{i:06d}@example.org", f"Participant{i}", "Benchmark", "Ministry", ZONES[i % len(ZONES)]]
            )
    return path


def save(store: Store, folder: Path, slug: str, start: datetime, offsets: list[int]):
    path = write_definition(folder, slug, start, offsets)
    return store.save_webinar(load_definition(path), path.read_text(encoding="utf-8"), "local", datetime.now(UTC))


def add_webinar(
    store: Store, settings: Settings, folder: Path, slug: str, start: datetime, people: int, offsets: list[int]
) -> None:
    """A webinar with `people` registrants, registered and planned, as the command line would."""
    now = datetime.now(UTC)
    webinar = save(store, folder, slug, start, offsets).record
    if people:
        csv_path = write_people(folder, people, f"{slug}.csv")
        apply_import(store, webinar, plan_import(store, webinar, csv_path), now)
    sync_webinar(store, load_provider("local", settings, store), webinar, now)
    plan_webinar(store, store.webinar(slug), now, settings.mail_domain)


def set_aside_confirmations(store: Store) -> None:
    """Only reminders are measured: the confirmations planned at registration are skipped."""
    with store.transaction() as db:
        db.execute("UPDATE deliveries SET state = 'skipped', reason = 'benchmark' WHERE kind = 'confirmation'")


def move_to(store: Store, settings: Settings, folder: Path, slug: str, due: datetime, offsets: list[int]) -> None:
    """Move the webinar so that its first reminder falls due at `due` (`webinar add` with a
    new start: the pending reminders move with it)."""
    save(store, folder, slug, due + timedelta(minutes=offsets[0]), offsets)
    plan_webinar(store, store.webinar(slug), datetime.now(UTC), settings.mail_domain)


def next_minute(lead: float = LEAD) -> datetime:
    """The first whole minute at least `lead` seconds ahead (a start has whole minutes)."""
    moment = datetime.now(UTC) + timedelta(seconds=lead + 60)
    return moment.replace(second=0, microsecond=0)


def start_service(settings: Settings, folder: Path) -> subprocess.Popen:
    log = (folder / "service.log").open("ab")
    return subprocess.Popen(
        [sys.executable, "-m", "webinar_ops", "run"],
        cwd=folder,
        env=service_env(settings),
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident set size (VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc")


def stop_service(process: subprocess.Popen) -> None:
    process.terminate()
    process.wait(timeout=60)


@dataclass
class Wave:
    people: int
    seconds: float  # from the due time to the last message accepted
    floor: float  # the same messages, ready-made, through plain smtplib
    peak_rss_mb: float
    message_bytes: int

    @property
    def ratio(self) -> float:
        return self.seconds / self.floor


def wave(folder: Path, people: int, with_floor: bool = True, reply_delay: float = 0.0) -> Wave:
    """One wave of `people` reminders through the service, and (optionally) its floor, to a
    sink that waits `reply_delay` seconds before its replies to RCPT and to the end of DATA."""
    folder.mkdir(parents=True, exist_ok=True)
    sink = start_sink(folder, reply_delay=reply_delay)
    try:
        settings = settings_for(folder, sink)
        with Store.open(settings.db_path) as store:
            add_webinar(store, settings, folder, "wave", FAR, people, [60])
            set_aside_confirmations(store)
            due = next_minute()
            move_to(store, settings, folder, "wave", due, [60])
            pending = store.db.execute("SELECT count(*) FROM deliveries WHERE state = 'pending'").fetchone()[0]
            if pending != people:
                raise RuntimeError(f"the outbox holds {pending} pending mails, not one reminder per person")
        service = start_service(settings, folder)
        try:
            stats = sink.wait_for(people, timeout=max(120, people * (0.05 + 3 * reply_delay)))
            rss = peak_rss_mb(service.pid)
        finally:
            stop_service(service)
        seconds = stats["last_at"] - due.timestamp()
        size = stats["bytes"] // people
        floor = smtp_floor(settings, sink, ready_made(settings)) if with_floor else float("nan")
        return Wave(people, seconds, floor, rss, size)
    finally:
        sink.stop()
        for leftover in folder.glob("bench.db*"):
            leftover.unlink()


def ready_made(settings: Settings) -> list[tuple[str, bytes]]:
    """Every reminder of the wave, composed before any timing starts."""
    with Store.open(settings.db_path) as store:
        webinar = store.webinar("wave")
        composer = Composer(webinar, settings)
        registrants = {r.id: r for r in store.registrants(webinar.id)}
        rows = store.db.execute("SELECT * FROM deliveries WHERE kind != 'confirmation' ORDER BY id").fetchall()
        columns = [c[0] for c in store.db.execute("SELECT * FROM deliveries LIMIT 0").description]
        now = datetime.now(UTC)
        messages = []
        for values in rows:
            delivery = Delivery.from_row(dict(zip(columns, values, strict=True)))
            registrant = registrants[delivery.registrant_id]
            messages.append((registrant.email, composer.message_bytes(delivery, registrant, now)))
        return messages


def compose_cost(folder: Path, people: int) -> float:
    """Seconds per reminder to compose `people` reminders as the wave does
    (`Composer.message_bytes`), after one to warm up."""
    folder.mkdir(parents=True, exist_ok=True)
    settings = Settings(db_path=folder / "bench.db", secret_key=SECRET_KEY)
    with Store.open(settings.db_path) as store:
        add_webinar(store, settings, folder, "wave", FAR, people, [60])
        webinar = store.webinar("wave")
        registrants = {r.id: r for r in store.registrants(webinar.id)}
        rows = store.db.query("SELECT * FROM deliveries WHERE kind != 'confirmation' ORDER BY id")
        deliveries = [Delivery.from_row(row) for row in rows]
    now = datetime.now(UTC)
    composer = Composer(webinar, settings)
    mails = [(delivery, registrants[delivery.registrant_id]) for delivery in deliveries]
    composer.message_bytes(*mails[0], now)
    began = time.perf_counter()
    for row, person in mails:
        composer.message_bytes(row, person, now)
    return (time.perf_counter() - began) / len(mails)


def smtp_floor(settings: Settings, sink: Sink, messages: list[tuple[str, bytes]]) -> float:
    """Seconds for plain smtplib to push these ready-made messages over one connection."""
    before = sink.stats()["messages"]
    began = time.time()
    smtp = settings.of(SmtpSettings)
    with smtplib.SMTP(smtp.host, smtp.port) as connection:
        for recipient, data in messages:
            connection.sendmail(settings.sender[1], [recipient], data)
    stats = sink.wait_for(before + len(messages), timeout=600)
    return stats["last_at"] - began


def lateness(folder: Path, webinars: int = 1000, probes: int = 3) -> list[float]:
    """Seconds from a reminder's due time to its acceptance by the sink, with `webinars` ×
    3 reminders planned. Before the service starts, `probes` webinars are moved so that
    their first reminder falls due a minute apart; the rest lie days ahead."""
    folder.mkdir(parents=True, exist_ok=True)
    sink = start_sink(folder, "lateness-sink")
    try:
        settings = settings_for(folder, sink)
        with Store.open(settings.db_path) as store:
            for n in range(webinars):
                add_webinar(store, settings, folder, f"w{n:04d}", FAR + timedelta(days=n), 1, THREE)
            set_aside_confirmations(store)
            planned = store.db.execute("SELECT count(*) FROM deliveries WHERE state = 'pending'").fetchone()[0]
            if planned != 3 * webinars:
                raise RuntimeError(f"{planned} reminders planned, not {3 * webinars}")
            first = next_minute()
            dues = [first + timedelta(minutes=n) for n in range(probes)]
            for n, due in enumerate(dues):
                move_to(store, settings, folder, f"w{n:04d}", due, THREE)
        service = start_service(settings, folder)
        try:
            stats = sink.wait_for(probes, timeout=60 * (probes + 2))
        finally:
            stop_service(service)
        return [arrived - due.timestamp() for arrived, due in zip(stats["arrivals"], dues, strict=True)]
    finally:
        sink.stop()
