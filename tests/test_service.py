"""The background service with real processes, real sockets and real SQLite files.

Every test here runs `python -m webinar_ops run` (or `run --once`, or `demo`) as a separate
process and, except the demo, sends to the SMTP sink of tests/sink.py, itself a separate
process that records each accepted message with its arrival time in its own SQLite file.
The wall clock is real: due times are set a few seconds ahead and lateness is measured from
the sink's own arrival timestamps.
"""

from __future__ import annotations

import contextlib
import csv
import email
import math
import os
import random
import select
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email import policy
from pathlib import Path

import pytest
from conftest import SAMPLE_CSV, TEST_SECRET_KEY, definition_variant

from webinar_ops import times
from webinar_ops.config import Settings, known_keys
from webinar_ops.plan import plan_manual
from webinar_ops.store import Store

KEYS = known_keys()  # every key webinar-ops reads, its plugins' too

TESTS = Path(__file__).resolve().parent
SINK = TESTS / "sink.py"
RESCAN_SECONDS = 5  # Service.rescan_every
KWAME = "kwame.mensah@example.org"
BASE_ENV = {k: v for k, v in os.environ.items() if k not in KEYS}


# -- helpers -------------------------------------------------------------------------------


def wait_until(condition: Callable[[], object], timeout: float, what: str, logs: Callable[[], str] = str) -> object:
    """Poll `condition` until it is true; fail saying `what` did not happen (with the logs)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}\n{logs()}")
        time.sleep(0.02)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def connect(path: Path) -> sqlite3.Connection:
    """A reading connection in autocommit mode: every query sees the latest commits."""
    db = sqlite3.connect(path, timeout=30, isolation_level=None)
    db.execute("PRAGMA busy_timeout = 30000")
    return db


class Sink:
    """The SMTP sink process and what it has recorded."""

    def __init__(self, process: subprocess.Popen, port: int, db_path: Path):
        self.process, self.port, self.db_path = process, port, db_path
        self._db: sqlite3.Connection | None = None

    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            self._db = connect(self.db_path)
        return self._db

    def count(self) -> int:
        return self.db.execute("SELECT count(*) FROM messages").fetchone()[0]

    def pairs(self) -> Counter:
        """How many times each (recipient, Message-ID) arrived."""
        return Counter(self.db.execute("SELECT recipient, message_id FROM messages").fetchall())

    def arrivals(self, message_id: str) -> list[float]:
        rows = self.db.execute("SELECT arrived_at FROM messages WHERE message_id = ? ORDER BY id", [message_id])
        return [row[0] for row in rows]

    def close(self) -> None:
        if self._db is not None:
            self._db.close()


class Processes:
    """Every process a test starts, so that none outlives it."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.started: list[tuple[subprocess.Popen, Path]] = []

    def start(
        self, args: list[str], name: str, env: dict[str, str], cwd: Path, stdout: int | None = None
    ) -> subprocess.Popen:
        """Start a process; its output goes to NAME.log (only stderr, if `stdout` is given)."""
        log = self.folder / f"{name}.log"
        with log.open("ab") as handle:
            out, err = (handle, subprocess.STDOUT) if stdout is None else (stdout, handle)
            process = subprocess.Popen(args, cwd=cwd, env=env, stdout=out, stderr=err)
        self.started.append((process, log))
        return process

    def logs(self) -> str:
        parts = []
        for process, log in self.started:
            text = log.read_text(errors="replace") if log.exists() else ""
            parts.append(f"--- {log.name} (pid {process.pid}, exit {process.poll()}) ---\n{text[-4000:]}")
        return "\n".join(parts)

    def cleanup(self) -> None:
        for process, _ in self.started:
            if process.poll() is None:
                process.kill()
        for process, _ in self.started:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=30)
            if process.stdout:
                process.stdout.close()


@pytest.fixture
def processes(tmp_path: Path):
    keeper = Processes(tmp_path)
    yield keeper
    keeper.cleanup()


