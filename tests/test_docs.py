"""The README and the pages under docs/ hold together: every relative link reaches a file, every
#anchor a heading of that file as GitHub names it, and the README links every page."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pytest
from conftest import REPO

DOCS = REPO / "docs"
PAGES = sorted(DOCS.glob("*.md"))
DOCUMENTS = [REPO / "README.md", *PAGES]

FENCE = re.compile(r"^ {0,3}(```|~~~)")
CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1")
INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE_LINK = re.compile(r"^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)")
HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)(?:\s+#+)?\s*$")


def prose_lines(path: Path) -> list[str]:
    """The lines of a Markdown file outside fenced code blocks, where links and headings live."""
    lines, fenced = [], False
    for line in path.read_text(encoding="utf-8").splitlines():
        if FENCE.match(line):
            fenced = not fenced
        elif not fenced:
            lines.append(line)
    return lines


def links(path: Path) -> list[str]:
    """Every link target in a Markdown file, code spans and code blocks left out."""
    targets = []
    for line in prose_lines(path):
        if match := REFERENCE_LINK.match(line):
            targets.append(match.group(1))
        targets.extend(INLINE_LINK.findall(CODE_SPAN.sub("", line)))
    return targets


def heading_text(markdown: str) -> str:
    """A heading as GitHub renders it to text: code marks, emphasis and link targets gone."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", markdown)
    return re.sub(r"[`*_]{1,3}(?=\S)|(?<=\S)[`*_]{1,3}", "", text)


def github_anchor(text: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces turned to hyphens."""
    kept = "".join(c for c in text.lower() if c in " -_" or unicodedata.category(c)[0] in "LNM")
    return kept.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """The anchors of every heading in a file; a repeated name gets -1, then -2, as on GitHub."""
    names, repeats = set(), {}
    for line in prose_lines(path):
        if match := HEADING.match(line):
            base = github_anchor(heading_text(match.group(2)))
            count = repeats.get(base, 0)
            names.add(f"{base}-{count}" if count else base)
            repeats[base] = count + 1
    return names


def relative(target: str) -> bool:
    return not re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE)


def relative_links() -> list[tuple[Path, str]]:
    return [(path, target) for path in DOCUMENTS for target in links(path) if relative(target)]


@pytest.mark.parametrize(("document", "target"), relative_links(), ids=lambda v: v.name if isinstance(v, Path) else v)
def test_every_relative_link_reaches_a_file_and_its_anchor_a_heading(document, target):
    file_part, _, anchor = target.partition("#")
    destination = (document.parent / file_part).resolve() if file_part else document
    assert destination.exists(), f"{document.name} links to {target}, which does not exist"
    if anchor:
        assert destination.suffix == ".md", f"{document.name}: {target} has an anchor into a file that is not Markdown"
        assert anchor in anchors(destination), f"{document.name}: {destination.name} has no heading #{anchor}"


def test_anchors_follow_githubs_rules_for_code_punctuation_and_repeats(tmp_path):
    page = tmp_path / "page.md"
    page.write_text(
        "# Using Zoom\n## `[mail]`\n## What `make demo` does\n## Zoom's errors: 4xx, 5xx\n"
        "## Notes\n## Notes\n```sh\n# not a heading\n```\n",
        encoding="utf-8",
    )
    assert anchors(page) == {"using-zoom", "mail", "what-make-demo-does", "zooms-errors-4xx-5xx", "notes", "notes-1"}


def test_links_in_code_are_not_links(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("See [the page](a.md#b) and `[x](not-a-link.md)`.\n```\n[y](nor-this.md)\n```\n", encoding="utf-8")
    assert links(page) == ["a.md#b"]


def test_the_readme_opens_with_the_two_commands_that_set_up_a_fresh_machine():
    first_block = (REPO / "README.md").read_text(encoding="utf-8").split("```")[1]
    assert first_block.startswith("sh\nmake demo ")
    assert "\nmake test " in first_block


def test_the_readme_links_every_page_under_docs():
    linked = {(REPO / target.partition("#")[0]).resolve() for target in links(REPO / "README.md") if relative(target)}
    assert [page.name for page in PAGES if page.resolve() not in linked] == []


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_each_page_opens_with_its_title_and_one_sentence_of_what_it_is_for(page):
    title, blank, *rest = page.read_text(encoding="utf-8").split("\n")
    purpose = " ".join(rest[: rest.index("")])
    assert title.startswith("# ")
    assert blank == ""
    assert purpose.endswith("."), f"{page.name} opens with: {purpose}"
    assert ". " not in purpose, f"{page.name} opens with more than one sentence: {purpose}"
