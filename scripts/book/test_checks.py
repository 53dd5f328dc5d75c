"""The book's checkers must fail on what they exist to catch: run on small
broken fixtures, each must exit non-zero and name the problem. Run by
scripts/book.sh --check before the real book is checked.
Usage: test_checks.py LESSONS_DIAGRAMS_DIR"""

import pathlib
import subprocess
import sys
import tempfile

HERE = pathlib.Path(__file__).parent
failures: list[str] = []


def expect_failure(what: str, command: list[str], needles: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    missing = [n for n in needles if n not in done.stderr]
    if done.returncode == 0 or missing:
        failures.append(f"{what}: exit {done.returncode}, missing {missing} in:\n{done.stderr}")


def main() -> None:
    diagram = next(pathlib.Path(sys.argv[1]).glob("*.svg"))
    with tempfile.TemporaryDirectory(prefix="book-selftest-") as tmp:
        root = pathlib.Path(tmp)
        (root / "lessons").mkdir()
        (root / "book" / "diagrams").mkdir(parents=True)
        (root / "README.md").write_text("# Title\n[a](../outside.md) [b](lessons/nope.md) [c](#nope) [d](#title)\n")
        (root / "lessons" / "00-x.md").write_text("# X\n`[not a link](nope.md)`\n")
        (root / "book" / "diagrams" / diagram.name).write_bytes(diagram.read_bytes())
        (root / "book" / "a.html").write_text(
            '<html><head></head><body><a id="top" href="a.html#gone">x</a><a href="b.html">y</a>'
            f'<img src="diagrams/{diagram.name}"><img src="diagrams/missing.svg">'
            "<script>noSuchFunction()</script></body></html>"
        )
        expect_failure(
            "check_links",
            [sys.executable, str(HERE / "check_links.py"), str(root / "README.md"), str(root / "lessons"), str(root / "book")],
            ["leaves the repository", "lessons/nope.md: no such file", "anchor #nope", "a.html#gone", "broken link b.html"],
        )
        expect_failure(
            "check_pages",
            [sys.executable, str(HERE / "check_pages.py"), str(root / "book")],
            ["noSuchFunction", "missing.svg did not load"],
        )
        (root / "bad.svg").write_text("<svg><g></g>")
        expect_failure("check_svg", [sys.executable, str(HERE / "check_svg.py"), str(root / "bad.svg")], ["bad.svg"])
    for failure in failures:
        print(f"test_checks: {failure}", file=sys.stderr)
    if failures:
        sys.exit(1)
    print("test_checks: the link, page and SVG checks each catch their broken fixture")


main()
