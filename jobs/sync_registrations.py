"""Job: bring each upcoming webinar in step with its provider, then plan its mail; after the
end, ask the provider who attended, then plan the follow-ups by attendance."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from webinar_ops import times
from webinar_ops.config import Settings
from webinar_ops.errors import WebinarOpsError
from webinar_ops.plan import plan_ended, plan_webinar
from webinar_ops.providers import load_provider
from webinar_ops.store import Store, WebinarRecord
from webinar_ops.sync import attendance_skipped, pull_attendance, sync_webinar

log = logging.getLogger("webinar_ops.jobs.sync")


def run(settings: Settings, clock: Callable[[], datetime] = times.utc_now) -> None:
    """Sync and plan every webinar that has not ended. For those that have: pull the
    attendance while it is due (sync.attendance_skipped says when), then plan the follow-ups by
    attendance. A provider failure for one webinar is logged and does not stop the others;
    their mail is planned either way."""
    with Store.open(settings.db_path) as store:
        for webinar in store.webinars():
            if webinar.definition.end <= clock():
                if attendance_skipped(store, webinar, clock()) is None:
                    _pull_attendance(store, settings, webinar, clock())
                plan_ended(store, store.webinar(webinar.slug), clock(), settings.mail_domain)
                continue
            try:
                report = sync_webinar(store, load_provider(webinar.provider, settings, store), webinar, clock())
                if report.changed_anything or report.failed or report.panelists_refused:
                    # Counts only: the speakers' addresses and links stay out of the service's log.
                    log.info(
                        "%s: %d registered, %d failed, %d pulled in; %d speakers made panelists, %d let go, %d refused",
                        webinar.slug,
                        report.registered,
                        len(report.failed),
                        report.pulled_new,
                        report.panelists_added,
                        report.panelists_removed,
                        len(report.panelists_refused),
                    )
            except WebinarOpsError as exc:
                log.warning("%s: sync failed: %s", webinar.slug, exc)
            plan_webinar(store, store.webinar(webinar.slug), clock(), settings.mail_domain)


def _pull_attendance(store: Store, settings: Settings, webinar: WebinarRecord, now: datetime) -> None:
    try:
        pulled = pull_attendance(store, load_provider(webinar.provider, settings, store), webinar, now)
    except WebinarOpsError as exc:
        log.warning("%s: attendance not pulled: %s", webinar.slug, exc)
        return
    if pulled.outcome != "skipped":
        log.info("%s: attendance: %s", webinar.slug, pulled.summary())
