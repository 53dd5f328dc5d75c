"""Prints the book's SUMMARY.md for a lessons directory: "Before you start"
first, then every NN-*.md in order, each titled by its first heading, so a
new lesson file joins the book by existing."""

import pathlib
import re
import sys


def title(path: pathlib.Path) -> str:
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    sys.exit(f"summary.py: {path} has no '# ' title")


def main() -> None:
    lessons = pathlib.Path(sys.argv[1])
    print("# Summary\n")
    intro = lessons / "before-you-start.md"
    print(f"[{title(intro)}]({intro.name})\n")
    for path in sorted(lessons.glob("*.md")):
        if re.match(r"\d\d-", path.name):
            print(f"- [{title(path)}]({path.name})")


main()
