"""The smtp transport's settings: the server, its security and the login."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from webinar_ops import envkeys
from webinar_ops.envkeys import KeyTable, PluginSettings

SECURITY = ("none", "starttls", "ssl")


@dataclass(frozen=True)
class SmtpSettings(PluginSettings):
    """SMTP_*: where MAIL_TRANSPORT=smtp sends. The password is never shown."""

    KEYS: ClassVar[KeyTable] = {
        "SMTP_HOST": ("host", envkeys.text),
        "SMTP_PORT": ("port", envkeys.port),
        "SMTP_SECURITY": ("security", envkeys.choice(*SECURITY)),
        "SMTP_USERNAME": ("username", envkeys.text),
        "SMTP_PASSWORD": ("password", envkeys.text),
        "SMTP_TIMEOUT": ("timeout", envkeys.seconds),
    }
    SECRET_KEYS: ClassVar[frozenset[str]] = frozenset({"SMTP_PASSWORD"})

    host: str | None = None
    port: int | None = None
    security: str = "starttls"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout: float = 30.0
