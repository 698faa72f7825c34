"""The `smtp` transport: smtplib, one connection per wave, with TLS and login.

Replies are sorted the way the mail checklist says: 4xx and lost connections are temporary
(the message is retried later, with backoff), 5xx is permanent for that message, and a
refused login or missing TLS stops the wave. Certificates are always verified.
"""

from __future__ import annotations

import smtplib
import socket
import ssl
from collections.abc import Callable

from webinar_ops.transports import (
    PermanentFailure,
    RecipientRefused,
    RefusedAsSetup,
    TemporaryFailure,
    TransportConfigError,
    TransportUnavailable,
)

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
        self._connection: _Session | None = None

    def __enter__(self) -> SmtpTransport:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._disconnect(polite=True)

    def send(
        self, sender: str, recipient: str, message: bytes, while_waiting: Callable[[], None] | None = None
    ) -> None:
        connection = self._connect()
        connection.while_waiting = while_waiting
        try:
            refused = connection.sendmail(sender, [recipient], message)
        except smtplib.SMTPRecipientsRefused as exc:
            self._forget_if_closed(connection)
            code, reply = exc.recipients.get(recipient, (550, b"refused"))
            raise _classify(code, reply, "rcpt") from None
        except smtplib.SMTPSenderRefused as exc:
            self._forget_if_closed(connection)
            raise _classify(exc.smtp_code, exc.smtp_error, "mail") from None
        except smtplib.SMTPDataError as exc:
            self._forget_if_closed(connection)
            raise _classify(exc.smtp_code, exc.smtp_error, "data") from None
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
        finally:
            connection.while_waiting = None
        if refused:
            code, reply = refused[recipient]
            raise _classify(code, reply, "rcpt")

    def check(self) -> str:
        """Open one session (connect, secure, log in) and close it again; returns what it did."""
        self._disconnect(polite=True)
        self._connect()
        self._disconnect(polite=True)
        login = f"logged in as {self._username}" if self._username else "no login"
        return f"{self.host}:{self.port}, security {self.security}, {login}"

    def _forget_if_closed(self, connection: _Session) -> None:
        # After a 421 smtplib has closed the socket itself; the next message must reconnect.
        if connection.sock is None:
            self._disconnect(polite=False)

    def _connect(self) -> _Session:
        if self._connection is None:
            self._connection = self._open()
        return self._connection

    def _open(self) -> _Session:
        """A new session: connected, secured as configured, logged in."""
        connection = None
        try:
            if self.security == "ssl":
                connection = _SslSession(self.host, self.port, timeout=self.timeout, context=self._tls)
            else:
                connection = _Session(self.host, self.port, timeout=self.timeout)
            connection.ehlo()
            if self.security == "starttls":
                connection.starttls(context=self._tls)
                connection.ehlo()
            if self._username:
                connection.login(self._username, self._password or "")
            return connection
        except BaseException as exc:
            if connection is not None:
                connection.close()
            raise self._opening_error(exc) from None

    def _opening_error(self, exc: BaseException) -> BaseException:
        if isinstance(exc, smtplib.SMTPAuthenticationError):
            return TransportConfigError(f"login refused for user {self._username!r}: {_text(exc.smtp_error)}")
        if isinstance(exc, smtplib.SMTPNotSupportedError):
            return TransportConfigError(f"{self.host}:{self.port} does not offer {exc}; check SMTP_SECURITY")
        if isinstance(exc, ssl.SSLCertVerificationError):
            return TransportConfigError(f"the certificate of {self.host} is not valid: {exc.verify_message}")
        if isinstance(exc, smtplib.SMTPResponseException) and _is_about_us(exc.smtp_code, exc.smtp_error):
            return TransportConfigError(f"the server refused us: {exc.smtp_code} {_text(exc.smtp_error)}")
        if isinstance(exc, smtplib.SMTPException | OSError):
            return TransportUnavailable(f"cannot reach {self.host}:{self.port}: {_describe(exc)}")
        return exc

    def _disconnect(self, polite: bool) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            connection.quit() if polite else connection.close()
        except (smtplib.SMTPException, OSError):
            connection.close()