def start_sink(processes: Processes, folder: Path, name: str = "sink", delay: float = 0.0) -> Sink:
    db_path = folder / f"{name}.db"
    for attempt in range(3):
        port = free_port()
        process = processes.start(
            [sys.executable, str(SINK), "--port", str(port), "--db", str(db_path), "--delay", str(delay)],
            f"{name}-{attempt}",
            BASE_ENV,
            folder,
            stdout=subprocess.PIPE,
        )
        deadline = time.monotonic() + 60
        line = b""
        while time.monotonic() < deadline and process.poll() is None:
            ready, _, _ = select.select([process.stdout], [], [], 0.5)
            if ready:
                line = process.stdout.readline()
                break
        if line.strip() == b"ready":
            return Sink(process, port, db_path)
        process.kill()
        process.wait(timeout=30)  # most likely the port was taken meanwhile: try another
    pytest.fail(f"the SMTP sink did not start\n{processes.logs()}")


@pytest.fixture
def sink(processes: Processes, tmp_path: Path):
    sink = start_sink(processes, tmp_path)
    yield sink
    sink.close()
    if sink.process.poll() is None:
        sink.process.terminate()
        try:
            sink.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            sink.process.kill()


@pytest.fixture
def mail_env(settings: Settings, sink: Sink) -> dict[str, str]:
    """The environment of every webinar-ops process: the test database, mail to the sink."""
    return {
        "WEBINAR_OPS_DB": str(settings.db_path),
        "WEBINAR_OPS_SECRET_KEY": TEST_SECRET_KEY,
        "MAIL_TRANSPORT": "smtp",
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(sink.port),
        "SMTP_SECURITY": "none",
        "SMTP_TIMEOUT": "30",
        "PYTHONUNBUFFERED": "1",
    }


@pytest.fixture
def start_service(processes: Processes, workdir: Path, mail_env: dict[str, str]):
    """Start `webinar-ops run` as its own process; it is killed at the end if still running."""
    names = iter(range(1000))

    def start(*extra: str, env: dict[str, str] | None = None) -> subprocess.Popen:
        return processes.start(
            [sys.executable, "-m", "webinar_ops", "run", *extra],
            f"service-{next(names)}",
            {**BASE_ENV, **mail_env, **(env or {})},
            workdir,
        )

    return start


def stop(process: subprocess.Popen, timeout: float = 30) -> tuple[int, float]:
    """SIGTERM the process; return its exit code and how long it took to exit."""
    began = time.monotonic()
    process.send_signal(signal.SIGTERM)
    code = process.wait(timeout=timeout)
    return code, time.monotonic() - began


def query(db_path: Path, sql: str) -> list[tuple]:
    db = connect(db_path)
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


def states(db_path: Path) -> Counter:
    return Counter(dict(query(db_path, "SELECT state, count(*) FROM deliveries GROUP BY state")))


def expected_pairs(db_path: Path, where: str = "1") -> set[tuple[str, str]]:
    """Every (recipient, Message-ID) the outbox holds (those matching `where`)."""
    db = connect(db_path)
    try:
        sql = "SELECT r.email, d.message_id FROM deliveries d JOIN registrants r ON r.id = d.registrant_id"
        return set(db.execute(f"{sql} WHERE {where}").fetchall())
    finally:
        db.close()


def future_definition(folder: Path, slug: str, offsets: str = '["1d", "1h"]') -> Path:
    """The sample moved to 15:00 Seoul time three days from now, with reminders 1 day and
    1 hour before (or `offsets`): only the confirmations are due now."""
    day = (datetime.now(UTC) + timedelta(days=3)).date()
    return definition_variant(
        folder,
        {
            'slug = "undesa-snu-session-5"': f'slug = "{slug}"',
            'start = "2021-04-30 15:00"': f'start = "{day:%Y-%m-%d} 15:00"',
            'offsets = ["7d", "1d", "1h"]': f"offsets = {offsets}",
        },
        name=f"{slug}.toml",
    )


def people_csv(folder: Path, count: int) -> Path:
    path = folder / f"people-{count}.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["email", "first_name", "last_name", "time_zone"])
        zones = ["Europe/Paris", "Asia/Seoul", "America/New_York", "Africa/Accra"]
        for i in range(count):
            writer.writerow([f"person{i:05d}@example.org", f"Person{i}", "Tester", zones[i % len(zones)]])
    return path


