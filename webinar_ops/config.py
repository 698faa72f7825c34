"""Configuration: one frozen `Settings`, read from `.env` and the environment.

Real environment variables win over `.env`. Every key, its default and its meaning are
listed in `.env.example`; the names are an interface that outside tooling relies on.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from webinar_ops import validate
from webinar_ops.errors import InputError, Problem

ENV_FILE = Path(".env")
MIN_SECRET_KEY_LENGTH = 32
SMTP_SECURITY = ("none", "starttls", "ssl")
DEFAULT_BASE_URL = "http://localhost:8080"  # .env.example's value too: a setup not yet on the internet
DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class Settings:
    """Everything webinar-ops reads from its environment, validated."""

    db_path: Path = Path("data/webinar_ops.db")
    provider: str = "local"
    base_url: str = DEFAULT_BASE_URL
    secret_key: str | None = field(default=None, repr=False)
    trusted_proxy: str | None = None
    connection_limit: int = 1000
    channel_timeout: float = 30.0
    mail_transport: str = "maildir"
    mail_outbox_dir: Path = Path("data/outbox")
    mail_from: str | None = None
    mail_reply_to: str | None = None
    smtp_host: str | None = None
    smtp_port: int | None = None
    smtp_security: str = "starttls"
    smtp_username: str | None = None
    smtp_password: str | None = field(default=None, repr=False)
    smtp_timeout: float = 30.0
    dkim_domain: str | None = None
    dkim_selector: str | None = None
    dkim_private_key_file: Path | None = None
    zoom_account_id: str | None = None
    zoom_client_id: str | None = None
    zoom_client_secret: str | None = field(default=None, repr=False)
    zoom_user_id: str = "me"
    zoom_api_base_url: str = "https://api.zoom.us/v2"
    zoom_oauth_url: str = "https://zoom.us/oauth/token"
    zoom_plan: str = "pro"
    zoom_webhook_secret_token: str | None = field(default=None, repr=False)

    @property
    def sender(self) -> tuple[str | None, str]:
        """(display name, address) that mail comes from: MAIL_FROM, or a no-reply address on
        the base URL's host."""
        if self.mail_from:
            return validate.mailbox(self.mail_from)
        return "Webinar team", f"webinars@{urlsplit(self.base_url).hostname}"

    @property
    def public_origin(self) -> str | None:
        """The origin (`https://host[:port]`) that browsers name in `Origin` on the service's own
        pages, from WEBINAR_OPS_BASE_URL; None while it is the default, which names no public site."""
        if self.base_url == DEFAULT_BASE_URL:
            return None
        return web_origin(self.base_url)

    @property
    def mail_domain(self) -> str:
        """The domain of the sender address, used in Message-IDs."""
        return self.sender[1].rpartition("@")[2]

    def require_secret_key(self) -> str:
        """The signing key, or an error that says how to make one."""
        if not self.secret_key:
            raise InputError(
                "WEBINAR_OPS_SECRET_KEY is not set, and this operation signs tokens with it.",
                [
                    Problem(
                        "configuration",
                        "no signing key",
                        field="WEBINAR_OPS_SECRET_KEY",
                        fix="run `webinar-ops init`, which writes a new key to .env",
                    )
                ],
            )
        return self.secret_key


def web_origin(url: str) -> str | None:
    """`scheme://host[:port]` of `url` as a browser writes an Origin header: the host in lower
    case, the scheme's default port left out; None when `url` has no http(s) origin."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:  # a port that is no number, or out of range
        return None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    shown_port = "" if port in (None, DEFAULT_PORTS[parts.scheme]) else f":{port}"
    return f"{parts.scheme}://{host}{shown_port}"


def _text(value: str) -> str:
    return value


def _choice(*allowed: str) -> Callable[[str], str]:
    def check(value: str) -> str:
        if value not in allowed:
            raise ValueError(f"must be one of: {', '.join(allowed)}")
        return value

    return check


def _provider(value: str) -> str:
    from webinar_ops.providers import available_providers

    return _choice(*available_providers())(value)


def _transport(value: str) -> str:
    from webinar_ops.transports import available_transports

    return _choice(*available_transports())(value)


ZOOM_USER_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")  # "me", or the id Zoom shows for a user


def _zoom_user(value: str) -> str:
    """`me`, a Zoom user id, or the user's address: what Zoom takes in /users/{userId}. It goes
    into the request's path, so nothing else (a slash, a `?`) may get through."""
    if ZOOM_USER_ID.fullmatch(value):
        return value
    try:
        return validate.email_address(value)
    except ValueError:
        raise ValueError("must be `me`, a Zoom user id (letters, digits, - and _) or the user's address") from None


