#!/usr/bin/env bash
# Container start, exec, supervisor memory and many containers at once:
# mini-docker against the floor (unshare + chroot), crun, runc, podman and
# Docker (a private dockerd, stopped afterwards; with `--runtime mini` too
# when target/release/mini-runc exists), in one paired run. See
# bench/README.md for the method; bench/start.py does the work.
#
#   sudo ./bench/run.sh [--rounds N] [--parallel N] [--out PATH] [--only start,exec,memory,parallel]
#                       [--baseline DIR] [--skip docker]
#
# Prints the text result and writes PATH.txt and PATH.json (default
# bench/results/run-DATE). BENCH_NO_BUILD=1 reuses target/release;
# BENCH_BIN_DIR=DIR times the binaries in DIR; --baseline DIR times DIR's
# mini-docker in the same rounds (a build before a change, copied aside).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
[ "${BENCH_NO_BUILD:-}" = 1 ] || cargo build --release -q -p mini-docker -p chroot-demo
exec python3 bench/start.py "$@"
