"""Stopping the background service while one of its jobs is scheduling its next wake-up: the
stop waits for that job, and neither waits for the other for ever."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from conftest import TEST_SECRET_KEY

from webinar_ops import times
from webinar_ops.config import Settings
from webinar_ops.deliver import WaveReport
from webinar_ops.schedule import Service


def test_a_stop_while_a_job_schedules_its_next_wake_up_finishes(tmp_path: Path):
    settings = Settings(db_path=tmp_path / "service.db", secret_key=TEST_SECRET_KEY)
    in_wake_up, stop_asked = threading.Event(), threading.Event()
    service = Service(
        settings,
        send=lambda stop: (WaveReport(), None),
        sync=lambda: None,
        sync_every=times.parse_duration("1h"),
        rescan_every=times.parse_duration("1h"),
    )
    real_get_jobs = service.scheduler.get_jobs

    def get_jobs_once_the_stop_is_asked(*args, **kwargs):
        # A job is inside wake_at, past its check of `stopping`, when the stop comes.
        if threading.current_thread() is not threading.main_thread() and not in_wake_up.is_set():
            in_wake_up.set()
            stop_asked.wait(5)
        return real_get_jobs(*args, **kwargs)

    service.scheduler.get_jobs = get_jobs_once_the_stop_is_asked
    service.start()
    # As a send ends: it schedules the wave after it, from the scheduler's own worker.
    service.scheduler.add_job(service.wake_at, args=[datetime.now(UTC) + timedelta(hours=1)])
    assert in_wake_up.wait(10), "the job never scheduled a wake-up"
    stopping = threading.Thread(target=service.stop, daemon=True)
    stopping.start()
    stop_asked.set()
    stopping.join(15)

    assert not stopping.is_alive(), "the stop waited for ever for a job that waited for the stop"
    assert not service.scheduler.running