def set_up_webinar(run, env: dict[str, str], workdir: Path, slug: str, registrants: Path, **variant: str) -> None:
    """Add the webinar, import the registrants and register them with the local provider,
    each with the real command line (each step plans the outbox)."""
    for args in (
        ("webinar", "add", future_definition(workdir, slug, **variant)),
        ("registrants", "import", slug, registrants),
        ("sync", slug),
    ):
        ran = run(*args, env=env)
        assert ran.code == 0, f"{args}: {ran.stdout}\n{ran.stderr}"


def add_manual_sends(store: Store, settings: Settings, slug: str, templates: tuple[str, ...]) -> None:
    """More mails due now for everyone: manual sends, each a kind of its own."""
    for template in templates:
        plan_manual(store, store.webinar(slug), template, times.utc_now(), settings.mail_domain)
        time.sleep(0.002)  # the kinds carry the time of the request


@pytest.fixture
def wave(run, mail_env, workdir: Path, store: Store, settings: Settings):
    """A webinar with `people` registrants and `1 + len(extra)` mails each, all due now (no
    reminders: every row of the outbox is due now)."""

    def make(people: int, extra: tuple[str, ...] = ()) -> int:
        set_up_webinar(run, mail_env, workdir, "load-test", people_csv(workdir, people), offsets="[]")
        add_manual_sends(store, settings, "load-test", extra)
        counts = states(settings.db_path)
        assert counts == {"pending": people * (1 + len(extra))}, counts
        return counts["pending"]

    return make


# -- 1. on time ------------------------------------------------------------------------------


def test_mail_leaves_within_a_second_of_its_due_time(
    run, mail_env, workdir, settings, store, sink, start_service, processes
):
    slug = "on-time"
    set_up_webinar(run, mail_env, workdir, slug, SAMPLE_CSV)
    webinar = store.webinar(slug)
    kwame = store.registrant(webinar.id, KWAME)
    (target,) = store.db.query(
        "SELECT id, message_id FROM deliveries WHERE registrant_id = ? AND kind = 'confirmation'", [kwame.id]
    )
    # Kwame's confirmation falls due a few seconds after the service starts; the other 14
    # are due now. (A confirmation, because planning moves a reminder back to its offset.)
    due = math.ceil(time.time()) + 6
    due_text = times.iso_utc(datetime.fromtimestamp(due, UTC))
    store.write("UPDATE deliveries SET due_at = ?, send_after = ? WHERE id = ?", [due_text, due_text, target["id"]])
    launched = time.time()
    service = start_service()

    wait_until(lambda: sink.arrivals(target["message_id"]), 60, "Kwame's confirmation", processes.logs)
    (arrived,) = sink.arrivals(target["message_id"])
    others, first_wave = sink.db.execute(
        "SELECT count(*), max(arrived_at) FROM messages WHERE recipient != ?", [KWAME]
    ).fetchone()
    print(
        f"\nservice up and the 14 due-now confirmations out {first_wave - launched:.2f} s after launch; "
        f"the one due at +{due - launched:.2f} s arrived {arrived - due:+.3f} s after its due time"
    )
    assert others == 14
    assert first_wave < due, "the service took so long to start that the on-time measure is void"
    assert 0 <= arrived - due <= 1.0, f"arrived {arrived - due:+.3f} s after it fell due"

    # Planned by another process while the service runs, due a little later than its next
    # rescan: a manual reminder asked for a moment ahead (a manual send is due when asked for,
    # and planning never moves it).
    due = math.ceil(time.time()) + 2 * RESCAN_SECONDS + 2
    plan_manual(store, webinar, "reminder", datetime.fromtimestamp(due, UTC), settings.mail_domain, to=KWAME)
    (manual,) = store.db.query(
        "SELECT message_id, due_at FROM deliveries WHERE registrant_id = ? AND kind LIKE 'manual-reminder-%'",
        [kwame.id],
    )
    assert times.parse_iso_utc(manual["due_at"]).timestamp() == due
    wait_until(lambda: sink.arrivals(manual["message_id"]), 60, "the manual reminder", processes.logs)
    (arrived,) = sink.arrivals(manual["message_id"])
    print(f"a delivery planned meanwhile by another process arrived {arrived - due:+.3f} s after its due time")
    assert 0 <= arrived - due <= 1.0, f"arrived {arrived - due:+.3f} s after it fell due"

    # A new registrant added and synced with the command line gets a confirmation due now,
    # which the service notices at its next rescan.
    ran = run("registrants", "add", slug, "--email", "late.comer@example.org", "--first-name", "Late", env=mail_env)
    assert ran.code == 0, ran.stderr
    ran = run("sync", slug, env=mail_env)
    assert ran.code == 0, ran.stderr
    synced = time.time()
    (late,) = store.db.query(
        "SELECT d.message_id, d.due_at FROM deliveries d JOIN registrants r ON r.id = d.registrant_id "
        "WHERE r.email = 'late.comer@example.org' AND d.kind = 'confirmation'"
    )
    wait_until(lambda: sink.arrivals(late["message_id"]), 60, "the late registrant's confirmation", processes.logs)
    (arrived,) = sink.arrivals(late["message_id"])
    due = times.parse_iso_utc(late["due_at"]).timestamp()
    print(f"the confirmation planned by `webinar-ops sync` arrived {arrived - synced:.2f} s after the sync ended")
    assert arrived - due <= RESCAN_SECONDS + 2

    code, _ = stop(service)
    assert code == 0, processes.logs()
    assert sink.count() == 17
    assert max(sink.pairs().values()) == 1