def _port(value: str) -> int:
    if not value.isdigit() or not 1 <= int(value) <= 65535:
        raise ValueError("must be a port number from 1 to 65535")
    return int(value)


def _connections(value: str) -> int:
    if not value.isascii() or not value.isdigit() or not 10 <= int(value) <= 10000:
        raise ValueError("must be a whole number of connections from 10 to 10000")
    return int(value)


def _seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = 0
    if not 0 < seconds <= 600:
        raise ValueError("must be a number of seconds from 0.1 to 600")
    return seconds


def _base_url(value: str) -> str:
    return validate.url(value).rstrip("/")


def _secret_key(value: str) -> str:
    if len(value) < MIN_SECRET_KEY_LENGTH:
        raise ValueError(f"must be at least {MIN_SECRET_KEY_LENGTH} characters; `webinar-ops init` generates one")
    return value


def _dkim_domain(value: str) -> str:
    from webinar_ops.signing import domain_name

    return domain_name(value)


def _dkim_selector(value: str) -> str:
    from webinar_ops.signing import selector_name

    return selector_name(value)


def _dkim_key_file(value: str) -> Path:
    from webinar_ops.signing import key_file

    return key_file(value)


def _proxy_address(value: str) -> str:
    """The IP address of the HTTPS proxy in front of `serve`, whose X-Forwarded-For is believed."""
    import ipaddress

    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        raise ValueError("is not an IP address; give the proxy's, such as 127.0.0.1") from None


def _mail_address(value: str) -> str:
    """One address, plain or with a display name (`validate.mailbox`); kept as written."""
    validate.mailbox(value)
    return value


# key -> (Settings field, parser). The order is the order of .env.example.
KEYS: dict[str, tuple[str, Callable[[str], object]]] = {
    "WEBINAR_OPS_DB": ("db_path", Path),
    "WEBINAR_OPS_PROVIDER": ("provider", _provider),
    "WEBINAR_OPS_BASE_URL": ("base_url", _base_url),
    "WEBINAR_OPS_SECRET_KEY": ("secret_key", _secret_key),
    "WEBINAR_OPS_TRUSTED_PROXY": ("trusted_proxy", _proxy_address),
    "WEBINAR_OPS_CONNECTION_LIMIT": ("connection_limit", _connections),
    "WEBINAR_OPS_CHANNEL_TIMEOUT": ("channel_timeout", _seconds),
    "MAIL_TRANSPORT": ("mail_transport", _transport),
    "MAIL_OUTBOX_DIR": ("mail_outbox_dir", Path),
    "MAIL_FROM": ("mail_from", _mail_address),
    "MAIL_REPLY_TO": ("mail_reply_to", _mail_address),
    "SMTP_HOST": ("smtp_host", _text),
    "SMTP_PORT": ("smtp_port", _port),
    "SMTP_SECURITY": ("smtp_security", _choice(*SMTP_SECURITY)),
    "SMTP_USERNAME": ("smtp_username", _text),
    "SMTP_PASSWORD": ("smtp_password", _text),
    "SMTP_TIMEOUT": ("smtp_timeout", _seconds),
    "DKIM_DOMAIN": ("dkim_domain", _dkim_domain),
    "DKIM_SELECTOR": ("dkim_selector", _dkim_selector),
    "DKIM_PRIVATE_KEY_FILE": ("dkim_private_key_file", _dkim_key_file),
    "ZOOM_ACCOUNT_ID": ("zoom_account_id", _text),
    "ZOOM_CLIENT_ID": ("zoom_client_id", _text),
    "ZOOM_CLIENT_SECRET": ("zoom_client_secret", _text),
    "ZOOM_USER_ID": ("zoom_user_id", _zoom_user),
    "ZOOM_API_BASE_URL": ("zoom_api_base_url", _base_url),
    "ZOOM_OAUTH_URL": ("zoom_oauth_url", validate.url),
    "ZOOM_PLAN": ("zoom_plan", _choice("free", "pro", "business")),
    "ZOOM_WEBHOOK_SECRET_TOKEN": ("zoom_webhook_secret_token", _text),
}

