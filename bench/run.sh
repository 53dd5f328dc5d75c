#!/usr/bin/env bash
# Container start, exec and supervision cost, mini-docker against runc, crun
# and podman on the same busybox rootfs, in the same run:
#   1. `run --rm --network none IMAGE true` vs `runc run` / `crun run` of a
#      prepared bundle (new netns with only lo, like --network none) and
#      `podman run --rm --network none`; then both on their default bridge
#      network (`run --rm IMAGE true`);
#   2. `exec CONTAINER true` vs `runc exec`;
#   3. the RSS of mini-docker's monitor vs podman's conmon;
#   4. 100 containers started in parallel, then removed, with a leak check.
# Prints medians of RUNS runs. No traffic leaves the machine (every container
# has --network none). Run as root: ./bench/run.sh [RUNS] [PARALLEL]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-20}; parallel=${2:-100}

./scripts/setup.sh
cargo build --release -q -p mini-docker -p chroot-demo
md_bin=$PWD/target/release/mini-docker
work=$(mktemp -d /tmp/bench-run.XXXXXX)
md() { "$md_bin" --root "$work/md" --runroot "$work/md-run" "$@"; }
export MINI_DOCKER_CGROUP_PARENT="mini-docker-bench-$$"
# The bench's links carry a prefix of their own; no NAT rules (nothing here
# leaves the machine).
export MINI_DOCKER_LINK_PREFIX="bn$(printf '%04x' $(( $$ % 65536 )))" MINI_DOCKER_NAT=off
# Podman as the tests run it, with its own store; Debian's default ulimits
# exceed this machine's hard limits, so they are set within them. Its
# default OCI runtime (crun 1.8) refuses hybrid cgroups, so it runs runc.
cat > "$work/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
CONF
export CONTAINERS_CONF="$work/containers.conf"
pm() { podman --root "$work/podman" --runroot "$work/podman-run" --storage-driver vfs \
  --events-backend none --cgroup-manager cgroupfs --runtime runc "$@"; }