# -- 2. kill -9 in the middle of a wave ------------------------------------------------------


def test_kill_9_mid_wave_loses_nothing_and_duplicates_at_most_one_per_kill(
    wave, settings, sink, start_service, processes
):
    total = wave(1000, extra=("reminder", "confirmation"))  # 3,000 mails due now
    expected = expected_pairs(settings.db_path)
    seed = random.randrange(1_000_000)
    rng = random.Random(seed)
    began = time.monotonic()

    service = start_service()
    kills = 0
    for _ in range(3):
        target = sink.count() + rng.randint(100, 600)
        wait_until(lambda t=target: sink.count() >= t, 120, f"{target} messages at the sink", processes.logs)
        time.sleep(rng.uniform(0, 0.02))  # anywhere in the sending of one message
        service.kill()
        service.wait(timeout=30)
        kills += 1
        service = start_service()

    def all_out() -> bool:
        left = states(settings.db_path)
        return left["sent"] == total

    wait_until(all_out, 180, "every delivery to be sent", lambda: f"{states(settings.db_path)}\n{processes.logs()}")
    code, _ = stop(service)
    elapsed = time.monotonic() - began

    arrived = sink.pairs()
    duplicates = sum(n - 1 for n in arrived.values())
    taken_back = processes.logs().count("took back")
    print(
        f"\nkill -9: {total} deliveries, {sink.count()} messages received, {kills} kills, "
        f"{duplicates} duplicates, {taken_back} restarts took back claimed rows, {elapsed:.1f} s (seed {seed})"
    )
    assert taken_back >= 1, "no kill caught the service holding a claim: the crash path was not exercised"
    assert code == 0
    assert states(settings.db_path) == {"sent": total}  # nothing left pending or sending
    assert set(arrived) == expected  # every recipient has every mail, and nothing else
    assert duplicates <= kills
    assert max(arrived.values()) <= 2


# -- 3. SIGTERM during a wave ----------------------------------------------------------------


