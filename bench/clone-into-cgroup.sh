#!/usr/bin/env bash
# The two ways a container's first process gets into its cgroup, measured in
# the same run on the same machine:
#   A  born there: clone3(CLONE_INTO_CGROUP) — cgroup v2, Linux 5.7 and later;
#   B  cloned in the monitor's cgroup, then moved (PID written to
#      cgroup.procs) — what v1 and older kernels do; forced on v2 with
#      MINI_DOCKER_NO_CLONE_INTO_CGROUP=1.
# RUNS pairs of `run --rm --network none busybox true`, alternating A B, B A,
# A B, … (so neither path always goes first). Prints each path's median and
# p99 and the median of the per-pair ratios B/A. On cgroup v1 both paths
# move the process, so the ratio only shows the noise. Under TCG (QEMU
# without KVM) the timings are indicative only.
# Needs busybox-static (scripts/setup.sh). Run as root:
#   ./bench/clone-into-cgroup.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-50}

cargo build --release -q -p mini-docker -p chroot-demo
md_bin=$PWD/target/release/mini-docker
work=$(mktemp -d /tmp/bench-clone3.XXXXXX)
md() { "$md_bin" --root "$work/md" --runroot "$work/md-run" "$@"; }
export MINI_DOCKER_CGROUP_PARENT="mini-docker-bench-$$"
export MINI_DOCKER_LINK_PREFIX="bc$(printf '%04x' $(( $$ % 65536 )))" MINI_DOCKER_NAT=off
cleanup() {
  md ps -aq 2>/dev/null | xargs -r "$md_bin" --root "$work/md" --runroot "$work/md-run" rm -f >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

./target/release/chroot-demo prepare-rootfs "$work/rootfs" >/dev/null
tar -C "$work/rootfs" -cf "$work/busybox.tar" .
md import "$work/busybox.tar" busybox >/dev/null

if [ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ]; then version=v2; else version=v1; fi
born=$(md --explain run --rm --network none busybox true | grep -c CLONE_INTO_CGROUP || true)
echo "cgroup $version; path A uses clone3(CLONE_INTO_CGROUP): $([ "$born" -gt 0 ] && echo yes || echo no)"
MINI_DOCKER_NO_CLONE_INTO_CGROUP=1 md run --rm --network none busybox true  # warm both paths

now() { date +%s%N; }
a_run() { md run --rm --network none busybox true >/dev/null; }
b_run() { MINI_DOCKER_NO_CLONE_INTO_CGROUP=1 md run --rm --network none busybox true >/dev/null; }
timed() { local t; t=$(now); "$@"; echo $(( $(now) - t )); }
: > "$work/samples"
for i in $(seq 1 "$runs"); do
  if (( i % 2 )); then a=$(timed a_run); b=$(timed b_run)
  else b=$(timed b_run); a=$(timed a_run); fi
  echo "$a $b" >> "$work/samples"
done

stats() { # COLUMN: median and p99 (nearest rank) in ms
  awk -v c="$1" '{print $c}' "$work/samples" | sort -n | awk '
    { v[NR] = $1 }
    END {
      m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
      r = int(0.99 * NR); if (r < 0.99 * NR) r++; if (r < 1) r = 1
      printf "median %.2f ms, p99 %.2f ms", m / 1e6, v[r] / 1e6 }'
}
ratio=$(awk '{print $2 / $1}' "$work/samples" | sort -g | awk '
  { v[NR] = $1 } END { printf "%.3f", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
echo "$runs pairs of run --rm --network none busybox true, alternating:"
echo "  A born in its cgroup (clone3):   $(stats 1)"
echo "  B cloned, then moved:            $(stats 2)"
echo "  median of paired ratios B/A:     $ratio"
left=$(find /sys/fs/cgroup -maxdepth 3 -name "$MINI_DOCKER_CGROUP_PARENT" | wc -l)
echo "  cgroups left behind: $left"
