"""Attendance: who came to a webinar, and for how long, from whichever source told it.

A source (the provider after the end, the local join page, a CSV export) gives `Join`s: one
per session a person spent in the webinar, as that source names them. `match` merges the
sessions of one person (someone who dropped out and joined again is one attendee, with the
minutes of both sessions) and finds the registrant each belongs to: by the provider's
registrant id first, then by address. What it returns is what the store keeps per
registrant (`Presence`); joins that match nobody are counted, not kept.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

SOURCES = ("provider", "join page", "import")


@dataclass(frozen=True)
class Join:
    """One session of one person in the webinar, as a source reports it. Every instant is
    aware (UTC when it comes from the store); `minutes` is the time in that session, where the
    source says it (else it is taken from `joined_at` and `left_at` when both are known)."""

    email: str | None
    provider_registrant_id: str | None = None
    joined_at: datetime | None = None
    left_at: datetime | None = None
    minutes: int | None = None

    @property
    def spent(self) -> int | None:
        """The minutes of this session: the source's, else from its two instants."""
        if self.minutes is not None:
            return self.minutes
        if self.joined_at and self.left_at:
            return max(0, round((self.left_at - self.joined_at).total_seconds() / 60))
        return None


@dataclass(frozen=True)
class Presence:
    """What the store keeps for one registrant: attended or not, from when to when, and the
    minutes in all their sessions together (None where the source did not say)."""

    registrant_id: int
    attended: bool
    joined_at: datetime | None = None
    left_at: datetime | None = None
    minutes: int | None = None


@dataclass(frozen=True)
class Matched:
    """The outcome of `match`: one Presence per registrant who attended, and how many joins
    (sessions) belonged to nobody registered."""

    present: tuple[Presence, ...]
    unmatched: int


@dataclass(frozen=True)
class Known:
    """A registrant as matching needs them: the store's id, address and provider id."""

    id: int
    email: str
    provider_registrant_id: str | None = None


def match(registrants: Iterable[Known], joins: Iterable[Join]) -> Matched:
    """Merge the joins per registrant (by provider id, then by address, case-insensitively)."""
    registrants = list(registrants)
    by_provider_id = {r.provider_registrant_id: r.id for r in registrants if r.provider_registrant_id}
    by_email = {r.email.casefold(): r.id for r in registrants}
    sessions: dict[int, list[Join]] = {}
    unmatched = 0
    for join in joins:
        found = by_provider_id.get(join.provider_registrant_id or "")
        if found is None and join.email:
            found = by_email.get(join.email.strip().casefold())
        if found is None:
            unmatched += 1
            continue
        sessions.setdefault(found, []).append(join)
    present = tuple(merged(registrant_id, joined) for registrant_id, joined in sorted(sessions.items()))
    return Matched(present, unmatched)


def merged(registrant_id: int, sessions: Sequence[Join]) -> Presence:
    """One registrant's sessions as one presence: the first join, the last leave, and the
    minutes of every session added up (None when no session says)."""
    joins = [s.joined_at for s in sessions if s.joined_at]
    leaves = [s.left_at for s in sessions if s.left_at]
    spent = [s.spent for s in sessions if s.spent is not None]
    return Presence(
        registrant_id,
        attended=True,
        joined_at=min(joins) if joins else None,
        left_at=max(leaves) if leaves else None,
        minutes=sum(spent) if spent else None,
    )
