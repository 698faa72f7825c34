"""Fault injection with real processes, real sockets and real SQLite files.

Each test breaks one thing the service depends on and checks the outbox's promise: a mail is
sent once, or, after a crash, at most the one message in flight is sent twice; nothing is
lost; nothing is marked sent that was not. The service runs as `python -m webinar_ops run`
in its own process and sends to the SMTP sink of tests/sink.py, another process, as in
tests/test_service.py, whose helpers these tests reuse. Two services on one database are
covered there (test_two_services_on_one_database_send_each_mail_once). A database that
refuses writes (read-only, a full disk) comes from tests/faulty_db.py, which runs the real
command line with its SQLite connections or its file size limit changed.
"""

# The service's fixtures are imported from test_service.py, and pytest hands them to the tests
# as parameters of the same name, which pyflakes calls a redefinition.
# ruff: noqa: F811

from __future__ import annotations

import dataclasses
import random
import resource
import socket
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

from conftest import SAMPLE_DEFINITION, TEST_SECRET_KEY, Ran
from smtp_servers import PERMANENT_REPLY, smtp_server
from test_service import (  # the service's helpers and fixtures: one set for both files
    BASE_ENV,
    connect,
    expected_pairs,
    mail_env,  # noqa: F401 (a fixture)
    people_csv,
    processes,  # noqa: F401 (a fixture)
    query,
    set_up_webinar,
    sink,  # noqa: F401 (a fixture)
    start_service,  # noqa: F401 (a fixture)
    start_sink,
    states,
    stop,
    wait_until,
    wave,  # noqa: F401 (a fixture)
)

from webinar_ops import times
from webinar_ops.config import Settings
from webinar_ops.definition import load_definition
from webinar_ops.deliver import Backoff, WaveReport, send_due
from webinar_ops.demo import demo_definition
from webinar_ops.mail.outbox import Outbox
from webinar_ops.plan import plan_webinar
from webinar_ops.providers import load_provider
from webinar_ops.registrants import apply_import, plan_import
from webinar_ops.store import Store
from webinar_ops.sync import sync_webinar
from webinar_ops.transports import load_transport
from webinar_ops.transports.smtp import SmtpSettings

SEED = 20261127


# -- 1. kill -9, ten times in one wave --------------------------------------------------------


