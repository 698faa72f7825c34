"""The `smtp` transport: smtplib, one connection per wave, with TLS and login.

Replies are sorted the way the mail checklist says: 4xx and lost connections are temporary
(the message is retried later, with backoff), 5xx is permanent for that message, and a
refused login or missing TLS stops the wave. Certificates are always verified.
"""

from __future__ import annotations

import smtplib
import socket
import ssl
from typing import TYPE_CHECKING

from webinar_ops.transports import PermanentFailure, TemporaryFailure, TransportConfigError, TransportUnavailable

if TYPE_CHECKING:
    from webinar_ops.config import Settings

DEFAULT_PORTS = {"none": 25, "starttls": 587, "ssl": 465}
TIMEOUT_SECONDS = 30


class SmtpTransport:
    """Sends through one SMTP server, reconnecting when it drops the connection."""

    name = "smtp"

    def __init__(
        self,
        host: str,
        port: int,
        security: str = "starttls",
        username: str | None = None,
        password: str | None = None,
        timeout: float = TIMEOUT_SECONDS,
        tls_context: ssl.SSLContext | None = None,
    ):
        self.host, self.port, self.security = host, port, security
        self._username, self._password = username, password
        self.timeout = timeout
        self._tls = tls_context or ssl.create_default_context()
        self._connection: smtplib.SMTP | None = None

    def __enter__(self) -> SmtpTransport:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._disconnect(polite=True)

    def send(self, sender: str, recipient: str, message: bytes) -> None:
        connection = self._connect()
        try:
            refused = connection.sendmail(sender, [recipient], message)
        except smtplib.SMTPRecipientsRefused as exc:
            code, reply = exc.recipients.get(recipient, (550, b"refused"))
            raise _by_code(code, reply) from None
        except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as exc:
            if exc.smtp_code >= 500 and _is_policy(exc.smtp_error):
                raise TransportConfigError(f"the server refused us: {exc.smtp_code} {_text(exc.smtp_error)}") from None
            raise _by_code(exc.smtp_code, exc.smtp_error) from None
        except (smtplib.SMTPAuthenticationError, smtplib.SMTPNotSupportedError) as exc:
            raise TransportConfigError(f"the server refused the session: {exc}") from None
        except smtplib.SMTPResponseException as exc:
            self._disconnect(polite=False)
            raise _by_code(exc.smtp_code, exc.smtp_error) from None
        except (smtplib.SMTPException, OSError) as exc:
            # Lost after DATA, the message may have arrived; the stored Message-ID lets the
            # receiver tell the retry from a new mail.
            self._disconnect(polite=False)
            raise TemporaryFailure(f"connection lost: {_describe(exc)}") from None
        if refused:
            code, reply = refused[recipient]
            raise _by_code(code, reply)

    def _connect(self) -> smtplib.SMTP:
        if self._connection is not None:
            return self._connection
        try:
            if self.security == "ssl":
                connection = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=self._tls)
            else:
                connection = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            connection.ehlo()
            if self.security == "starttls":
                connection.starttls(context=self._tls)
                connection.ehlo()
            if self._username:
                connection.login(self._username, self._password or "")
        except smtplib.SMTPAuthenticationError as exc:
            raise TransportConfigError(f"login refused for user {self._username!r}: {_text(exc.smtp_error)}") from None
        except smtplib.SMTPNotSupportedError as exc:
            raise TransportConfigError(f"{self.host}:{self.port} does not offer {exc}; check SMTP_SECURITY") from None
        except ssl.SSLCertVerificationError as exc:
            raise TransportConfigError(f"the certificate of {self.host} is not valid: {exc.verify_message}") from None
        except (smtplib.SMTPException, OSError) as exc:
            raise TransportUnavailable(f"cannot reach {self.host}:{self.port}: {_describe(exc)}") from None
        self._connection = connection
        return connection

    def _disconnect(self, polite: bool) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            connection.quit() if polite else connection.close()
        except (smtplib.SMTPException, OSError):
            connection.close()


def _by_code(code: int, reply: bytes | str) -> Exception:
    text = f"{code} {_text(reply)}"
    return TemporaryFailure(text) if 400 <= code < 500 else PermanentFailure(text)


def _is_policy(reply: bytes | str) -> bool:
    """5.7.x is about us (policy, authentication), not about the recipient."""
    return _text(reply).startswith("5.7.")


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, socket.timeout | TimeoutError):
        return "timed out"
    return str(exc) or type(exc).__name__


def create_transport(settings: Settings) -> SmtpTransport:
    """The SMTP transport from the SMTP_* settings."""
    if not settings.smtp_host:
        raise TransportConfigError("MAIL_TRANSPORT is smtp but SMTP_HOST is not set")
    return SmtpTransport(
        host=settings.smtp_host,
        port=settings.smtp_port or DEFAULT_PORTS[settings.smtp_security],
        security=settings.smtp_security,
        username=settings.smtp_username,
        password=settings.smtp_password,
        timeout=settings.smtp_timeout,
    )
