"""Which language a reader's mail is written in.

The default templates in `templates/` are one set for every language: their sentences are
English messages, translated by each language's catalog (`webinar_ops/locale/fr/...`, see
wording.py and docs/translating.md). An organiser's own folder (`[mail] templates`) may hold
a language's templates as they stand, in a folder named by its tag:
`my-templates/fr/reminder.subject.txt` replaces the French subject only, and
`my-templates/fr-CA/` needs only what differs from French. A language without a catalog
needs a complete set there (`missing_templates`): a Spanish subject over English text is
refused when the webinar is added.

A reader's language comes from the CSV import, `registrants add --language` or the
provider. `choose` picks the template language for them: the tag itself when the webinar
offers it, else its primary language (`fr-CA` reads French), else the webinar's fallback
(`fallback_language`: its own language when offered, else English).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

from webinar_ops import shipped, validate, wording
from webinar_ops.mail import kinds

DEFAULT_LANGUAGE = wording.ENGLISH  # the templates at the root of a template folder
DEFAULT_TEMPLATES = shipped.TEMPLATES
TEMPLATE_SUFFIXES = (".txt", ".html")


class TemplateFolder(NamedTuple):
    """A folder templates are looked for in; `nested`: its subfolders too (`common/_page.html`)."""

    path: str
    nested: bool = True


# Zoom's registrant languages that are not BCP 47 tags as written (its own list, "jp-JP", "ko-KO").
_PROVIDER_PRIMARY = {"jp": "ja"}


def available(custom_folder: str | None = None) -> tuple[str, ...]:
    """The languages this installation can write mails in: English, every language with a
    catalog, and every language that has a folder of templates in the organiser's own one."""
    found = set(wording.catalog_languages())
    if custom_folder:
        found |= set(_languages_in(Path(custom_folder)))  # read afresh: the organiser may add one
    return (DEFAULT_LANGUAGE, *sorted(found - {DEFAULT_LANGUAGE}))


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


def template_folders(custom_folder: str | None, language: str) -> list[TemplateFolder]:
    """Where the templates of `language` are looked for, first match wins: the organiser's
    folder for the language, the same for its primary language (`fr-CA`, then `fr`), the
    default templates when the language has a catalog to translate them (so a French reader
    gets the default French, not the organiser's English, of a template they replaced only in
    English), then the English ones (so an organiser's French template may include an
    `_own.txt` kept beside their English ones)."""
    translated = [TemplateFolder(str(DEFAULT_TEMPLATES), nested=False)] if _translates(language) else []
    return _own_folders(custom_folder, language) + translated + _english_folders(custom_folder)


def _translates(language: str) -> bool:
    """Whether the default templates are translated into `language` (not English, which they are)."""
    return wording.primary(language) != DEFAULT_LANGUAGE and wording.has_catalog(language)


def _english_folders(custom_folder: str | None) -> list[TemplateFolder]:
    folders = [custom_folder, str(DEFAULT_TEMPLATES)] if custom_folder else [str(DEFAULT_TEMPLATES)]
    return [TemplateFolder(folder) for folder in folders]


def _own_folders(custom_folder: str | None, language: str) -> list[TemplateFolder]:
    """The organiser's folders of a language's own templates: its tag's, then its primary language's."""
    if not custom_folder:
        return []
    tags = [tag for tag in dict.fromkeys((language, wording.primary(language))) if tag != DEFAULT_LANGUAGE]
    return [TemplateFolder(str(Path(custom_folder) / tag)) for tag in tags]


MAIL_TEMPLATES = tuple(sorted(f"{kind}{part}" for kind in kinds.KINDS for part in (".subject.txt", ".txt", ".html")))


def mail_templates() -> tuple[str, ...]:
    """The templates every language needs: a subject, a text and an HTML part of each kind of mail."""
    return MAIL_TEMPLATES


def missing_templates(language: str, custom_folder: str | None = None) -> tuple[str, ...]:
    """The mail templates `language` has neither in the organiser's folder, in its own folder
    or its primary language's, nor through a catalog: its readers would get them in English.
    None for English, nor for `en-GB`, whose missing ones are the English ones, nor for a
    language with a catalog, which translates every default one."""
    if wording.primary(language) == DEFAULT_LANGUAGE or _translates(language):
        return ()
    return _lacking(_own_folders(custom_folder, language))


def missing_english_templates(custom_folder: str | None = None) -> tuple[str, ...]:
    """The mail templates found neither in the organiser's folder nor in the defaults: none in
    a sound install, every one where the package was installed without its templates."""
    return _lacking(_english_folders(custom_folder))


def _lacking(folders: Iterable[TemplateFolder]) -> tuple[str, ...]:
    """The mail templates that none of `folders` holds."""
    paths = [Path(folder.path) for folder in folders]
    return tuple(name for name in mail_templates() if not any((path / name).is_file() for path in paths))


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
    return (offered_for(tag, offered) if tag else None) or fallback


def offered_for(tag: str, offered: Iterable[str]) -> str | None:
    """The offered language a reader of `tag` reads: the tag itself, else its primary
    language (`fr` for `fr-CA`); None when neither is offered."""
    offered = tuple(offered)
    return next((candidate for candidate in (tag, wording.primary(tag)) if candidate in offered), None)


def from_provider(value: object) -> str | None:
    """A provider's language value as a tag webinar-ops keeps, or None when it is not one:
    Zoom lists `fr-FR`, but also `jp-JP` (Japanese) and `ko-KO` (Korean, a region that is no
    country), which are mended here. A value that is no language is dropped, not trusted."""
    if not isinstance(value, str) or not value.strip():
        return None
    primary, _, rest = value.strip().replace("_", "-").partition("-")
    primary = _PROVIDER_PRIMARY.get(primary.lower(), primary.lower())
    if rest and rest.upper() not in validate.countries():
        rest = ""  # `ko-KO`: keep the language, drop the region that is none
    try:
        return validate.language(f"{primary}-{rest}" if rest else primary)
    except ValueError:
        return None
