#!/usr/bin/env bash
# Load: SEQ (default 1000) sequential and PAR (default 100) concurrent
# `run --rm busybox true` (default bridge network, so each start also makes
# and removes a veth pair and an address). All must succeed; afterwards no
# container, cgroup, mount, network namespace or link of the run is left.
# Prints p50/p99 start latency (each start's wall time) for both phases.
#   ./bench/load.sh [SEQ] [PAR]
# Run as root (busybox-static from scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
seq_n=${1:-1000}
par_n=${2:-100}

cargo build --release -q -p mini-docker -p chroot-demo
md_bin=$PWD/target/release/mini-docker
work=$(mktemp -d /tmp/bench-load.XXXXXX)
md() { "$md_bin" --root "$work/md" --runroot "$work/md-run" "$@"; }
tag="ld$(printf '%04x' $(( $$ % 65536 )))"
export MINI_DOCKER_CGROUP_PARENT="mini-docker-$tag" MINI_DOCKER_LINK_PREFIX="$tag" \
  MINI_DOCKER_NAT=off MINI_DOCKER_DNS_UPSTREAM=off MINI_DOCKER_ADDRESS_POOL=10.164.0.0/14
cleanup() {
  md ps -aq 2>/dev/null | xargs -r "$md_bin" --root "$work/md" --runroot "$work/md-run" rm -f >/dev/null 2>&1 || true
  bridge=$(grep -o '"com.docker.network.bridge.name": *"[^"]*"' "$work/md/networks/bridge.json" 2>/dev/null | cut -d'"' -f4 || true)
  [ -n "$bridge" ] && ip link del "$bridge" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

snapshot() {
  {
    find /sys/fs/cgroup -maxdepth 3 -name "*$tag*" 2>/dev/null
    grep -c "$work" /proc/self/mountinfo || true
    ls /run/netns 2>/dev/null | grep -c . || true
    ip -o link | grep -c "$tag" || true
  } | tr '\n' ' '
}

./target/release/chroot-demo prepare-rootfs "$work/rootfs" >/dev/null
tar -C "$work/rootfs" -cf "$work/busybox.tar" .
md import "$work/busybox.tar" busybox >/dev/null
md run --rm busybox true # the default bridge exists from here on
before=$(snapshot)

one() { # prints the start's wall time in ms, or FAIL
  local t0 t1
  t0=$(date +%s%N)
  if md run --rm busybox true >/dev/null 2>"$work/err.$1"; then
    t1=$(date +%s%N)
    echo $(( (t1 - t0) / 1000 ))
  else
    echo FAIL
  fi
}
stats() { # name file
  local n fails
  n=$(grep -vc FAIL "$2" || true)
  fails=$(grep -c FAIL "$2" || true)
  sort -n <(grep -v FAIL "$2") | awk -v name="$1" -v n="$n" -v fails="$fails" '
    { v[NR] = $1 }
    END {
      p50 = v[int((NR - 1) * 0.50) + 1]; p99 = v[int((NR - 1) * 0.99) + 1]
      printf "%s: %d ok, %d failed; p50 %.1f ms, p99 %.1f ms, max %.1f ms\n",
        name, n, fails, p50 / 1000, p99 / 1000, v[NR] / 1000
    }'
}

for i in $(seq "$seq_n"); do one "s$i"; done >"$work/seq.txt"
stats "sequential ($seq_n)" "$work/seq.txt"
for i in $(seq "$par_n"); do one "p$i" & done >"$work/par.txt"
wait
stats "concurrent ($par_n at once)" "$work/par.txt"

left=$(md ps -aq | wc -l)
after=$(snapshot)
echo "containers left: $left; host before: [$before] after: [$after]"
if grep -q FAIL "$work/seq.txt" "$work/par.txt" || [ "$left" != 0 ] || [ "$before" != "$after" ]; then
  cat "$work"/err.* 2>/dev/null | sort | uniq -c | head
  echo "LOAD FAILED"
  exit 1
fi
