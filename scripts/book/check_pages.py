"""Loads every page of the built book in headless Chromium and fails unless
each one loads without a script error or a failed resource, and every image
is drawn (decoded with a non-zero size, and laid out with one unless it sits
in a collapsed block). Usage: check_pages.py BOOK_DIR

The pages are copied to a scratch directory and given a probe script first
in <head>, which records errors from the start and, at `load`, writes a JSON
report into the DOM that `chromium --dump-dom` prints."""

import concurrent.futures
import html
import json
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile

PROBE = """<script>
(function () {
  var errors = [];
  window.addEventListener('error', function (e) {
    var t = e.target;
    if (t && t !== window && (t.src || t.href)) errors.push('failed to load ' + (t.src || t.href));
    else errors.push('script error: ' + e.message + ' at ' + e.filename + ':' + e.lineno);
  }, true);
  window.addEventListener('unhandledrejection', function (e) { errors.push('unhandled rejection: ' + e.reason); });
  var consoleError = console.error;
  console.error = function () { errors.push('console.error: ' + Array.prototype.join.call(arguments, ' ')); consoleError.apply(console, arguments); };
  window.addEventListener('load', function () {
    var images = Array.prototype.map.call(document.images, function (img) {
      var box = img.getBoundingClientRect();
      return {src: img.getAttribute('src'), complete: img.complete, natural: [img.naturalWidth, img.naturalHeight],
              box: [box.width, box.height], collapsed: img.closest('details:not([open])') !== null};
    });
    var out = document.createElement('pre');
    out.id = 'book-probe';
    out.textContent = JSON.stringify({errors: errors, images: images});
    document.body.appendChild(out);
  });
})();
</script>"""

REPORT = re.compile(r'<pre id="book-probe">(.*?)</pre>', re.S)


def chromium(page: pathlib.Path, profile: pathlib.Path) -> str:
    command = [
        "chromium", "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
        "--allow-file-access-from-files", f"--user-data-dir={profile}",
        "--window-size=1280,2000", "--virtual-time-budget=3000", "--dump-dom", page.as_uri(),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    return done.stdout


def check(page: pathlib.Path, scratch: pathlib.Path) -> list[str]:
    name = page.relative_to(scratch / "book")
    dom = chromium(page, scratch / "profiles" / str(name).replace("/", "_"))
    found = REPORT.search(dom)
    if not found:
        return [f"{name}: no report (the page did not finish loading)"]

    report = json.loads(html.unescape(found.group(1)))
    problems = [f"{name}: {e}" for e in report["errors"]]
    # mdbook shows each image twice: inline, and a zoomed copy that stays
    # hidden until clicked. Every copy must decode; one of them must be laid
    # out with a size, unless the image sits in a collapsed <details>.
    by_src: dict[str, list[dict]] = {}
    for img in report["images"]:
        by_src.setdefault(img["src"], []).append(img)
        if not (img["complete"] and min(img["natural"]) > 0):
            problems.append(f"{name}: image {img['src']} did not load ({img})")
    for src, copies in by_src.items():
        if not any(min(c["box"]) > 0 or c["collapsed"] for c in copies):
            problems.append(f"{name}: image {src} is not drawn ({copies})")
    return problems


def main() -> None:
    book = pathlib.Path(sys.argv[1])
    with tempfile.TemporaryDirectory(prefix="book-check-") as tmp:
        scratch = pathlib.Path(tmp)
        shutil.copytree(book, scratch / "book")
        pages = sorted((scratch / "book").rglob("*.html"))
        for page in pages:
            text = re.sub(r"<head>", "<head>" + PROBE, page.read_text(encoding="utf-8"), count=1)
            # 404.html is served from any depth, so it names the site root
            # in <base href="/">: here that root is the book's directory.
            root = (scratch / "book").as_uri() + "/"
            text = text.replace('<base href="/">', f'<base href="{root}">')
            page.write_text(text, encoding="utf-8")
        with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
            results = list(pool.map(lambda p: check(p, scratch), pages))
    problems = [p for r in results for p in r]
    images = sum(1 for _ in book.glob("diagrams/*.svg"))
    for problem in problems:
        print(f"check_pages: {problem}", file=sys.stderr)
    if problems:
        sys.exit(1)
    print(f"check_pages: {len(pages)} pages loaded, {images} diagrams in the book")


main()
