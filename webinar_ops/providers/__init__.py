"""Webinar providers: where the webinar lives and where people are registered.

A provider is a plugin: a package (the built-in ones are in this folder) holding its
settings, its client, its webhook routes, its local stand-in if it has one and its `doctor`
checks, whose `ProviderPlugin` object is declared under the entry point group
`webinar_ops.providers` (webinar_ops/plugins.py). The entry point's name is the value of
`WEBINAR_OPS_PROVIDER` and of `[provider] name` in a definition. The plugin's `create`
returns an object with the `Provider` interface below.

The interface is shaped so that Zoom, GoTo Webinar, Webex and Teams all fit: a personal
join link is optional (Webex and Teams give none), and registration reports each person's
outcome separately, so one refused address never sinks a batch.

Panelists (the speakers, who join with a link that lets them speak and be seen) are kept apart
from registrants: `add_panelists`, `panelists` and `remove_panelist` never touch a registration,
and no registrant listing or count holds a panelist. A plugin written before panelists existed
lacks these three methods; a caller checks for them as for `attendance`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from webinar_ops import plugins
from webinar_ops.attendance import Join
from webinar_ops.envkeys import PluginSettings
from webinar_ops.errors import InputError, Problem
from webinar_ops.people import Person

if TYPE_CHECKING:  # annotations only, so that reading the configuration loads no store
    from flask import Flask

    from webinar_ops.config import Settings
    from webinar_ops.definition import Definition
    from webinar_ops.site import Site
    from webinar_ops.store import Store


@dataclass(frozen=True)
class HostedWebinar:
    """The provider's side of a webinar; `updated` is False when publishing found nothing to change,
    and `problem` says what is left undone."""

    webinar_id: str
    join_url: str | None = None
    registration_url: str | None = None
    updated: bool = True
    # What the provider holds but could not set up yet (its registration form): the webinar is
    # recorded as held, the problem as its error, and the next sync publishes it again.
    problem: str | None = None


@dataclass(frozen=True)
class Registration:
    """The provider's answer for one person: registered, or an error for that person alone.

    `retry_after` is set when the provider refused for now (a daily limit) and said when to
    try again.
    """

    email: str
    registrant_id: str | None = None
    status: str | None = None
    join_url: str | None = None
    error: str | None = None
    retry_after: datetime | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class RemoteRegistrant:
    """A person the provider holds, as listed by it (some signed up on its own page)."""

    email: str
    first_name: str
    last_name: str | None
    status: str
    registrant_id: str
    join_url: str | None = None
    language: str | None = None  # a tag webinar-ops keeps (languages.from_provider), if the provider has one
    # Their answers to the registration questions: by question id, or by the question's text
    # where the provider keeps only that (Zoom's custom questions); sync checks them.
    answers: dict[str, str] = field(default_factory=dict)
    tracking_source: str | None = None  # where they came from, as validate.tracking_source keeps it, if known
    # Their own fields as the provider's form took them (Zoom's org, job_title, country), if
    # it asks them: unchecked here; sync holds them to the rules of an import.
    organisation: str | None = None
    job_title: str | None = None
    country: str | None = None


@dataclass(frozen=True)
class HeldRegistrant:
    """Someone the provider holds, as the store last heard of them: their address, the
    provider's registrant id and the status the provider last gave them."""

    email: str
    registrant_id: str
    status: str | None = None


@dataclass(frozen=True)
class NewPanelist:
    """A speaker to make a panelist: their address (as the definition checked it) and their
    name as the provider shows it to the audience. A provider cuts the name to its own limit."""

    email: str
    name: str


@dataclass(frozen=True)
class Panelist:
    """A panelist the provider holds: its id for them, their address and name, and their own
    join link, which lets them speak. The link is a secret: it is left out of the repr, and
    never goes into a log, an error or another person's mail."""

    panelist_id: str
    email: str
    name: str
    join_url: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class PanelistResult:
    """The provider's answer for one speaker: a panelist (with its id and join link), or an
    error for that speaker alone. `retry_after` is set when the provider refused for now."""

    email: str
    panelist_id: str | None = None
    join_url: str | None = field(default=None, repr=False)
    error: str | None = None
    retry_after: datetime | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