class _Session(smtplib.SMTP):
    """An smtplib session that runs `while_waiting` once the message's data has gone out,
    while the server considers it (smtplib has no hook between the two): a server takes
    longer to accept a message than the sender takes to compose the next one."""

    while_waiting: Callable[[], None] | None = None

    def data(self, msg: bytes | str) -> tuple[int, bytes]:
        """smtplib's DATA, with the dot-stuffing done by bytes.replace: for a message with CRLF
        line ends only (ours), the same bytes as its regular expression in a tenth of the time."""
        if not isinstance(msg, bytes) or msg.count(b"\n") != msg.count(b"\r\n"):
            return super().data(msg)
        self.putcmd("data")
        code, reply = self.getreply()
        if code != 354:
            raise smtplib.SMTPDataError(code, reply)
        stuffed = (b"." if msg.startswith(b".") else b"") + msg.replace(b"\r\n.", b"\r\n..")
        if not stuffed.endswith(b"\r\n"):
            stuffed += b"\r\n"
        self.send(stuffed + b".\r\n")
        return self.getreply()

    def send(self, s: str | bytes) -> None:
        super().send(s)
        if self.while_waiting is not None and isinstance(s, bytes) and s.endswith(b"\r\n.\r\n"):
            work, self.while_waiting = self.while_waiting, None
            work()


class _SslSession(_Session, smtplib.SMTP_SSL):
    """The same, over implicit TLS (port 465)."""


def _by_code(code: int, reply: bytes | str) -> Exception:
    text = f"{code} {_text(reply)}"
    return TemporaryFailure(text) if 400 <= code < 500 else PermanentFailure(text)


def _classify(code: int, reply: bytes | str, stage: str) -> Exception:
    """A reply as a failure of this message, or of our setup (which stops the wave). `stage` is
    the command refused: "mail" (MAIL FROM), "rcpt" (RCPT TO) or "data" (the message)."""
    if code >= 500 and _is_about_us(code, reply, stage):
        refusal = TransportConfigError if stage == "mail" or code == 530 else RefusedAsSetup
        return refusal(f"the server refused us: {code} {_text(reply)}")
    if code >= 500 and (stage == "rcpt" or (stage == "data" and not _is_about_the_content(reply))):
        return RecipientRefused(f"{code} {_text(reply)}")  # one recipient a message: the refusal is theirs
    return _by_code(code, reply)


def _is_about_the_content(reply: bytes | str) -> bool:
    """Whether a refusal of the message is of what it holds (enhanced status 5.6.x, media,
    or 5.7.x, policy: a URL block list), not of the address: no reason to suppress it."""
    return _text(reply).lstrip().startswith(("5.6.", "5.7."))


# Words of a refusal that is about the sender even when it answers a recipient or the message.
_ABOUT_US_AT_RCPT = ("relay access denied", "relaying denied", "authentication required", "not authenticated")
_ABOUT_US_AT_DATA = ("spf", "dkim", "dmarc", "not authorized to send", "sender address")


def _is_about_us(code: int, reply: bytes | str, stage: str = "mail") -> bool:
    """Whether a 5xx is about our setup, not about one recipient: do not mark every registrant
    failed, and do not let one refused recipient stop the mail of everyone else.

    530 (authentication or STARTTLS required) always is. Refusing the sender (MAIL FROM), a
    5.7.x (policy, relaying, authentication) is. Refusing a recipient, 5.7.1 is what Postfix
    says of that address ("<ADDR>: Recipient address rejected: Access denied"): only relaying
    and authentication refusals are ours. Refusing the message, sender authentication is ours
    (5.7.20 to 5.7.27, SPF, DKIM, DMARC); anything else is that message's failure."""
    text = _text(reply)
    lower = text.lower()
    if code == 530:
        return True
    if stage == "rcpt":
        return any(words in lower for words in _ABOUT_US_AT_RCPT)
    if stage == "data":
        return text.startswith(tuple(f"5.7.{n} " for n in range(20, 28))) or any(w in lower for w in _ABOUT_US_AT_DATA)
    return text.startswith("5.7.")


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, socket.timeout | TimeoutError):
        return "timed out"
    return str(exc) or type(exc).__name__
