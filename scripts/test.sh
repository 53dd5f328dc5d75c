#!/usr/bin/env bash
# The whole test suite, as CI runs it: set-up, format, lints, build, tests.
# Run as root: the tests use real namespaces, mounts and cgroups.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
  echo "test.sh: run as root: from a root shell, or" >&2
  echo "    sudo -E env \"PATH=\$PATH\" ./scripts/test.sh    (keeps your Rust toolchain)" >&2
  exit 1
fi
. scripts/lib/toolchain.sh

./scripts/setup.sh
cargo fmt --all --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
# The workshop's exercise skeletons (its tests then fail at each todo!()).
cargo clippy -p workshop --features learner --all-targets --quiet -- -D warnings
# The lessons as a book: links, diagrams, every page in headless Chromium.
./scripts/book.sh --check
# The end-to-end tests and lesson transcripts run the workspace's binaries.
cargo build --workspace --all-targets --quiet
# One private dockerd, the oracle of every differential suite and the
# client of mini-runc (the runtime `mini`), stopped (and what it left
# removed) however the tests end.
dockerd_dir=$(mktemp -d /tmp/mini-docker-oracle.XXXXXX)
trap './scripts/dockerd.sh stop "$dockerd_dir"' EXIT
export "$(./scripts/dockerd.sh start "$dockerd_dir" --add-runtime "mini=$PWD/target/debug/mini-runc" | grep '^DOCKER_HOST=')"
cargo test --workspace --quiet
# The same kernel-facing tests on cgroup v2, in a QEMU guest (this host is v1).
./scripts/test-cgroup-v2.sh
