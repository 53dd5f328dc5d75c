#!/usr/bin/env bash
# A thousand containers at once (bench/many.py): start latency of the
# first against the last, `ps` with all of them running, the monitors'
# total memory, and removal that leaves nothing. Not for CI: it runs
# 1,200 containers. Run as root:
#   sudo ./bench/many.sh [--none 1000] [--user 200] [--out PATH]
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
[ "${BENCH_NO_BUILD:-}" = 1 ] || cargo build --release -q -p mini-docker -p chroot-demo
exec python3 bench/many.py "$@"
