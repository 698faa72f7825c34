"""Mail transports: how a finished message leaves.

A transport is one module in this package that defines `create_transport(settings)`
returning an object with the `Transport` interface below. Its name is the module's name,
which is also the value of `MAIL_TRANSPORT`.

A transport sorts every outcome into one of three: the message was accepted (return), the
failure is temporary and the message should be retried later (`TemporaryFailure`), or it is
permanent for this message (`PermanentFailure`). A problem with the transport itself, such
as a refused login, raises `TransportConfigError`: the wave stops and says why.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from webinar_ops.config import Settings


class TemporaryFailure(Exception):
    """Try this message again later (a 4xx reply, a dropped connection, a timeout)."""


class PermanentFailure(Exception):
    """This message will never go through (a 5xx reply); the text is the server's."""


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


def available_transports() -> tuple[str, ...]:
    """The transport names this installation has: one per module in this package."""
    return tuple(sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_")))


def load_transport(settings: Settings) -> Transport:
    """Build the transport that `MAIL_TRANSPORT` names."""
    module = importlib.import_module(f"{__name__}.{settings.mail_transport}")
    return module.create_transport(settings)
