"""Offline link check of the course, failing on the first kind of problem
it finds. Usage: check_links.py README.md LESSONS_DIR BOOK_DIR

- Markdown (README and lessons, as read on a forge): every relative link
  or image points at a file of the repository; README anchors exist.
- The built book: every local href/src of every page resolves to a file of
  the book, and every #fragment to an id on the target page.
External links (with a scheme) are not followed: the check runs offline."""

import html.parser
import pathlib
import re
import sys
import urllib.parse

errors: list[str] = []


def strip_fences(text: str) -> str:
    """Markdown without fenced blocks."""
    return re.sub(r"^(```|~~~).*?^\1", "", text, flags=re.S | re.M)


def strip_code(text: str) -> str:
    """Markdown without fenced blocks and inline code, where a link is text."""
    return re.sub(r"`[^`\n]*`", "", strip_fences(text))


def github_slug(heading: str) -> str:
    heading = re.sub(r"[`*]", "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", heading).replace(" ", "-")


def check_markdown(path: pathlib.Path, root: pathlib.Path) -> None:
    text = path.read_text(encoding="utf-8")
    body = strip_code(text)
    headings = re.findall(r"^#+ (.*)$", strip_fences(text), re.M)
    anchors = {github_slug(h) for h in headings}
    targets = re.findall(r"\]\(([^)\s]+)\)", body)
    targets += re.findall(r"<img[^>]*\ssrc=\"([^\"]+)\"", body)
    for target in targets:
        if re.match(r"[a-z][a-z0-9+.-]*:", target):
            continue
        file, _, fragment = target.partition("#")
        if not file:
            if fragment not in anchors:
                errors.append(f"{path}: no heading for anchor #{fragment}")
            continue
        resolved = (path.parent / urllib.parse.unquote(file)).resolve()
        if root not in resolved.parents and resolved != root:
            errors.append(f"{path}: link {target} leaves the repository")
        elif not resolved.exists():
            errors.append(f"{path}: link {target}: no such file")


class Page(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.links: list[str] = []
        self.base: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "base":
            self.base = attrs.get("href")
        for key in ("id", "name"):
            if attrs.get(key):
                self.ids.add(attrs[key])
        for key in ("href", "src", "data"):
            if attrs.get(key) and tag in ("a", "link", "script", "img", "iframe", "object", "source"):
                self.links.append(attrs[key])


def check_book(book: pathlib.Path) -> None:
    pages: dict[pathlib.Path, Page] = {}
    for path in book.rglob("*.html"):
        page = Page()
        page.feed(path.read_text(encoding="utf-8"))
        pages[path.resolve()] = page
    if not pages:
        errors.append(f"{book}: no pages")
    for path, page in pages.items():
        for link in page.links:
            if re.match(r"[a-z][a-z0-9+.-]*:", link) or link.startswith("//"):
                continue
            url = urllib.parse.urlsplit(link)
            # An absolute path, or any path under <base href="/"> (mdbook's 404
            # page), starts from the book's root, where the site is served.
            here = book.resolve() if page.base == "/" or url.path.startswith("/") else path.parent
            target = path if not url.path else (here / urllib.parse.unquote(url.path).lstrip("/")).resolve()
            if target.is_dir():
                target = target / "index.html"
            if not target.exists():
                errors.append(f"{path.relative_to(book.resolve())}: broken link {link}")
            elif url.fragment and target in pages and url.fragment not in pages[target].ids:
                errors.append(f"{path.relative_to(book.resolve())}: no anchor for {link}")


def main() -> None:
    readme, lessons, book = (pathlib.Path(a) for a in sys.argv[1:4])
    root = readme.resolve().parent
    for path in [readme, *sorted(lessons.glob("*.md"))]:
        check_markdown(path, root)
    check_book(book)
    for error in errors:
        print(f"check_links: {error}", file=sys.stderr)
    if errors:
        sys.exit(1)


main()