def test_sigterm_finishes_the_message_in_flight_and_leaves_the_rest_pending(
    wave, settings, sink, start_service, processes
):
    total = wave(1000)
    service = start_service()
    wait_until(lambda: sink.count() >= 100, 120, "100 messages at the sink", processes.logs)

    code, took = stop(service)
    after_stop = states(settings.db_path)
    received = sink.count()
    print(f"\nSIGTERM: exited {code} after {took:.2f} s; {received} sent, {after_stop['pending']} left pending")
    assert code == 0, processes.logs()
    assert took < 5, f"took {took:.2f} s to stop"
    assert after_stop["sending"] == 0
    assert after_stop["sent"] == received  # the one in flight was finished and recorded
    assert after_stop["pending"] == total - received > 0
    assert set(after_stop) <= {"sent", "pending"}

    time.sleep(0.5)
    assert sink.count() == received, "mail went out after the service had stopped"

    restarted = start_service()
    wait_until(
        lambda: states(settings.db_path)["sent"] == total, 120, "the rest to be sent after a restart", processes.logs
    )
    code, _ = stop(restarted)
    assert code == 0
    arrived = sink.pairs()
    assert set(arrived) == expected_pairs(settings.db_path)
    assert max(arrived.values()) == 1
    assert sink.count() == total


def test_sigterm_waits_for_the_servers_answer_to_the_message_in_flight(
    wave, mail_env, tmp_path, settings, start_service, processes
):
    """With a server that takes a second to accept each message, a message is surely in
    flight when SIGTERM comes: the service waits for the answer, records it sent, stops."""
    total = wave(20)
    slow = start_sink(processes, tmp_path, name="slow-sink", delay=1.0)
    try:
        service = start_service(env={"SMTP_PORT": str(slow.port)})
        # The sink records a message before its one-second wait: the third is now in flight.
        wait_until(lambda: slow.count() >= 3, 120, "3 messages at the slow sink", processes.logs)
        code, took = stop(service)
        after = states(settings.db_path)
        received = slow.count()
        print(f"\nSIGTERM with a message in flight: exited {code} after {took:.2f} s; {dict(after)}")
        assert code == 0, processes.logs()
        assert took < 5, f"took {took:.2f} s to stop"
        assert received >= 3
        assert after == {"sent": received, "pending": total - received}, after  # none left sending
        assert set(slow.pairs()) == expected_pairs(settings.db_path, "state = 'sent'")
    finally:
        slow.close()
        slow.process.terminate()


# -- 4. two services on one database ---------------------------------------------------------


def test_two_services_on_one_database_send_each_mail_once(wave, settings, sink, start_service, processes):
    total = wave(1000, extra=("reminder",))  # 2,000 mails due now
    first, second = start_service(), start_service()

    wait_until(lambda: states(settings.db_path)["sent"] == total, 180, "every delivery to be sent", processes.logs)
    codes = [stop(first)[0], stop(second)[0]]
    shares = dict(query(settings.db_path, "SELECT claimed_by, count(*) FROM deliveries GROUP BY claimed_by"))
    arrived = sink.pairs()
    print(f"\ntwo services: {total} deliveries, {sink.count()} received, shares {sorted(shares.values())}")
    assert codes == [0, 0]
    assert len(shares) == 2, f"both services should have sent some: {shares}"
    assert set(arrived) == expected_pairs(settings.db_path)
    assert max(arrived.values()) == 1, [pair for pair, n in arrived.items() if n > 1][:5]
    assert sink.count() == total


# -- 5. run --once -----------------------------------------------------------------------------


def test_run_once_sends_what_is_due_and_exits(run, mail_env, workdir, settings, sink):
    set_up_webinar(run, mail_env, workdir, "once", SAMPLE_CSV)

    first = run("run", "--once", env=mail_env)
    assert first.code == 0, first.stderr
    assert "Sent 15, retrying 0, failed 0, skipped 0, missed 0." in first.stdout
    assert "Next mail due at " in first.stdout  # the 1d reminder
    assert sink.count() == 15
    assert set(sink.pairs()) == expected_pairs(settings.db_path, "kind = 'confirmation'")

    second = run("run", "--once", env=mail_env)
    assert second.code == 0, second.stderr
    assert "Sent 0, retrying 0, failed 0, skipped 0, missed 0." in second.stdout
    assert sink.count() == 15
    assert states(settings.db_path) == {"sent": 15, "pending": 30}  # the two reminders each


