#!/usr/bin/env bash
# The start budget: where each millisecond of `run --rm --network none
# busybox true` goes, from the CLI's main to the container's execve and
# back to the CLI's exit (bench/profile.py; method in bench/README.md).
#   sudo ./bench/profile.sh [--runs N] [--out PATH]
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
[ "${BENCH_NO_BUILD:-}" = 1 ] || cargo build --release -q -p mini-docker -p chroot-demo
exec python3 bench/profile.py "$@"