SECRET_KEYS = frozenset({"WEBINAR_OPS_SECRET_KEY", "SMTP_PASSWORD", "ZOOM_CLIENT_SECRET", "ZOOM_WEBHOOK_SECRET_TOKEN"})
DKIM_KEYS = ("DKIM_DOMAIN", "DKIM_SELECTOR", "DKIM_PRIVATE_KEY_FILE")  # all three, or none


def read_environment(env_file: Path = ENV_FILE, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The raw values: `.env` first, then the real environment on top of it."""
    from dotenv import dotenv_values

    values = {k: v for k, v in dotenv_values(env_file).items() if v is not None} if env_file.exists() else {}
    environ = os.environ if environ is None else environ
    values.update({k: v for k, v in environ.items() if k in KEYS})
    return values


def load_settings(env_file: Path = ENV_FILE, environ: Mapping[str, str] | None = None) -> Settings:
    """Read and validate the configuration. Every bad key is reported at once, by name."""
    raw = read_environment(env_file, environ)
    values: dict[str, object] = {}
    problems = []
    for key, (attribute, parse) in KEYS.items():
        text = raw.get(key, "").strip()
        if not text:
            continue
        try:
            values[attribute] = parse(text)
        except ValueError as exc:
            # A parser may ask for its value to be hidden (a key pasted where its file's name
            # belongs), and may say how to fix it.
            shown = "(hidden)" if key in SECRET_KEYS or getattr(exc, "conceal", False) else repr(text)
            where = _where(key, env_file, environ)
            problems.append(Problem(where, f"{shown} {exc}", field=key, fix=getattr(exc, "fix", None)))
    problems += _partial_dkim(raw, env_file, environ)
    if problems:
        raise InputError("The configuration has invalid values:", problems)
    return Settings(**values)


def _partial_dkim(raw: Mapping[str, str], env_file: Path, environ: Mapping[str, str] | None) -> list[Problem]:
    """A problem for each DKIM key missing from a set that has the others: half a DKIM
    setup would send unsigned mail while the organiser believes it signed."""
    given = [key for key in DKIM_KEYS if raw.get(key, "").strip()]
    if not given or len(given) == len(DKIM_KEYS):
        return []
    named = " and ".join(given)
    return [
        Problem(
            _where(key, env_file, environ),
            f"is not set, but {named} {'is' if len(given) == 1 else 'are'}: DKIM signing needs all three",
            field=key,
            fix=f"set {key} too, or leave {named} empty to send unsigned mail",
        )
        for key in DKIM_KEYS
        if key not in given
    ]


def _where(key: str, env_file: Path, environ: Mapping[str, str] | None) -> str:
    environ = os.environ if environ is None else environ
    return "environment" if key in environ else str(env_file)


def ensure_secret_key(env_file: Path = ENV_FILE) -> bool:
    """Write a fresh WEBINAR_OPS_SECRET_KEY to `env_file` unless one is set already.

    Returns True when a key was written. The file is made readable by its owner only, even
    when it already existed (a copied .env.example may be readable by everyone).
    """
    from webinar_ops.tokens import new_secret_key

    if load_settings(env_file).secret_key:
        return False
    line = f"WEBINAR_OPS_SECRET_KEY={new_secret_key()}\n"
    text = env_file.read_text(encoding="utf-8") if env_file.exists() else ""
    empty = re.search(r"^WEBINAR_OPS_SECRET_KEY=[ \t]*(#.*)?$\n?", text, flags=re.M)
    if empty:  # a copied .env.example: fill its empty line rather than add a second one
        text = text[: empty.start()] + line + text[empty.end() :]
    else:
        text += ("\n" if text and not text.endswith("\n") else "") + line
    descriptor = os.open(env_file, os.O_WRONLY | os.O_CREAT, 0o600)
    os.fchmod(descriptor, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.truncate()
        handle.write(text)
    return True
