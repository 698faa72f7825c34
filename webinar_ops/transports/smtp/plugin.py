"""The smtp transport as a plugin: built from its settings, checked by `doctor`."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from webinar_ops.transports import TransportConfigError, TransportPlugin, TransportUnavailable
from webinar_ops.transports.smtp.settings import SmtpSettings
from webinar_ops.transports.smtp.transport import DEFAULT_PORTS, SmtpTransport

if TYPE_CHECKING:
    from webinar_ops.config import Settings


class SmtpPlugin(TransportPlugin):
    """Sends through the SMTP server that SMTP_* describe."""

    name = "smtp"
    settings = SmtpSettings

    def create(self, settings: Settings) -> SmtpTransport:
        """The SMTP transport from the SMTP_* settings."""
        smtp = settings.of(SmtpSettings)
        if not smtp.host:
            raise TransportConfigError("MAIL_TRANSPORT is smtp but SMTP_HOST is not set")
        return SmtpTransport(
            host=smtp.host,
            port=smtp.port or DEFAULT_PORTS[smtp.security],
            security=smtp.security,
            username=smtp.username,
            password=smtp.password,
            timeout=smtp.timeout,
        )

    def doctor_checks(self, settings: Settings) -> list[Callable[[], str]]:
        """One SMTP session with the configured TLS and login."""
        return [lambda: self._check_session(settings)]

    def _check_session(self, settings: Settings) -> str:
        try:
            return self.create(settings).check()
        except TransportUnavailable as exc:  # nothing answered: the address is the likely fault
            raise TransportUnavailable(f"{exc}: check SMTP_HOST, SMTP_PORT and SMTP_SECURITY") from exc
