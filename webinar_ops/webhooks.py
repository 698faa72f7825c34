"""Registrations made or decided on a provider's side, taken in at once (its webhooks).

A provider plugin that takes webhooks (Zoom's: webinar_ops/providers/zoom/webhook.py) checks
each request, reads the event into a `RegistrationEvent` and calls `apply_registration`. The
event changes the registrant by the same rules as the pull of `sync` (`sync.pulled_registrant`,
`sync.remote_changes`), and the webinar is planned at once: a new or newly approved
registrant's confirmation falls due now, and a cancelled or denied one's unsent mail is
skipped. A pending registrant is told their request awaits approval, and gets nothing more
until approved; a pending request denied on the provider's site brings the denial mail. The
regular sync still pulls the same facts; a webhook only brings them sooner.

Events may come twice or out of order (providers retry): each registrant keeps the time of
the newest event applied to it, and an event no newer changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from webinar_ops import plan, sync
from webinar_ops.providers import RemoteRegistrant
from webinar_ops.store import Registrant, Store, WebinarRecord

MAX_SKEW = timedelta(minutes=5)  # an event's time further ahead than this is not believed
ARRIVING = ("pending", "approved")  # someone unknown here is added only in these


@dataclass(frozen=True)
class RegistrationEvent:
    """One registration event as the provider sent it, checked for shape by its plugin."""

    provider: str  # the provider's name, as the store keeps it with each webinar
    provider_title: str  # its name as an organiser writes it, such as "Zoom"
    name: str
    webinar_id: str  # the provider's webinar id, as the store keeps it
    registrant_id: str
    email: str
    first_name: str | None
    last_name: str | None
    status: str | None  # None: decided by the webinar's approval setting
    join_url: str | None
    at: datetime | None  # when the provider says it happened
    language: str | None = None  # the registrant's language on the provider's form, as a tag we keep

    def registrant(self, status: str) -> RemoteRegistrant:
        """The registrant as sync.py takes people in from the provider."""
        return RemoteRegistrant(
            email=self.email,
            first_name=self.first_name or "",
            last_name=self.last_name,
            status=status,
            registrant_id=self.registrant_id,
            join_url=self.join_url,
            language=self.language,
        )


# -- the change --------------------------------------------------------------------------------


def apply_registration(store: Store, event: RegistrationEvent, now: datetime, domain: str) -> str:
    """Change the registrant as `event` says, then plan the webinar's mail, in one transaction.

    Returns the outcome, without personal data: `created`, `updated`, `unchanged`, or
    `ignored: why` (no such webinar here, a cancelled webinar, an event already applied...).
    """
    if event.at and event.at > now + MAX_SKEW:
        # A time far ahead would make every later event for this person look older.
        return "ignored: the event's time is in the future"
    with store.transaction():
        webinar = store.webinar_by_provider_id(event.provider, event.webinar_id)
        if webinar is None:
            return f"ignored: no webinar here has this {event.provider_title} webinar id"
        if webinar.cancelled_at:
            return "ignored: the webinar is cancelled"
        outcome = _take_in(store, webinar, event, now)
        if outcome in ("created", "updated"):
            plan.plan_webinar(store, webinar, now, domain)
    return outcome


def _take_in(store: Store, webinar: WebinarRecord, event: RegistrationEvent, now: datetime) -> str:
    remote = event.registrant(event.status or webinar.definition.provider.signup_status)
    email = sync.provider_address(remote)
    if email is None:
        return f"ignored: {sync.UNUSABLE_ADDRESS}"
    row = _held(store, webinar, remote.registrant_id, email)
    stamp = {"provider_event_at": _event_stamp(event.at)} if event.at else {}
    if row is None:
        if remote.status not in ARRIVING and not stamp:
            return f"ignored: nobody here to mark {remote.status}"
        # Kept even when cancelled or denied, with the event's time: the sign-up that came
        # before it, retried by the provider and arriving late, must not register them.
        pulled = sync.pulled_registrant(webinar, email, remote)
        store.add_registrants([replace(pulled, **stamp)], now)
        return "created"
    if stamp and row.provider_event_at and row.provider_event_at >= stamp["provider_event_at"]:
        return "ignored: this event or a newer one was applied already"
    changes = sync.remote_changes(row, remote)
    store.update_registrant(row.id, {**changes, **stamp}, now)
    return "updated" if changes else "unchanged"


def _held(store: Store, webinar: WebinarRecord, registrant_id: str, email: str) -> Registrant | None:
    """The registrant the provider means: by its registrant id, else by address."""
    rows = store.registrants(webinar.id, "provider_registrant_id = ?", [registrant_id])
    return rows[0] if rows else store.registrant(webinar.id, email)


def _event_stamp(at: datetime) -> str:
    """Like times.iso_utc, with milliseconds: two events may come within one second."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"
