#!/usr/bin/env bash
# The kill trials of mini-docker/tests/faults.rs at scale: TRIALS (default
# 200) commands SIGKILLed at seeded random moments (run, pull from a
# loopback registry, commit, rm, network create, and monitors), each
# followed by the checks that every command works, `ps -a` tells the truth,
# the store holds nothing half-made; then a reset to an empty store and the
# leak checker. Writes the counts to bench/results/faults.json.
#   ./bench/faults.sh [TRIALS] [SEED]
# Run as root (busybox-static from scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
trials=${1:-200}
seed=${2:-$(date +%s)}
mkdir -p bench/results
cargo build -q -p mini-docker --bins
FAULTS_TRIALS=$trials FAULTS_SEED=$seed FAULTS_REPORT=$PWD/bench/results/faults.json \
  cargo test -q -p mini-docker --test faults -- --exact kills_leave_every_command_working
cat bench/results/faults.json
