"""The zoom provider's settings: the Server-to-Server OAuth app, the host, the plan and the
webhooks' secret token. The client secret and the secret token are never shown."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import ClassVar

from webinar_ops import envkeys, validate
from webinar_ops.envkeys import KeyTable, PluginSettings

PLANS = ("free", "pro", "business")
USER_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")  # "me", or the id Zoom shows for a user


def user(value: str) -> str:
    """`me`, a Zoom user id, or the user's address: what Zoom takes in /users/{userId}. It goes
    into the request's path, so nothing else (a slash, a `?`) may get through."""
    if USER_ID.fullmatch(value):
        return value
    try:
        return validate.email_address(value)
    except ValueError:
        raise ValueError("must be `me`, a Zoom user id (letters, digits, - and _) or the user's address") from None


@dataclass(frozen=True)
class ZoomSettings(PluginSettings):
    """ZOOM_*: which Zoom account, app and host the zoom provider works with."""

    KEYS: ClassVar[KeyTable] = {
        "ZOOM_ACCOUNT_ID": ("account_id", envkeys.text),
        "ZOOM_CLIENT_ID": ("client_id", envkeys.text),
        "ZOOM_CLIENT_SECRET": ("client_secret", envkeys.text),
        "ZOOM_USER_ID": ("user_id", user),
        "ZOOM_API_BASE_URL": ("api_base_url", envkeys.base_url),
        "ZOOM_OAUTH_URL": ("oauth_url", validate.url),
        "ZOOM_PLAN": ("plan", envkeys.choice(*PLANS)),
        "ZOOM_WEBHOOK_SECRET_TOKEN": ("webhook_secret_token", envkeys.text),
    }
    SECRET_KEYS: ClassVar[frozenset[str]] = frozenset({"ZOOM_CLIENT_SECRET", "ZOOM_WEBHOOK_SECRET_TOKEN"})

    account_id: str | None = None
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    user_id: str = "me"
    api_base_url: str = "https://api.zoom.us/v2"
    oauth_url: str = "https://zoom.us/oauth/token"
    plan: str = "pro"
    webhook_secret_token: str | None = field(default=None, repr=False)