def test_ten_kill_9s_in_one_wave_lose_nothing_and_duplicate_at_most_one_each(
    wave, settings, sink, start_service, processes
):
    """The service is killed with SIGKILL at ten moments spread over a wave of 2,000 mails
    and started again each time. Each kill may catch one message in flight (the sink has
    it, the outbox does not yet say so), which the restarted service sends again: at most
    one duplicate per kill, and nobody left without a mail."""
    total = wave(1000, extra=("reminder",))  # 2,000 mails due now
    expected = expected_pairs(settings.db_path)
    rng = random.Random(SEED)
    # One kill in each tenth of the wave, at a random point of it.
    targets = [slice_ * total // 10 + rng.randint(20, total // 10 - 20) for slice_ in range(10)]
    began = time.monotonic()

    service = start_service()
    for target in targets:
        wait_until(lambda t=target: sink.count() >= t, 120, f"{target} messages at the sink", processes.logs)
        time.sleep(rng.uniform(0, 0.02))  # anywhere within the sending of one message
        service.kill()
        service.wait(timeout=30)
        service = start_service()
    wait_until(
        lambda: states(settings.db_path)["sent"] == total,
        180,
        "every delivery to be sent",
        lambda: f"{states(settings.db_path)}\n{processes.logs()}",
    )
    code, _ = stop(service)
    seconds = time.monotonic() - began

    arrived = sink.pairs()
    duplicates = sum(n - 1 for n in arrived.values())
    lost = len(expected - set(arrived))
    caught = processes.logs().count("took back")
    print(
        f"\nkill -9 x{len(targets)}: {total} deliveries, {sink.count()} messages received, {duplicates} duplicates, "
        f"{lost} lost, {caught} restarts took back claimed rows, {seconds:.1f} s (seed {SEED})"
    )
    assert code == 0, processes.logs()
    assert caught >= 1, "no kill caught the service holding a claim: the crash path was not exercised"
    assert states(settings.db_path) == {"sent": total}
    assert lost == 0
    assert set(arrived) == expected, "a message nobody planned arrived"
    assert duplicates <= len(targets)
    assert max(arrived.values()) <= 2


def test_a_dead_services_claims_are_taken_back_by_the_one_still_running(
    wave, tmp_path, mail_env, settings, sink, start_service, processes
):
    """Two services share a database; one is killed holding the last claims of the wave
    while the other, its own work done, is idle. The survivor is on the same machine, so
    it can tell that process is gone: it takes the claims back at its next rescan rather
    than when their lease ends, five minutes later. (The victim sends to a slow sink, so
    that it surely still holds its claims when the survivor has finished.)"""
    total = wave(200)
    slow = start_sink(processes, tmp_path, name="slow-sink", delay=0.2)
    victim = start_service(env={"SMTP_PORT": str(slow.port)})
    victim_id = f"{socket.gethostname()}:{victim.pid}"

    def unsent() -> list[tuple[str, str]]:
        return query(settings.db_path, "SELECT state, claimed_by FROM deliveries WHERE state != 'sent'")

    def only_the_victim_holds_work() -> bool:
        return bool(unsent()) and all(row == ("sending", victim_id) for row in unsent())

    wait_until(lambda: ("sending", victim_id) in unsent(), 60, "the victim to claim a batch", processes.logs)
    survivor = start_service()
    wait_until(only_the_victim_holds_work, 120, "the survivor to send everything else", processes.logs)
    time.sleep(0.5)  # the survivor has looked for more work, found none, and is idle
    victim.kill()
    victim.wait(timeout=30)
    held = states(settings.db_path)["sending"]
    began = time.monotonic()
    wait_until(
        lambda: states(settings.db_path)["sent"] == total,
        60,
        "the dead service's claims to be sent",
        lambda: f"{states(settings.db_path)}\n{processes.logs()}",
    )
    took = time.monotonic() - began
    code, _ = stop(survivor)
    arrived = sink.pairs() + slow.pairs()
    slow.close()
    duplicates = sum(n - 1 for n in arrived.values())
    print(
        f"\nkill -9 of one of two services: {held} claims taken back, sent {took:.1f} s later, {duplicates} duplicates"
    )
    assert code == 0, processes.logs()
    assert held > 0
    assert set(arrived) == expected_pairs(settings.db_path)
    assert duplicates <= 1


# -- 2. a faulty SMTP server -------------------------------------------------------------------

QUICK_BACKOFF = Backoff(first=timedelta(seconds=0.2), longest=timedelta(seconds=2))  # 30 s and 30 min, scaled down
CLIENT_TIMEOUT = 2  # SMTP_TIMEOUT, seconds
REFUSED_AT_RCPT = ("person00013@example.org", "person00101@example.org", "person00177@example.org")
REFUSED_AT_DATA = ("person00042@example.org", "person00250@example.org")
STALLED = "person00150@example.org"


def send_until_nothing_waits(store: Store, settings: Settings, retry_delay, timeout: float = 60) -> list[WaveReport]:
    """What the service does, here in the test's process: send what is due, sleep until the
    next due time (a retry's), and again, until no delivery waits."""
    reports = []
    deadline = time.monotonic() + timeout
    while (following := Outbox(store).next_due()) is not None:
        assert time.monotonic() < deadline, f"still sending after {timeout} s: {states(settings.db_path)}"
        time.sleep(max(0.0, (following - times.utc_now()).total_seconds()))
        reports.append(send_due(store, settings, load_transport(settings), retry_delay=retry_delay))
    return reports


def test_a_faulty_smtp_server_gets_each_mail_once_and_550s_are_never_retried(run, workdir, settings, store):
    """A server that answers 451 to 10 % of messages, drops the connection on 5 %, refuses
    five recipients for good with 550 (three at RCPT, two at DATA) and once stalls past the
    client's timeout. The wave goes through the `smtp` transport with the service's own
    functions, with the backoff scaled down from seconds to tenths of a second."""
    env = {"WEBINAR_OPS_DB": str(settings.db_path), "WEBINAR_OPS_SECRET_KEY": TEST_SECRET_KEY}
    set_up_webinar(run, env, workdir, "faulty-smtp", people_csv(workdir, 300), offsets="[]")  # 300 confirmations
    planned = expected_pairs(settings.db_path)
    refused = set(REFUSED_AT_RCPT + REFUSED_AT_DATA)
    began = time.monotonic()

    with smtp_server() as server:
        for address in REFUSED_AT_RCPT:
            server.handler.reject(address, at="rcpt")
        for address in REFUSED_AT_DATA:
            server.handler.reject(address, at="data")
        server.handler.random_faults(seed=SEED, temporary=0.10, drop=0.05)
        server.handler.stall(CLIENT_TIMEOUT * 3, recipient=STALLED)
        smtp = dataclasses.replace(settings, mail_transport="smtp").with_plugin(
            SmtpSettings(host=server.host, port=server.port, security="none", timeout=CLIENT_TIMEOUT)
        )
        reports = send_until_nothing_waits(store, smtp, QUICK_BACKOFF)
        received = Counter((r.rcpt_tos[0], r.message()["Message-ID"]) for r in server.handler.received)
        refusals = Counter(recipient for recipient, _ in server.handler.refusals)
        replies = Counter(reply[:3] for _, reply in server.handler.refusals)
        stalls, connections = list(server.handler.stalls), server.handler.connections
    seconds = time.monotonic() - began

    outbox = {
        row["email"]: row
        for row in store.db.query("SELECT r.email, d.* FROM deliveries d JOIN registrants r ON r.id = d.registrant_id")
    }
    print(
        f"\nfaulty SMTP: {len(planned)} mails, {sum(received.values())} accepted, {replies['451']} answered 451, "
        f"{replies['(co']} dropped, {replies['550']} refused with 550, stalls {stalls}, {connections} connections, "
        f"{len(reports)} waves, {seconds:.1f} s (seed {SEED})"
    )
    assert replies["451"] >= 10, "the faults did not happen as often as programmed"
    assert replies["(co"] >= 5, "the faults did not happen as often as programmed"
    assert stalls == ["abandoned"], "the stall did not outlast the client's timeout"
    assert set(received) == {pair for pair in planned if pair[0] not in refused}
    assert max(received.values()) == 1, "a message arrived twice"
    for email, row in outbox.items():
        if email in refused:
            assert (row["state"], row["attempts"]) == ("failed", 1), email
            assert row["last_error"] == PERMANENT_REPLY.format(address=email), "the server's own words"
            assert refusals[email] == 1, f"{email} was tried again after a 550"
        else:
            assert row["state"] == "sent", email
            assert row["attempts"] == 1 + refusals[email] + (email == STALLED), f"{email}: every try is counted"

    failed = run("outbox", "faulty-smtp", "--state", "failed", "--json", env=env)
    assert failed.code == 0, failed.stderr
    assert {(row["email"], row["last_error"]) for row in failed.json()} == {
        (email, PERMANENT_REPLY.format(address=email)) for email in refused
    }


# -- 3. the database -----------------------------------------------------------------------------

FAULTY_DB = Path(__file__).resolve().parent / "faulty_db.py"
LOCK_SECONDS = 4


def run_on_faulty_db(workdir: Path, env: dict[str, str], fault: list[str], *args: str) -> Ran:
    """`webinar-ops ARGS` in its own process, its database failing as `fault` says (see
    tests/faulty_db.py)."""
    process = subprocess.run(
        [sys.executable, str(FAULTY_DB), *fault, *args],
        cwd=workdir,
        capture_output=True,
        text=True,
        env={**BASE_ENV, **env},
        timeout=120,
    )
    return Ran(process.returncode, process.stdout, process.stderr)


def outbox_rows(db_path: Path) -> list[tuple]:
    return query(db_path, "SELECT id, state, attempts, sent_at, claimed_by, last_error FROM deliveries ORDER BY id")


def sent_pairs(db_path: Path) -> set[tuple[str, str]]:
    return expected_pairs(db_path, "d.state = 'sent'")


def test_a_write_lock_held_by_another_process_makes_the_service_wait_then_go_on(
    wave, settings, sink, start_service, processes
):
    """Another process takes the write lock (BEGIN IMMEDIATE) for a few seconds mid-wave:
    the service sends at most the message it had in flight, waits for the lock (within its
    30-second busy timeout, without an error) and goes on; nothing is lost or doubled."""
    total = wave(600)
    service = start_service()
    wait_until(lambda: sink.count() >= 100, 120, "100 messages at the sink", processes.logs)

    locker = connect(settings.db_path)
    locker.execute("BEGIN IMMEDIATE")
    at_lock = sink.count()
    time.sleep(LOCK_SECONDS)
    during_lock = sink.count() - at_lock
    locker.execute("COMMIT")
    locker.close()

    wait_until(lambda: states(settings.db_path)["sent"] == total, 120, "every delivery to be sent", processes.logs)
    code, _ = stop(service)
    arrived = sink.pairs()
    print(
        f"\nwrite lock held {LOCK_SECONDS} s from message {at_lock}: {during_lock} arrived meanwhile; "
        f"then {total} sent, {sink.count()} received"
    )
    assert code == 0, processes.logs()
    assert at_lock < total, "the wave was over before the lock: nothing was tested"
    assert during_lock <= 1, "the service kept sending what it could not record"
    assert "ERROR" not in processes.logs(), "the service gave up instead of waiting"
    assert set(arrived) == expected_pairs(settings.db_path)
    assert max(arrived.values()) == 1


def test_a_read_only_database_stops_run_and_remind_with_a_clear_error_and_sends_nothing(
    wave, run, workdir, mail_env, settings, sink
):
    """The database opened read-only, as SQLite opens a file it may not write (chmod 0444;
    see tests/faulty_db.py): `run --once` and `remind` say so in one line naming the file
    and what to check, send nothing, and leave the outbox as it was."""
    total = wave(40)
    before = outbox_rows(settings.db_path)

    for command in (("run", "--once"), ("remind", "load-test")):
        ran = run_on_faulty_db(workdir, mail_env, ["read-only"], *command)
        print(f"\n{' '.join(command)} on a read-only database: exit {ran.code}: {ran.stderr.strip()}")
        assert ran.code == 1
        assert f"error: Cannot write to the database {settings.db_path}: attempt to write a readonly database" in (
            ran.stderr
        )
        assert "check that this user may write the file" in ran.stderr
        assert "Traceback" not in ran.stderr
        assert "unexpected" not in ran.stderr
    assert sink.count() == 0
    assert outbox_rows(settings.db_path) == before

    writable = run("run", "--once", env=mail_env)
    assert writable.code == 0, writable.stderr
    assert states(settings.db_path) == {"sent": total}
    assert sink.pairs() == Counter(expected_pairs(settings.db_path))


FREE_BYTES = 256 * 1024  # what the full disk has left when the wave starts


def empty_the_write_ahead_log(db_path: Path) -> None:
    """Write everything back into the database file and truncate its -wal file: from here on
    the -wal file is what grows with each commit, as it would on a filling disk."""
    db = connect(db_path)
    try:
        busy, _, _ = db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        assert busy == 0
    finally:
        db.close()


def test_a_full_disk_stops_run_once_with_a_clear_error_and_loses_nothing(wave, run, workdir, mail_env, settings, sink):
    """The disk fills during a `run --once` wave. Simulated with RLIMIT_FSIZE (no root
    needed; see tests/faulty_db.py): no file of that process may grow past FREE_BYTES, and
    in WAL mode each commit grows the -wal file, so a commit fails part way through the
    wave, as it would with ENOSPC, whichever write it is. The command stops with a clear
    error; nothing is marked sent that did not reach the server; at most the message in
    flight reached it without being recorded, and the next run sends everything, that one
    message at most twice."""
    total = wave(300)
    empty_the_write_ahead_log(settings.db_path)

    full = run_on_faulty_db(workdir, mail_env, ["file-size", str(FREE_BYTES)], "run", "--once")
    recorded, received = sent_pairs(settings.db_path), set(sink.pairs())
    print(
        f"\nfull disk: run --once exited {full.code} after {sink.count()} messages, {len(recorded)} recorded as sent: "
        f"{full.stderr.strip()}"
    )
    assert full.code == 1
    assert "error: Sending stopped: Cannot write to the database" in full.stderr
    assert "Traceback" not in full.stderr
    assert "unexpected" not in full.stderr
    assert 0 < len(recorded) < total, "the disk did not fill during the wave"
    assert recorded <= received, "marked sent but never sent"
    assert len(received - recorded) <= 1, "more than the message in flight was sent without a record"

    again = run("run", "--once", env=mail_env)
    arrived = sink.pairs()
    assert again.code == 0, again.stderr
    assert states(settings.db_path) == {"sent": total}
    assert set(arrived) == expected_pairs(settings.db_path)
    assert sum(n - 1 for n in arrived.values()) <= 1


def test_the_service_on_a_full_disk_sends_nothing_it_cannot_record_and_goes_on_when_space_returns(
    wave, workdir, mail_env, settings, sink, processes
):
    """The disk fills while the service sends (as in the test above), stays full while the
    service tries again, and is then freed (the file size limit is lifted from outside,
    with prlimit). Meanwhile nothing goes out that cannot be recorded; afterwards every
    mail has gone exactly once: even the one in flight when the disk filled is recorded
    when space returns, not sent again."""
    total = wave(300)
    empty_the_write_ahead_log(settings.db_path)
    service = processes.start(
        [sys.executable, str(FAULTY_DB), "file-size", str(FREE_BYTES), "run"],
        "service-on-a-full-disk",
        {**BASE_ENV, **mail_env},
        workdir,
    )

    def refused_waves() -> list[str]:
        return [line for line in processes.logs().splitlines() if " ERROR Sending " in line]

    wait_until(
        lambda: len(refused_waves()) >= 2, 60, "the service to meet the full disk, and try again", processes.logs
    )
    recorded, received = sent_pairs(settings.db_path), set(sink.pairs())
    assert 0 < len(recorded) < total
    assert recorded <= received
    assert len(received - recorded) <= 1

    _, hard = resource.prlimit(service.pid, resource.RLIMIT_FSIZE)
    resource.prlimit(service.pid, resource.RLIMIT_FSIZE, (hard, hard))  # space is freed
    wait_until(lambda: states(settings.db_path)["sent"] == total, 120, "every delivery to be sent", processes.logs)
    code, _ = stop(service)
    arrived = sink.pairs()
    print(
        f"\nservice on a full disk: stopped after {len(received)} messages ({len(received - recorded)} in flight, "
        f"not yet recorded); {len(refused_waves())} waves refused, the last: {refused_waves()[-1].split(' ERROR ')[1]}"
        f"\nafter space returned: {total} sent, {sink.count()} received"
    )
    assert code == 0, processes.logs()
    assert set(arrived) == expected_pairs(settings.db_path)
    assert max(arrived.values()) == 1, "a message went twice"


def test_run_once_beside_a_running_service_sends_each_mail_once(
    wave, workdir, mail_env, settings, sink, start_service, processes
):
    """A cron `run --once` left in place beside the service (two at once, even): three
    senders on one database claim rows, not a lock, so each mail still goes once. (Two
    services side by side: test_service.py, test_two_services_on_one_database_send_each_mail_once.)"""
    total = wave(600)
    service = start_service()
    crons = [
        processes.start(
            [sys.executable, "-m", "webinar_ops", "run", "--once"], f"cron-{n}", {**BASE_ENV, **mail_env}, workdir
        )
        for n in range(2)
    ]
    codes = [cron.wait(timeout=120) for cron in crons]
    assert codes == [0, 0], processes.logs()
    wait_until(
        lambda: states(settings.db_path)["sent"] == total,
        60,
        "every delivery to be sent",
        lambda: f"{states(settings.db_path)}\n{processes.logs()}",
    )
    code, _ = stop(service)
    shares = dict(query(settings.db_path, "SELECT claimed_by, count(*) FROM deliveries GROUP BY claimed_by"))
    arrived = sink.pairs()
    print(f"\nservice and two run --once: {total} sent, {sink.count()} received, shares {sorted(shares.values())}")
    assert code == 0
    assert "ERROR" not in processes.logs(), processes.logs()
    assert len(shares) >= 2, f"the senders did not overlap: {shares}"
    assert set(arrived) == expected_pairs(settings.db_path)
    assert max(arrived.values()) == 1


# -- 4. the clock: starting after downtime ----------------------------------------------------------


def webinar_at(store: Store, settings: Settings, workdir: Path, slug: str, start: datetime, offsets: list[int]):
    """A webinar starting at `start` (whole minutes, UTC) with reminders `offsets` minutes
    before, whose four registrants signed up and were planned for two days ago."""
    wall = times.in_zone(start, "Asia/Seoul").replace(tzinfo=None)
    path = workdir / f"{slug}.toml"
    path.write_text(demo_definition(SAMPLE_DEFINITION.read_text(encoding="utf-8"), slug, wall, offsets), "utf-8")
    long_ago = times.utc_now() - timedelta(days=2)
    record = store.save_webinar(load_definition(path), path.read_text("utf-8"), "local", long_ago).record
    apply_import(store, record, plan_import(store, record, people_csv(workdir, 4)), long_ago)
    sync_webinar(store, load_provider("local", settings, store), record, long_ago)
    plan_webinar(store, store.webinar(slug), long_ago, settings.mail_domain)


def due_now(db_path: Path) -> int:
    """How many deliveries wait that are due by now."""
    db = connect(db_path)
    try:
        sql = "SELECT count(*) FROM deliveries WHERE state IN ('pending', 'sending') AND send_after <= ?"
        return db.execute(sql, [times.iso_utc(times.utc_now())]).fetchone()[0]
    finally:
        db.close()


def test_after_downtime_reminders_within_grace_go_late_and_the_rest_are_missed_with_the_reason(
    run, mail_env, workdir, settings, store, sink, start_service, processes
):
    """The service was down for two days and starts now, with the real clock. Its three
    webinars' mail was planned before the downtime. The rules (plan.py a and c, grace 30
    minutes): a reminder that fell due within the grace period goes out late; one due
    longer ago is missed; none goes out once its webinar has started; a confirmation goes
    out late, unless its webinar is over; a reminder not yet due waits. `status` and
    `outbox` say which and why."""
    minute = times.utc_now().replace(second=0, microsecond=0)
    webinar_at(store, settings, workdir, "upcoming", minute + timedelta(minutes=11), [240, 50, 30, 5])
    webinar_at(store, settings, workdir, "started", minute - timedelta(minutes=10), [120, 15])
    webinar_at(store, settings, workdir, "over", minute - timedelta(hours=3), [60])
    assert states(settings.db_path) == {"pending": 4 * (5 + 3 + 2)}

    service = start_service()
    wait_until(lambda: not due_now(settings.db_path), 60, "everything due to be handled", processes.logs)
    code, _ = stop(service)
    assert code == 0, processes.logs()

    outbox = run("outbox", "--json", env=mail_env).json()
    by_kind = {(row["slug"], row["kind"]): (row["state"], row["reason"]) for row in outbox}
    assert len(outbox) == 40
    assert len(by_kind) == 10, "each kind of mail has the same fate for all four"
    grace_passed = "while no sender was running, and the grace period (30m) had passed"
    started = "the webinar had started before it could be sent"
    assert {key: state for key, (state, _) in by_kind.items()} == {
        ("upcoming", "confirmation"): "sent",  # two days late, but the webinar is still ahead
        ("upcoming", "reminder-4h"): "missed",  # due nearly 4 h ago
        ("upcoming", "reminder-50m"): "missed",  # due 39 min ago: past the grace period
        ("upcoming", "reminder-30m"): "sent",  # due 19 min ago: within it
        ("upcoming", "reminder-5m"): "pending",  # due in 6 min
        ("started", "confirmation"): "sent",  # the webinar is on: the link is still of use
        ("started", "reminder-2h"): "missed",
        ("started", "reminder-15m"): "missed",  # due 25 min ago, within grace, but after the start
        ("over", "confirmation"): "skipped",
        ("over", "reminder-1h"): "missed",
    }
    assert grace_passed in by_kind["upcoming", "reminder-4h"][1]
    assert grace_passed in by_kind["upcoming", "reminder-50m"][1]
    assert by_kind["started", "reminder-2h"][1] == started
    assert by_kind["started", "reminder-15m"][1] == started
    assert by_kind["over", "reminder-1h"][1] == started
    assert by_kind["over", "confirmation"][1] == "the webinar was over"

    sent = [row for row in outbox if row["state"] == "sent"]
    assert set(sink.pairs()) == {(row["email"], row["message_id"]) for row in sent}
    assert max(sink.pairs().values()) == 1
    late = sorted(
        (times.parse_iso_utc(row["sent_at"]) - times.parse_iso_utc(row["due_at"])).total_seconds() / 60
        for row in sent
        if row["kind"] == "reminder-30m"
    )
    assert all(18 <= minutes <= 21 for minutes in late), late

    status = {entry["slug"]: entry for entry in run("status", "--json", env=mail_env).json()}
    assert status["upcoming"]["next_mail"]["kind"] == "reminder-5m"
    assert {(r["kind"], r["state"], r["n"]) for r in status["upcoming"]["not_sent"]} == {
        ("reminder-4h", "missed", 4),
        ("reminder-50m", "missed", 4),
    }
    assert {(r["kind"], r["why"]) for r in status["over"]["not_sent"]} == {
        ("confirmation", "the webinar was over"),
        ("reminder-1h", started),
    }
    print(
        f"\nafter downtime: {len(sent)} sent ({len(late)} reminders {late[0]:.1f}–{late[-1]:.1f} min late), "
        f"{sum(row['state'] == 'missed' for row in outbox)} missed, "
        f"{sum(row['state'] == 'skipped' for row in outbox)} skipped, "
        f"{sum(row['state'] == 'pending' for row in outbox)} still to come"
    )
