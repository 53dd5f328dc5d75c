#!/usr/bin/env bash
# The lessons as a book: builds lessons/*.md with mdbook into target/book/,
# then checks it offline (every local link and anchor resolves, every diagram
# renders from its source) and, with --check, loads every page in headless
# Chromium (no script error, no broken image, every diagram drawn).
#
#   ./scripts/book.sh            build, check links and diagrams
#   ./scripts/book.sh --check    the same, plus the Chromium test (CI), after
#                                checking that each checker fails on a broken fixture
#   ./scripts/book.sh diagrams   regenerate lessons/diagrams/*.svg from the .dot sources
#
# mdbook is installed once per machine with `cargo install --locked` into
# $MINI_DOCKER_TOOLS_CACHE (/var/cache/mini-docker/tools), outside the repository.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:-build}
case "$mode" in build | --check | diagrams) ;; *)
  echo "usage: scripts/book.sh [--check | diagrams]" >&2
  exit 2
  ;;
esac
started=$SECONDS
say() { printf '[book %3ds] %s\n' "$((SECONDS - started))" "$*"; }

diagrams=lessons/diagrams
if [ "$mode" = diagrams ]; then
  for dot in "$diagrams"/*.dot; do
    dot -Tsvg "$dot" -o "${dot%.dot}.svg"
    say "rendered ${dot%.dot}.svg"
  done
  exit 0
fi

. scripts/lib/toolchain.sh
mdbook_version=0.5.4
cache=${MINI_DOCKER_TOOLS_CACHE:-/var/cache/mini-docker/tools}
mdbook=$cache/mdbook-$mdbook_version-debug/bin/mdbook
if [ ! -x "$mdbook" ]; then
  mkdir -p "$cache"
  # One install per machine, even when two runs start at once.
  exec 9>"$cache/.mdbook.lock"
  flock 9
  if [ ! -x "$mdbook" ]; then
    say "installing mdbook $mdbook_version into $cache (once per machine, a few minutes)"
    # Only the search feature: the live-reload server's dependencies are not
    # needed. A debug build compiles in half the CPU time of a release one
    # (1 min against 2 of user time here) and still builds the book in a second.
    CARGO_TARGET_DIR="$cache/mdbook-build" cargo install --locked --quiet --debug \
      --no-default-features --features search \
      --version "$mdbook_version" --root "$cache/mdbook-$mdbook_version-debug" mdbook
    rm -rf "$cache/mdbook-build"
  fi
  exec 9>&-
fi

# The book's sources are staged from lessons/: SUMMARY.md is generated from
# the lesson files in order, so a new lesson joins the book by being there.
stage=target/book-src
out=target/book
rm -rf "$stage" "$out"
mkdir -p "$stage/src"
cp book/book.toml "$stage/"
cp lessons/*.md "$stage/src/"
cp -r "$diagrams" "$stage/src/"
python3 scripts/book/summary.py lessons >"$stage/src/SUMMARY.md"
"$mdbook" build "$stage" --dest-dir "$PWD/$out" 2>&1 | grep -v '^ INFO' || true
[ -f "$out/index.html" ] || { echo "book.sh: mdbook built nothing" >&2; exit 1; }
compgen -G "$out/searchindex*.js" >/dev/null || { echo "book.sh: no search index in $out" >&2; exit 1; }
say "built $out/ ($(find "$out" -name '*.html' | wc -l) pages)"

python3 scripts/book/check_links.py README.md lessons "$out"
say "links: every local link and anchor resolves"
for dot in "$diagrams"/*.dot; do
  svg=${dot%.dot}.svg
  [ -f "$svg" ] || { echo "book.sh: $svg missing (scripts/book.sh diagrams makes it)" >&2; exit 1; }
  dot -Tsvg "$dot" -o /dev/null || { echo "book.sh: $dot does not render" >&2; exit 1; }
done
python3 scripts/book/check_svg.py "$diagrams"/*.svg
say "diagrams: $(ls "$diagrams"/*.dot | wc -l) sources render, their SVGs are well formed"

if [ "$mode" = --check ]; then
  python3 scripts/book/test_checks.py "$diagrams"
  python3 scripts/book/check_pages.py "$out"
  say "chromium: every page loads without errors, every image is drawn"
fi
