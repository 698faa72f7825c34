"""The background service: APScheduler in UTC, with its jobs in memory.

Nothing about what is due lives in APScheduler: the database is the only record. On start
the service gives back the claims of crashed senders and plans every upcoming webinar, then
keeps one date job set at the next due time, so each delivery leaves within a second of it.
A cheap rescan every few seconds notices rows that another process (the command line)
planned meanwhile, and a periodic sync brings registrations in from the providers.

Two services on one database are safe together: senders claim rows in one statement, so a
row is only ever sent by the service that claimed it (no lock keeps the second one out).

Sending and rescanning share one worker thread, so they never race; syncing has its own, so
a slow provider never delays a reminder. On SIGTERM or Ctrl-C the service finishes the
message in flight and stops.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.background import BackgroundScheduler

from webinar_ops import times
from webinar_ops.config import Settings
from webinar_ops.deliver import WaveReport, release_orphans
from webinar_ops.errors import WebinarOpsError
from webinar_ops.mail.outbox import Outbox
from webinar_ops.plan import plan_upcoming
from webinar_ops.store import Store, StoreUnavailable

log = logging.getLogger("webinar_ops.service")
CONFIG_PAUSE = timedelta(seconds=60)
STORE_PAUSE = timedelta(seconds=5)  # a full disk or a locked database may be fixed any moment

SendJob = Callable[[threading.Event], tuple[WaveReport, datetime | None]]
SyncJob = Callable[[], None]


class Service:
    """Runs the send and sync jobs on time until stopped."""

    def __init__(
        self,
        settings: Settings,
        send: SendJob,
        sync: SyncJob,
        sync_every: timedelta = timedelta(minutes=10),
        rescan_every: timedelta = timedelta(seconds=5),
        clock: Callable[[], datetime] = times.utc_now,
    ):
        self.settings = settings
        self.send, self.sync = send, sync
        self.sync_every, self.rescan_every = sync_every, rescan_every
        self.clock = clock
        self.stopping = threading.Event()
        self._wake_ids = itertools.count()
        self._wake_lock = threading.Lock()
        self._paused_until = datetime.min.replace(tzinfo=UTC)
        self.scheduler = BackgroundScheduler(
            timezone=UTC,
            executors={"default": ThreadPoolExecutor(1), "sync": ThreadPoolExecutor(1)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )

    def start(self) -> None:
        """Rebuild from the database and start the jobs."""
        with Store.open(self.settings.db_path) as store:
            _take_back_orphans(store)
            plan_upcoming(store, self.clock(), self.settings.mail_domain)
            first = Outbox(store).next_due()
        self.scheduler.start()
        self.scheduler.add_job(
            self._sync,
            "interval",
            seconds=self.sync_every.total_seconds(),
            id="sync",
            executor="sync",
            next_run_time=datetime.now(UTC),
        )
        self.scheduler.add_job(self._rescan, "interval", seconds=self.rescan_every.total_seconds(), id="rescan")
        self.wake_at(first)

    def run_until_stopped(self, until: Callable[[], bool] | None = None) -> None:
        """Block until `stop()` is called (from a signal handler) or `until()` is true."""
        self.start()
        try:
            while not self.stopping.wait(0.2):
                if until and until():
                    break
        finally:
            self.stop()

    def stop(self) -> None:
        """Finish the message in flight, then stop every job."""
        self.stopping.set()
        # APScheduler's shutdown holds its job store lock while it waits for running jobs, and
        # a job that is scheduling its next wake-up needs that lock: it would wait for ever.
        # Passing through the wake lock lets such a job finish first; any later one sees
        # `stopping` inside the lock and leaves the scheduler alone.
        with self._wake_lock:
            pass
        if self.scheduler.running:
            self.scheduler.shutdown(wait=True)

    def wake_at(self, when: datetime | None) -> None:
        """Make sure a send runs at `when` (or now, if that has passed)."""
        if when is None:
            return
        when = max(when, self._paused_until)
        with self._wake_lock:
            if self.stopping.is_set():
                return
            pending = [job for job in self.scheduler.get_jobs() if job.id.startswith("wake-")]
            if any(job.next_run_time and job.next_run_time <= when for job in pending):
                return
            for job in pending:
                with contextlib.suppress(JobLookupError):  # it may have just run
                    job.remove()
            run_date = max(when, datetime.now(UTC))
            self.scheduler.add_job(self._send, "date", run_date=run_date, id=f"wake-{next(self._wake_ids)}")

    def _send(self) -> None:
        try:
            report, following = self.send(self.stopping)
        except WebinarOpsError as exc:
            # A configuration problem, or a database that refuses writes: say why, and try
            # again in a while rather than at every rescan.
            pause = STORE_PAUSE if isinstance(exc, StoreUnavailable) else CONFIG_PAUSE
            log.error("%s (trying again in %d seconds)", exc, pause.total_seconds())
            self._paused_until = datetime.now(UTC) + pause
            return
        if report.handled or report.stopped:
            log.info(
                "sent %d, retrying %d, failed %d, skipped %d, missed %d%s",
                report.sent,
                report.retrying,
                report.failed,
                report.skipped,
                report.missed,
                f" (stopped: {report.stopped})" if report.stopped else "",
            )
        self.wake_at(following)

    def _rescan(self) -> None:
        with Store.open(self.settings.db_path) as store:
            # Another sender on this machine (a second service, a cron `run --once`) may have
            # died holding claims: take them back now rather than when their lease ends.
            try:
                _take_back_orphans(store)
            except WebinarOpsError as exc:
                log.error("could not take back a stopped sender's deliveries: %s", exc)
            self.wake_at(Outbox(store).next_due())

    def _sync(self) -> None:
        try:
            self.sync()
        except WebinarOpsError as exc:  # a database that refuses writes: the next sync tries again
            log.error("sync stopped: %s", exc)
        self._rescan()


def _take_back_orphans(store: Store) -> None:
    released = release_orphans(store)
    if released:
        log.info("took back %d deliveries from a sender that stopped mid-wave", released)
