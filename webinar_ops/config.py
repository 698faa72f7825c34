"""Configuration: one frozen `Settings`, read from `.env` and the environment.

Real environment variables win over `.env`. Every key, its default and its meaning are
listed in `.env.example`; the names are an interface that outside tooling relies on.

`Settings` holds the core's keys. Each provider and transport declares its own keys and
settings class (`envkeys.PluginSettings`); they are read here from the same values, and a
plugin finds its own with `settings.of(ItsSettings)`. DKIM is the core's: the composer signs
every message, whichever transport then carries it.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

from webinar_ops import envkeys, plugins, validate
from webinar_ops.envkeys import PluginSettings
from webinar_ops.errors import InputError, Problem

ENV_FILE = Path(".env")
MIN_SECRET_KEY_LENGTH = 32
DEFAULT_BASE_URL = "http://localhost:8080"  # .env.example's value too: a setup not yet on the internet
DEFAULT_PORTS = {"http": 80, "https": 443}
S = TypeVar("S", bound=PluginSettings)


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
    mail_from: str | None = None
    mail_reply_to: str | None = None
    dkim_domain: str | None = None
    dkim_selector: str | None = None
    dkim_private_key_file: Path | None = None
    # The settings of the plugins that differ from their defaults; a plugin left out has
    # its defaults, which `of` gives.
    plugin_settings: tuple[PluginSettings, ...] = ()

    def of(self, kind: type[S]) -> S:
        """The settings of one plugin, by their class: as read, or the class's defaults."""
        return next((s for s in self.plugin_settings if type(s) is kind), None) or kind()

    def with_plugin(self, *given: PluginSettings) -> Settings:
        """These settings with `given` in place of the same plugins' settings."""
        kinds = {type(s) for s in given}
        kept = tuple(s for s in self.plugin_settings if type(s) not in kinds)
        return dataclasses.replace(self, plugin_settings=kept + given)

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


def _provider(value: str) -> str:
    return envkeys.choice(*plugins.names(plugins.PROVIDERS))(value)


def _transport(value: str) -> str:
    return envkeys.choice(*plugins.names(plugins.TRANSPORTS))(value)


def _connections(value: str) -> int:
    if not value.isascii() or not value.isdigit() or not 10 <= int(value) <= 10000:
        raise ValueError("must be a whole number of connections from 10 to 10000")
    return int(value)


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


# key -> (Settings field, parser). The order is the order of .env.example; each plugin's keys
# follow there, in the order of `known_keys`.
KEYS: envkeys.KeyTable = {
    "WEBINAR_OPS_DB": ("db_path", Path),
    "WEBINAR_OPS_PROVIDER": ("provider", _provider),
    "WEBINAR_OPS_BASE_URL": ("base_url", envkeys.base_url),
    "WEBINAR_OPS_SECRET_KEY": ("secret_key", _secret_key),
    "WEBINAR_OPS_TRUSTED_PROXY": ("trusted_proxy", _proxy_address),
    "WEBINAR_OPS_CONNECTION_LIMIT": ("connection_limit", _connections),
    "WEBINAR_OPS_CHANNEL_TIMEOUT": ("channel_timeout", envkeys.seconds),
    "MAIL_TRANSPORT": ("mail_transport", _transport),
    "MAIL_FROM": ("mail_from", _mail_address),
    "MAIL_REPLY_TO": ("mail_reply_to", _mail_address),
    "DKIM_DOMAIN": ("dkim_domain", _dkim_domain),
    "DKIM_SELECTOR": ("dkim_selector", _dkim_selector),
    "DKIM_PRIVATE_KEY_FILE": ("dkim_private_key_file", _dkim_key_file),
}

SECRET_KEYS = frozenset({"WEBINAR_OPS_SECRET_KEY"})
DKIM_KEYS = ("DKIM_DOMAIN", "DKIM_SELECTOR", "DKIM_PRIVATE_KEY_FILE")  # all three, or none


def plugin_settings_kinds() -> list[type[PluginSettings]]:
    """The settings classes of every installed transport, then every installed provider."""
    kinds: list[type[PluginSettings]] = []
    for group in (plugins.TRANSPORTS, plugins.PROVIDERS):
        kinds += [p.settings for p in plugins.load_all(group) if p.settings and p.settings not in kinds]
    return kinds


def known_keys() -> tuple[str, ...]:
    """Every key webinar-ops reads, the core's and every installed plugin's, in the order of
    .env.example."""
    return (*KEYS, *(key for kind in plugin_settings_kinds() for key in kind.KEYS))


def secret_keys() -> frozenset[str]:
    """The keys whose values are secrets, never shown: the core's and every plugin's."""
    return SECRET_KEYS.union(*(kind.SECRET_KEYS for kind in plugin_settings_kinds()))


def read_environment(env_file: Path = ENV_FILE, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The raw values: `.env` first, then the real environment on top of it."""
    from dotenv import dotenv_values

    values = {k: v for k, v in dotenv_values(env_file).items() if v is not None} if env_file.exists() else {}
    environ = os.environ if environ is None else environ
    known = set(known_keys())
    values.update({k: v for k, v in environ.items() if k in known})
    return values


def load_settings(env_file: Path = ENV_FILE, environ: Mapping[str, str] | None = None) -> Settings:
    """Read and validate the configuration. Every bad key is reported at once, by name."""
    raw = read_environment(env_file, environ)

    def where(key: str) -> str:
        return _where(key, env_file, environ)

    values, problems = envkeys.read_keys(KEYS, SECRET_KEYS, raw, where)
    problems += _partial_dkim(raw, env_file, environ)
    own = []
    for kind in plugin_settings_kinds():
        found, refused = kind.read(raw, where)
        problems += refused
        own += [found] if found else []
    if problems:
        raise InputError("The configuration has invalid values:", problems)
    return Settings(**values, plugin_settings=tuple(own))


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
