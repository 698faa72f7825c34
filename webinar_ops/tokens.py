"""Unguessable, signed tokens: personal join links, unsubscribe, cancel and calendar file links.

A token is an HMAC-SHA256 of a purpose and a subject under `WEBINAR_OPS_SECRET_KEY`,
truncated to 128 bits and written in URL-safe base64. The same subject always gives the
same token, so registering a person twice yields the same link; without the key nobody
can compute or forge one. Tokens are compared in constant time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Callable

from webinar_ops import plugins

TOKEN_BYTES = 16


def sign(secret_key: str, purpose: str, *subject: str) -> str:
    """The token for `subject` (for example a webinar id and an address) under `purpose`."""
    message = "\x1f".join((purpose, *subject)).encode("utf-8")
    digest = hmac.new(secret_key.encode("utf-8"), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:TOKEN_BYTES]).rstrip(b"=").decode("ascii")


def verify(secret_key: str, token: str, purpose: str, *subject: str) -> bool:
    """True when `token` is the one `sign` gives for these values; constant-time."""
    return hmac.compare_digest(token.encode("utf-8"), sign(secret_key, purpose, *subject).encode("utf-8"))


def unsubscribe_token(secret_key: str, registrant_id: int, email: str) -> str:
    """The token of one registration's unsubscribe link: its id, and a signature of the id
    and the address, so that no other registration's token can be made from it."""
    return _registration_token(secret_key, "unsubscribe", registrant_id, email)


def unsubscribe_id(secret_key: str, token: str, email_of: Callable[[int], str | None]) -> int | None:
    """The registration a token unsubscribes, or None when the token is not one we made.
    `email_of(id)` gives a registration's address (None when there is no such one)."""
    return _registration_id(secret_key, "unsubscribe", token, email_of)


def cancel_token(secret_key: str, registrant_id: int, email: str) -> str:
    """The token of one registration's cancel link (`/c/TOKEN`): a purpose of its own, so
    that an unsubscribe or calendar token cannot cancel, nor a cancel token unsubscribe."""
    return _registration_token(secret_key, "cancel", registrant_id, email)


def cancel_id(secret_key: str, token: str, email_of: Callable[[int], str | None]) -> int | None:
    """The registration a token cancels, or None when the token is not one we made."""
    return _registration_id(secret_key, "cancel", token, email_of)


def calendar_token(secret_key: str, registrant_id: int, email: str) -> str:
    """The token of one registration's calendar file link (its invite.ics on the web)."""
    return _registration_token(secret_key, "calendar", registrant_id, email)


def calendar_id(secret_key: str, token: str, email_of: Callable[[int], str | None]) -> int | None:
    """The registration whose calendar file a token opens, or None when it is not one we made."""
    return _registration_id(secret_key, "calendar", token, email_of)


def _registration_token(secret_key: str, purpose: str, registrant_id: int, email: str) -> str:
    return f"{registrant_id}.{sign(secret_key, purpose, str(registrant_id), email)}"


def _registration_id(secret_key: str, purpose: str, token: str, email_of: Callable[[int], str | None]) -> int | None:
    raw_id, _, signature = token.partition(".")
    # isascii: str.isdigit also takes digits such as "²", which int() refuses.
    if not (raw_id.isascii() and raw_id.isdigit()) or len(raw_id) > 18 or not signature:
        return None
    email = email_of(int(raw_id))
    if email is None or not verify(secret_key, signature, purpose, raw_id, email):
        return None
    return int(raw_id)


def conceal(text: str, link: str | None) -> str:
    """`text` without the personal link `link` or its secret part, for an error or a log: a
    mail server or a template error may quote what it refused."""
    if not link:
        return text
    text = text.replace(link, "[the join link]")
    for secret in _secrets_of(link):
        text = text.replace(secret, "[the join link]") if len(secret) >= 16 else text
    return text


def _secrets_of(link: str) -> list[str]:
    """The secret part of a join link as its provider writes it (Zoom's `?tk=...`, the local
    `/j/TOKEN`); a link no provider knows is taken to end in its secret."""
    found = [secret for p in plugins.load_all(plugins.PROVIDERS) if (secret := p.join_link_secret(link))]
    return found or [link.rpartition("/")[2]]


def new_secret_key() -> str:
    """A fresh signing key: 256 random bits."""
    return secrets.token_urlsafe(32)