cleanup() {
  md ps -aq 2>/dev/null | xargs -r "$md_bin" --root "$work/md" --runroot "$work/md-run" rm -f >/dev/null 2>&1 || true
  runc --root "$work/runc" delete -f bench-exec >/dev/null 2>&1 || true
  pm rm -af >/dev/null 2>&1 || true
  ip -o link | awk -F': ' '{print $2}' | grep "^$MINI_DOCKER_LINK_PREFIX" | sed 's/@.*//' \
    | xargs -r -n1 ip link del 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

./target/release/chroot-demo prepare-rootfs "$work/rootfs" >/dev/null
tar -C "$work/rootfs" -cf "$work/busybox.tar" .
md import "$work/busybox.tar" busybox >/dev/null
pm import -q "$work/busybox.tar" localhost/busybox >/dev/null

# A runc/crun bundle of the same rootfs: `runc spec`'s defaults (new pid,
# mount, ipc, uts and network namespaces) with `true` as the process.
mkdir -p "$work/bundle"
cp -a "$work/rootfs" "$work/bundle/rootfs"
(cd "$work/bundle" && runc spec)
python3 - "$work/bundle/config.json" <<'PY'
import json, sys
path = sys.argv[1]
spec = json.load(open(path))
spec["process"]["terminal"] = False
spec["process"]["args"] = ["true"]
json.dump(spec, open(path, "w"))
PY

now() { date +%s%N; }
ms() { awk -v ns="$1" 'BEGIN { printf "%.1f", ns / 1e6 }'; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
time_runs() { # NAME COMMAND…: runs the command RUNS times, prints the median in ns
  local t samples=()
  for _ in $(seq 1 "$runs"); do
    t=$(now); "$@" >/dev/null; samples+=($(( $(now) - t )))
  done
  printf '%s\n' "${samples[@]}" | median
}

md run --rm --network none busybox true  # warm the page cache
mini=$(time_runs md run --rm --network none busybox true)
i=0
runc_run() { i=$((i + 1)); runc --root "$work/runc" run --bundle "$work/bundle" "bench-$$-$i"; }
runc=$(time_runs runc_run)
podman=$(time_runs pm run --rm --network none localhost/busybox true)
md run --rm busybox true  # the default bridge exists from here on, as docker0 does
mini_bridge=$(time_runs md run --rm busybox true)
pm run --rm localhost/busybox true >/dev/null
podman_bridge=$(time_runs pm run --rm localhost/busybox true)
# crun 1.8 refuses the hybrid cgroup layout unless the cgroup2 mount is
# hidden, which takes a mount namespace: time each run inside one.
crun=$(unshare -m bash -c '
  umount /sys/fs/cgroup/unified 2>/dev/null || true
  for i in $(seq 1 '"$runs"'); do
    t=$(date +%s%N); crun --root '"$work"'/crun run --bundle '"$work"'/bundle bench-crun-$i >/dev/null; echo $(( $(date +%s%N) - t ))
  done' | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}')

# exec into a running container.
md run -d --name bench-exec --network none busybox sleep 100000 >/dev/null
python3 - "$work/bundle/config.json" <<'PY'
import json, sys
path = sys.argv[1]
spec = json.load(open(path))
spec["process"]["args"] = ["sleep", "100000"]
json.dump(spec, open(path, "w"))
PY
runc --root "$work/runc" run -d --bundle "$work/bundle" bench-exec >/dev/null 2>&1 </dev/null
mini_exec=$(time_runs md exec bench-exec true)
runc_exec=$(time_runs runc --root "$work/runc" exec bench-exec true)

# Supervisor memory: mini-docker's monitor vs podman's conmon.
monitor_pid=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['MonitorPid'])" \
  "$work/md/containers/$(md inspect -f '{{.Id}}' bench-exec)/state.json")
monitor_rss=$(ps -o rss= -p "$monitor_pid" | tr -d ' ')
pm run -d --name bench-conmon --network none localhost/busybox sleep 100000 >/dev/null
conmon_rss=$(ps -o rss= -C conmon | sort -n | tail -1 | tr -d ' ')
pm rm -f -t 0 bench-conmon >/dev/null

# Many at once.
t=$(now)
for n in $(seq 1 "$parallel"); do
  md run -d --network none --name "par-$n" busybox sleep 100000 >/dev/null &
done
wait
parallel_ns=$(( $(now) - t ))
running=$(( $(md ps -q | wc -l) - 1 ))  # not counting bench-exec
md ps -aq | xargs "$md_bin" --root "$work/md" --runroot "$work/md-run" rm -f >/dev/null
left_cgroups=$(find /sys/fs/cgroup -maxdepth 3 -name "$MINI_DOCKER_CGROUP_PARENT" | wc -l)
left_containers=$(ls "$work/md/containers" | wc -l)
left_mounts=$(grep -c "$work/md" /proc/self/mountinfo || true)

echo "median of $runs runs, busybox rootfs, no network:"
echo "  mini-docker run --rm --network none busybox true   $(ms "$mini") ms"
echo "  runc run (prepared bundle)                         $(ms "$runc") ms"
echo "  crun run (prepared bundle)                         $(ms "$crun") ms"
echo "  podman run --rm --network none busybox true        $(ms "$podman") ms"
awk -v m="$mini" -v r="$runc" -v c="$crun" -v p="$podman" 'BEGIN {
  printf "  ratios: mini-docker / runc = %.2f, / crun = %.2f; podman / mini-docker = %.1fx\n", m / r, m / c, p / m }'
echo "  mini-docker run --rm busybox true (default bridge) $(ms "$mini_bridge") ms"
echo "  podman run --rm busybox true (default network)     $(ms "$podman_bridge") ms"
awk -v m="$mini" -v b="$mini_bridge" -v p="$podman_bridge" 'BEGIN {
  printf "  bridge - none = %.1f ms; podman / mini-docker on the default network = %.1fx\n", (b - m) / 1e6, p / b }'
echo "  mini-docker exec                                   $(ms "$mini_exec") ms"
echo "  runc exec                                          $(ms "$runc_exec") ms"
awk -v m="$mini_exec" -v r="$runc_exec" 'BEGIN { printf "  ratio: mini-docker exec / runc exec = %.2f\n", m / r }'
echo "  monitor RSS: mini-docker ${monitor_rss} KiB, conmon ${conmon_rss} KiB"
echo "  $parallel containers started in parallel: $running running after $(ms "$parallel_ns") ms;" \
  "after rm -f: $left_containers containers, $left_cgroups cgroups, $left_mounts mounts left"
runc --root "$work/runc" delete -f bench-exec >/dev/null
