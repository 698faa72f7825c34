"""Which language a reader's mail is written in.

English templates are the defaults in `templates/`; each other language has a complete set
in a folder named by its tag, such as `templates/fr/`. An organiser's own folder
(`[mail] templates`) may hold the same: `my-templates/fr/reminder.subject.txt` replaces the
French subject only, and `my-templates/fr-CA/` needs only what differs from French. A
language's set must be complete (`missing_templates`): a Spanish subject over English text
is refused when the webinar is added.

A reader's language comes from the CSV import, `registrants add --language` or the
provider. `choose` picks the template language for them: the tag itself when the webinar
offers it, else its primary language (`fr-CA` reads French), else the webinar's fallback
(`fallback_language`: its own language when offered, else English).
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from webinar_ops import shipped, validate, wording

if TYPE_CHECKING:
    from webinar_ops.definition import Definition

DEFAULT_LANGUAGE = wording.ENGLISH  # the templates at the root of a template folder
DEFAULT_TEMPLATES = shipped.TEMPLATES
TEMPLATE_SUFFIXES = (".txt", ".html")
# Zoom's registrant languages that are not BCP 47 tags as written (its own list, "jp-JP", "ko-KO").
_PROVIDER_PRIMARY = {"jp": "ja"}


def available(custom_folder: str | None = None) -> tuple[str, ...]:
    """The languages this installation can write mails in: English, and every language that
    has a folder of templates in the default folder or the organiser's own one."""
    found = set(_shipped_languages())
    if custom_folder:
        found |= set(_languages_in(Path(custom_folder)))  # read afresh: the organiser may add one
    return (DEFAULT_LANGUAGE, *sorted(found - {DEFAULT_LANGUAGE}))


@lru_cache(maxsize=1)
def _shipped_languages() -> tuple[str, ...]:
    # Cached: the shipped folder does not change while a process runs, and every Composer asks.
    return _languages_in(DEFAULT_TEMPLATES)


def _languages_in(folder: Path) -> tuple[str, ...]:
    """Subfolders of `folder` named by a language tag and holding templates."""
    if not folder.is_dir():
        return ()
    return tuple(
        sub.name
        for sub in sorted(folder.iterdir())
        if sub.is_dir() and _is_tag(sub.name) and any(p.suffix in TEMPLATE_SUFFIXES for p in sub.iterdir())
    )


def _is_tag(name: str) -> bool:
    try:
        return validate.language(name) == name
    except ValueError:
        return False


def offered(definition: Definition) -> tuple[str, ...]:
    """The languages a webinar's mails are written in: its `[mail] languages`, or every
    language that has templates."""
    return definition.mail.languages or available(definition.mail.templates)


def display_name(tag: str) -> str:
    """A language's name as its own readers write it: `English`, `Français`, `Français
    (Canada)`; the tag itself for a language CLDR has no name for (`fj`)."""
    from babel import Locale, UnknownLocaleError

    try:
        locale = Locale.parse(tag, sep="-")
    except (UnknownLocaleError, ValueError):
        return tag
    name = locale.get_display_name(locale) or tag
    return wording.upper_first(name)


def template_folders(custom_folder: str | None, language: str) -> list[str]:
    """Where the templates of `language` are looked for, first match wins: the organiser's
    folder for the language, the default one for it, the same for its primary language
    (`fr-CA`, then `fr`), then the English ones (so an organiser's French template may
    include an `_own.txt` kept beside their English ones)."""
    return _own_folders(custom_folder, language) + _english_folders(custom_folder)


def _english_folders(custom_folder: str | None) -> list[str]:
    return [custom_folder, str(DEFAULT_TEMPLATES)] if custom_folder else [str(DEFAULT_TEMPLATES)]


def _own_folders(custom_folder: str | None, language: str) -> list[str]:
    """The folders a language's templates come from before the English ones."""
    tags = [tag for tag in dict.fromkeys((language, wording.primary(language))) if tag != DEFAULT_LANGUAGE]
    return [str(Path(folder) / tag) for tag in tags for folder in _english_folders(custom_folder)]


MAIL_KINDS = ("confirmation", "reminder", "update", "cancellation", "after")
MAIL_TEMPLATES = tuple(sorted(f"{kind}{part}" for kind in MAIL_KINDS for part in (".subject.txt", ".txt", ".html")))


def mail_templates() -> tuple[str, ...]:
    """The templates every language needs: a subject, a text and an HTML part of each kind of mail."""
    return MAIL_TEMPLATES


def missing_templates(language: str, custom_folder: str | None = None) -> tuple[str, ...]:
    """The mail templates `language` has neither in the organiser's folder nor in the defaults,
    in its own folder or its primary language's: its readers would get them in English. None
    for English, nor for `en-GB`, whose missing ones are the English ones."""
    if wording.primary(language) == DEFAULT_LANGUAGE:
        return ()
    return _lacking(_own_folders(custom_folder, language))


def missing_english_templates(custom_folder: str | None = None) -> tuple[str, ...]:
    """The mail templates found neither in the organiser's folder nor in the defaults: none in
    a sound install, every one where the package was installed without its templates."""
    return _lacking(_english_folders(custom_folder))


def _lacking(folders: Iterable[str]) -> tuple[str, ...]:
    """The mail templates that none of `folders` holds."""
    folders = [Path(folder) for folder in folders]
    return tuple(name for name in mail_templates() if not any((folder / name).is_file() for folder in folders))


def fallback_language(offered: Iterable[str], webinar_language: str) -> str:
    """The language of readers whose own one is not offered (or not known): the webinar's
    own language when offered, else English, else the first offered."""
    offered = tuple(offered)
    for candidate in (webinar_language, wording.primary(webinar_language), DEFAULT_LANGUAGE):
        if candidate in offered:
            return candidate
    return offered[0]


def choose(tag: str | None, offered: Iterable[str], fallback: str) -> str:
    """The template language for a reader whose language is `tag` (None when unknown):
    `fr-CA` is French when only `fr` is offered; a language not offered gets `fallback`."""
    if not tag:
        return fallback
    offered = tuple(offered)
    for candidate in (tag, wording.primary(tag)):
        if candidate in offered:
            return candidate
    return fallback


def from_provider(value: object) -> str | None:
    """A provider's language value as a tag webinar-ops keeps, or None when it is not one:
    Zoom lists `fr-FR`, but also `jp-JP` (Japanese) and `ko-KO` (Korean, a region that is no
    country), which are mended here. A value that is no language is dropped, not trusted."""
    if not isinstance(value, str) or not value.strip():
        return None
    primary, _, rest = value.strip().replace("_", "-").partition("-")
    primary = _PROVIDER_PRIMARY.get(primary.lower(), primary.lower())
    if rest and rest.upper() not in validate.COUNTRIES:
        rest = ""  # `ko-KO`: keep the language, drop the region that is none
    try:
        return validate.language(f"{primary}-{rest}" if rest else primary)
    except ValueError:
        return None
