"""Job: send every delivery that is due, then say when the next one falls due."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime

from webinar_ops import times
from webinar_ops.config import Settings
from webinar_ops.deliver import WaveReport, release_orphans, send_due
from webinar_ops.mail.outbox import Outbox
from webinar_ops.store import Store
from webinar_ops.transports import load_transport


def run(
    settings: Settings, stop: threading.Event | None = None, clock: Callable[[], datetime] = times.utc_now
) -> tuple[WaveReport, datetime | None]:
    """Send what is due now, taking back first what a crashed sender on this machine had
    claimed; return what was done and the next due time (None: nothing waits)."""
    with Store.open(settings.db_path) as store:
        release_orphans(store)
        report = send_due(store, settings, load_transport(settings), clock, stop)
        return report, Outbox(store).next_due()