def test_run_once_after_a_crash_sends_what_the_dead_service_had_claimed(
    wave, run, mail_env, settings, sink, start_service, processes
):
    """The outbox's promise: the rows of a sender that crashed on this machine come back at
    once, so a cron `run --once` after a crashed service sends everything that is due."""
    total = wave(500)
    for _ in range(5):  # until a kill catches the service holding a claim (nearly always the first)
        service = start_service()
        target = sink.count() + 30
        wait_until(lambda t=target: sink.count() >= t, 120, f"{target} messages at the sink", processes.logs)
        service.kill()
        service.wait(timeout=30)
        held = states(settings.db_path)["sending"]
        if held:
            break
    assert held, "no kill caught the service holding a claim"

    ran = run("run", "--once", env=mail_env)
    left = states(settings.db_path)
    arrived = sink.pairs()
    print(f"\nrun --once after kill -9: {held} rows were held by the dead service; {ran.stdout.strip()}; now {left}")
    assert ran.code == 0, ran.stderr
    assert left == {"sent": total}, f"{held} rows claimed by the dead process were left behind: {left}"
    assert set(arrived) == expected_pairs(settings.db_path)
    assert sum(n - 1 for n in arrived.values()) <= 1


# -- 6. the demo ---------------------------------------------------------------------------------


# SLOW: about a minute of real time (the demo webinar starts two minutes after launch and its
# reminder is due one minute before that). It stays in the normal run on purpose.
def test_demo_SLOW_sends_every_mail_into_the_maildir(workdir: Path):
    """The whole demo in a fresh project folder: every sample registrant's confirmation and
    reminder land in the Maildir, each with an invite, and the summary says where to look."""
    began = time.monotonic()
    process = subprocess.run(
        [sys.executable, "-m", "webinar_ops", "demo", "--start-in", "2"],
        cwd=workdir,
        capture_output=True,
        text=True,
        env=BASE_ENV,
        timeout=240,
    )
    took = time.monotonic() - began
    assert process.returncode == 0, process.stdout + process.stderr
    out = process.stdout

    folder = workdir / "data" / "outbox" / "new"
    db = connect(workdir / "data" / "webinar_ops.db")
    rows = db.execute(
        "SELECT r.email, d.kind, d.message_id, d.due_at, d.state FROM deliveries d "
        "JOIN registrants r ON r.id = d.registrant_id"
    ).fetchall()
    db.close()
    by_id = {message_id: (who, kind, due) for who, kind, message_id, due, _ in rows}
    assert {state for *_, state in rows} == {"sent"}

    kinds: dict[str, list[str]] = {}
    lateness = []
    for path in sorted(folder.iterdir()):
        message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        who, kind, due = by_id[message["Message-ID"]]
        assert message["To"].addresses[0].addr_spec == who
        types = [part.get_content_type() for part in message.walk()]
        assert "text/calendar" in types, path.name
        assert "invite.ics" in [part.get_filename() for part in message.walk()], path.name
        kinds.setdefault(who, []).append(kind)
        if kind.startswith("reminder-"):
            lateness.append(path.stat().st_mtime - times.parse_iso_utc(due).timestamp())

    people = {row["email"] for row in csv.DictReader(SAMPLE_CSV.open(encoding="utf-8"))}
    reminder_kinds = sorted({kind for _, kind, *_ in rows if kind.startswith("reminder-")})
    assert len(people) == 15
    assert set(kinds) == people
    for who, got in kinds.items():
        assert sorted(got) == sorted(["confirmation", *reminder_kinds]), who
    assert reminder_kinds, "the demo plans at least one reminder"

    assert "Maildir data/outbox/new" in out
    preview = next(line for line in out.splitlines() if line.startswith("HTML preview"))
    preview_path = workdir / preview.rsplit(": ", 1)[1].strip()
    assert preview_path.suffix == ".html"
    assert preview_path.exists()
    print(
        f"\ndemo: exited after {took:.1f} s; {sum(map(len, kinds.values()))} mails in the Maildir; "
        f"reminders written {min(lateness):+.3f} to {max(lateness):+.3f} s after their due time"
    )
    assert all(0 <= late <= 1.0 for late in lateness), lateness