class Provider(Protocol):
    """What webinar-ops asks of a provider."""

    name: str
    batch_size: int

    def publish(self, definition: Definition, webinar_id: str | None) -> HostedWebinar:
        """Create the webinar (webinar_id None) or bring an existing one up to date, with the
        registration questions it asks (`definition.registration.questions`)."""
        ...

    def register(self, webinar_id: str, people: Sequence[Person], approve: bool) -> list[Registration]:
        """Register up to `batch_size` people, with their answers to the registration
        questions (`Person.answers`); one Registration per person, in order. A provider
        ignores what it has no field for (such as the time zone)."""
        ...

    def registrants(self, webinar_id: str) -> Iterator[RemoteRegistrant]:
        """Every registrant the provider holds for the webinar, whatever their status."""
        ...

    def cancel(self, webinar_id: str, registrant_id: str, email: str) -> None:
        """Cancel one registration."""
        ...

    def decide(self, webinar_id: str, people: Sequence[HeldRegistrant], approved: bool) -> list[Registration]:
        """Approve (`approved`) or deny registrations the provider holds, as the organiser
        decided here; one Registration per person, in order: its new status (`approved` or
        `denied`), or the error for that person alone. Deciding twice is the same decision."""
        ...

    def cancel_webinar(self, webinar_id: str) -> None:
        """Cancel the webinar itself, without the provider mailing anyone (webinar-ops tells
        the registrants). A webinar the provider no longer holds counts as cancelled."""
        ...

    def attendance(self, webinar_id: str) -> list[Join]:
        """Every session someone spent in the webinar, once it has ended: one Join each, with
        the provider's registrant id where it has one. Raises AttendanceNotReady while the
        provider cannot tell yet (Zoom prepares its report some time after the end)."""
        ...

    def add_panelists(self, webinar_id: str, speakers: Sequence[NewPanelist]) -> list[PanelistResult]:
        """Make each speaker a panelist of the webinar, with a join link of their own; one
        PanelistResult per speaker, in order, a refusal failing that speaker alone. Adding
        someone who is a panelist already gives them back as they are (same id, same link), so
        a retry never makes anyone a panelist twice. The provider sends them no mail."""
        ...

    def panelists(self, webinar_id: str) -> list[Panelist]:
        """Every panelist the provider holds for the webinar (never a registrant)."""
        ...

    def remove_panelist(self, webinar_id: str, panelist_id: str, email: str) -> None:
        """Remove one panelist, named by the provider's id for them (or, without one, their
        address); their join link stops working. Someone the provider no longer holds as a
        panelist counts as removed."""
        ...

    def delete_webinar(self, webinar_id: str) -> None:
        """Remove the webinar, its registrations and its panelists, without the provider mailing anyone (for
        a test webinar, `webinar delete`). A provider that keeps its rows in webinar-ops's
        database writes them in the caller's transaction and does not commit it. A webinar the
        provider no longer holds counts as deleted."""
        ...


class ProviderError(Exception):
    """A provider refused or failed; the message is for the organiser and holds no secret."""


class AttendanceNotReady(ProviderError):
    """The provider cannot tell who attended yet; ask again after `retry_after` (None: at the
    next sync)."""

    def __init__(self, message: str, retry_after: datetime | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class ProviderPlugin:
    """A provider as the registry knows it: its name, its settings, how to build it, and what
    it adds to `doctor` and to the web service (by default: nothing)."""

    name: str = ""
    title: str = ""  # the name as an organiser writes it, such as "Zoom"
    settings: type[PluginSettings] | None = None  # None: it reads no key of its own

    def create(self, settings: Settings, store: Store) -> Provider:
        """The provider, configured from `settings`."""
        raise NotImplementedError

    def doctor_checks(self, settings: Settings) -> list[Callable[[], str]]:
        """The checks `doctor` runs, each returning what it found or raising ProviderError or
        an InputError (for Zoom: one token request)."""
        return []

    def web_routes(self, app: Flask, site: Site) -> None:
        """Add the provider's routes (its webhooks, its join pages) to the web service."""

    def join_link_secret(self, link: str) -> str | None:
        """The secret part of a personal join link in this provider's format, or None when
        `link` is not in it: errors and logs never show it."""
        return None


def available_providers() -> tuple[str, ...]:
    """The provider names this installation has."""
    return plugins.names(plugins.PROVIDERS)


def provider_plugin(name: str) -> ProviderPlugin:
    """The provider plugin called `name` (a name `available_providers` lists)."""
    return plugins.load(plugins.PROVIDERS, name)


def provider_plugins() -> list[ProviderPlugin]:
    """Every installed provider plugin, in the order of their names."""
    return plugins.load_all(plugins.PROVIDERS)


def load_provider(name: str, settings: Settings, store: Store) -> Provider:
    """Build the provider called `name` from its plugin."""
    if name not in available_providers():
        raise InputError(
            f"Unknown provider {name!r}.",
            [
                Problem(
                    "configuration",
                    f"no provider called {name!r}",
                    field="provider",
                    fix=f"use one of: {', '.join(available_providers())}",
                )
            ],
        )
    return provider_plugin(name).create(settings, store)


def chunks(items: Sequence, size: int) -> Iterable[Sequence]:
    """Split `items` into consecutive slices of at most `size`."""
    for start in range(0, len(items), size):
        yield items[start : start + size]
