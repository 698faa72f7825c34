"""Mail transports: how a finished message leaves.

A transport is a plugin: a package (the built-in ones are in this folder) holding its
settings, its client and its `doctor` checks, whose `TransportPlugin` object is declared under
the entry point group `webinar_ops.transports` (webinar_ops/plugins.py). The entry point's
name is the value of `MAIL_TRANSPORT`. The plugin's `create` returns an object with the
`Transport` interface below.

A transport sorts every outcome into one of three: the message was accepted (return), the
failure is temporary and the message should be retried later (`TemporaryFailure`), or it is
permanent for this message (`PermanentFailure`). A problem with the transport itself, such
as a refused login, raises `TransportConfigError`: the wave stops and says why.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from webinar_ops import plugins
from webinar_ops.envkeys import PluginSettings

if TYPE_CHECKING:  # annotations only, so that reading the configuration loads no store
    from flask import Flask

    from webinar_ops.config import Settings
    from webinar_ops.site import Site


class TemporaryFailure(Exception):
    """Try this message again later (a 4xx reply, a dropped connection, a timeout)."""


class PermanentFailure(Exception):
    """This message will never go through (a 5xx reply); the text is the server's."""


class RecipientRefused(PermanentFailure):
    """A hard bounce: the server refused this recipient for good (a 5xx to RCPT TO, or to the
    message of a single recipient). The address goes on the suppression list."""


class TransportConfigError(Exception):
    """The transport cannot work as configured (bad login, no TLS); stop and tell the organiser."""


class RefusedAsSetup(TransportConfigError):
    """A refusal of one recipient or message worded as a problem of our setup (relaying,
    sender authentication). It stops the wave, but may still be that message's alone."""


class TransportUnavailable(TemporaryFailure):
    """The server cannot be reached at all: stop this wave and try again later."""


class Transport(Protocol):
    """What the sender asks of a transport. Use as a context manager around a wave."""

    name: str

    def __enter__(self) -> Transport: ...

    def __exit__(self, *exc_info: object) -> None: ...

    def send(
        self, sender: str, recipient: str, message: bytes, while_waiting: Callable[[], None] | None = None
    ) -> None:
        """Hand over one message, as bytes with CRLF line ends. A transport that waits for
        the server's verdict on the message calls `while_waiting` (if given) once in that
        wait; the sender composes its next message there. It never raises."""
        ...


class TransportPlugin:
    """A transport as the registry knows it: its name, its settings, how to build it, and
    what it adds to `doctor` and to the web service (by default: nothing)."""

    name: str = ""
    settings: type[PluginSettings] | None = None  # None: it reads no key of its own

    def create(self, settings: Settings) -> Transport:
        """The transport, configured from `settings`; TransportConfigError when it cannot be."""
        raise NotImplementedError

    def doctor_checks(self, settings: Settings) -> list[Callable[[], str]]:
        """The checks `doctor` runs, each returning what it found or raising the transport's
        own error (TransportConfigError, TemporaryFailure) or an InputError."""
        return []

    def web_routes(self, app: Flask, site: Site) -> None:
        """Add the transport's routes (such as a bounce webhook) to the web service."""

    def reading_hint(self, settings: Settings) -> str | None:
        """Where and how to read the mails it delivered, for the demo; None when it cannot say."""
        return None


def available_transports() -> tuple[str, ...]:
    """The transport names this installation has."""
    return plugins.names(plugins.TRANSPORTS)


def transport_plugin(name: str) -> TransportPlugin:
    """The transport plugin called `name` (a name `available_transports` lists)."""
    return plugins.load(plugins.TRANSPORTS, name)


def transport_plugins() -> list[TransportPlugin]:
    """Every installed transport plugin, in the order of their names."""
    return plugins.load_all(plugins.TRANSPORTS)


def load_transport(settings: Settings) -> Transport:
    """Build the transport that `MAIL_TRANSPORT` names."""
    return transport_plugin(settings.mail_transport).create(settings)
