"""Reading keys from the environment: the parsers and the loop that the core's `Settings` and
every plugin's own settings share.

A table maps each key to the attribute it fills and a parser. A parser takes the stripped text
and returns the value, or raises ValueError with what is allowed; the error may carry `fix`
(how to mend it) and `conceal` (the value itself must not be shown). A key whose text is empty
keeps its default.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Self

from webinar_ops import validate
from webinar_ops.errors import Problem

KeyTable = dict[str, tuple[str, Callable[[str], Any]]]


def read_keys(
    table: KeyTable, secret_keys: frozenset[str], raw: Mapping[str, str], where: Callable[[str], str]
) -> tuple[dict[str, Any], list[Problem]]:
    """The parsed values of the keys in `table` that `raw` sets, by attribute, and a problem for
    each one refused. `where(key)` names the source of a key's value (a file or the environment)."""
    values: dict[str, Any] = {}
    problems = []
    for key, (attribute, parse) in table.items():
        text = raw.get(key, "").strip()
        if not text:
            continue
        try:
            values[attribute] = parse(text)
        except ValueError as exc:
            # A parser may ask for its value to be hidden (a key pasted where its file's name
            # belongs), and may say how to fix it.
            shown = "(hidden)" if key in secret_keys or getattr(exc, "conceal", False) else repr(text)
            problems.append(Problem(where(key), f"{shown} {exc}", field=key, fix=getattr(exc, "fix", None)))
    return values, problems


@dataclass(frozen=True)
class PluginSettings:
    """Base of a plugin's own settings: a frozen dataclass whose class names its keys.

    A subclass lists its keys in `KEYS` (in the order of .env.example) and its secrets in
    `SECRET_KEYS`; declare a secret's field with `repr=False`.
    """

    KEYS: ClassVar[KeyTable] = {}
    SECRET_KEYS: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def read(cls, raw: Mapping[str, str], where: Callable[[str], str]) -> tuple[Self | None, list[Problem]]:
        """These settings from the raw values, and a problem for each refused value. None
        when they are the defaults (`Settings.of` gives those), so that settings that say the
        same are equal."""
        values, problems = read_keys(cls.KEYS, cls.SECRET_KEYS, raw, where)
        found = cls(**values) if not problems else None
        return (found if found != cls() else None), problems


# -- parsers ---------------------------------------------------------------------------------


def text(value: str) -> str:
    """Any text, as written."""
    return value


def choice(*allowed: str) -> Callable[[str], str]:
    """A parser that takes one of `allowed`."""

    def check(value: str) -> str:
        if value not in allowed:
            raise ValueError(f"must be one of: {', '.join(allowed)}")
        return value

    return check


def port(value: str) -> int:
    """A TCP port number."""
    if not value.isdigit() or not 1 <= int(value) <= 65535:
        raise ValueError("must be a port number from 1 to 65535")
    return int(value)


def seconds(value: str) -> float:
    """A timeout: more than 0, at most 600 seconds."""
    try:
        number = float(value)
    except ValueError:
        number = 0
    if not 0 < number <= 600:
        raise ValueError("must be a number of seconds from 0.1 to 600")
    return number


def base_url(value: str) -> str:
    """An http(s) URL without its trailing slash."""
    return validate.url(value).rstrip("/")
