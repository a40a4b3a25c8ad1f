"""The README is a front door that fits a screen, and every page behind it is reachable from a clone alone."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import REPO

README = REPO / "README.md"
DOCS = sorted((REPO / "docs").glob("*.md"))
PAGES = [README, *DOCS]

# [text](target) and ![alt](target); <scheme://...> autolinks. Code spans and fences are removed first, so
# a URL shown as an example (`https://api.hubapi.com`) is not a link.
LINK = re.compile(r"""!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+(?:"[^"]*"|'[^']*'))?\s*\)""")
AUTOLINK = re.compile(r"<([a-z][a-z0-9+.-]*:[^>\s]+)>", re.IGNORECASE)
FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1", re.DOTALL)


def links(page: Path) -> list[str]:
    text = CODE_SPAN.sub("", FENCE.sub("", page.read_text(encoding="utf-8")))
    return LINK.findall(text) + AUTOLINK.findall(text)


def anchors(page: Path) -> set[str]:
    """GitHub's heading ids: lower case, punctuation dropped, spaces to hyphens, repeats numbered."""
    seen: dict[str, int] = {}
    for heading in re.findall(r"^#{1,6}\s+(.+?)\s*#*$", FENCE.sub("", page.read_text(encoding="utf-8")), re.MULTILINE):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        seen[slug] = seen.get(slug, -1) + 1
        if seen[slug]:
            seen[f"{slug}-{seen[slug]}"] = 0
    return set(seen)


def test_link_parser_sees_links_and_skips_code(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "[a](docs/a.md) ![pic](docs/p.png) <https://x.example> [b](../b.md#part 'title')\n"
        "`[not](a-link.md)` and\n```\n[nor](this.md)\n```\n",
        encoding="utf-8",
    )
    assert links(page) == ["docs/a.md", "docs/p.png", "../b.md#part", "https://x.example"]


def test_heading_anchors_are_githubs(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("# The pull\n## Bad input (`ops.quarantine`)\n## Notes\n## Notes\n```\n# not a heading\n```\n")
    assert anchors(page) == {"the-pull", "bad-input-opsquarantine", "notes", "notes-1"}


def test_readme_fits_a_screen_or_three() -> None:
    assert len(README.read_text(encoding="utf-8").splitlines()) <= 150


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_every_link_stays_in_the_repository_and_resolves(page: Path) -> None:
    for target in links(page):
        assert not re.match(r"[a-z][a-z0-9+.-]*:", target, re.IGNORECASE), f"{page.name}: {target} leaves the repo"
        path, _, anchor = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        assert resolved.is_relative_to(REPO.resolve()), f"{page.name}: {target} points outside the repository"
        assert resolved.exists(), f"{page.name}: {target} does not exist"
        if anchor and resolved.suffix == ".md":
            assert anchor in anchors(resolved), f"{page.name}: {target}: no such heading"
    assert "../shared" not in page.read_text(encoding="utf-8"), f"{page.name} names a folder a clone does not have"


def test_readme_links_every_docs_page() -> None:
    linked = {(REPO / target.split("#", 1)[0]).resolve() for target in links(README)}
    missing = [page.name for page in DOCS if page.resolve() not in linked]
    assert DOCS and not missing, f"docs pages the README does not link: {missing}"


def test_ci_runs_the_readme_test_command() -> None:
    assert "make test" in README.read_text(encoding="utf-8")
    ci = (REPO / ".ci/run").read_text(encoding="utf-8").splitlines()
    assert "make test" in [line.strip() for line in ci]
