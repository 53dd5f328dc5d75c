#!/usr/bin/env bash
# mini-runc against runc and crun, and Docker on mini-runc against Docker
# on its default runtime (runc), in the same run:
#   1. `run` of one prepared bundle (busybox, `true`, runc's default spec:
#      new pid, mount, ipc, uts, network and cgroup namespaces) by
#      mini-runc, runc and crun, paired: every round runs all three, in a
#      rotating order;
#   2. `docker run --rm --network none busybox true` with --runtime mini
#      and with the default runtime, paired the same way, on a private
#      dockerd (scripts/dockerd.sh).
# Each peer is first checked to really run the bundle (it must print what
# the container prints). Prints medians, p99 and the median of the paired
# ratios. No traffic leaves the machine. Run as root:
#   ./bench/runc.sh [RUNS] [DOCKER_RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-50}; docker_runs=${2:-20}

./scripts/setup.sh
cargo build --release -q -p mini-runc -p chroot-demo
cargo build -q -p mini-runc  # dockerd's runtime is the debug build the tests use
mini=$PWD/target/release/mini-runc
work=$(mktemp -d /tmp/bench-runc.XXXXXX)
dockerd_dir=$work/dockerd
cleanup() {
  for r in mini-runc runc crun; do
    for id in $(ls "$work/state-$r" 2>/dev/null); do
      case $r in mini-runc) "$mini" --root "$work/state-$r" delete -f "$id" ;; *) $r --root "$work/state-$r" delete -f "$id" ;; esac >/dev/null 2>&1 || true
    done
  done
  [ ! -d "$dockerd_dir" ] || ./scripts/dockerd.sh stop "$dockerd_dir" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

./target/release/chroot-demo prepare-rootfs "$work/bundle/rootfs" >/dev/null
(cd "$work/bundle" && runc spec)
spec() { # ARGS as JSON
  python3 - "$work/bundle/config.json" "$1" <<'PY'
import json, sys
path = sys.argv[1]
spec = json.load(open(path))
spec["process"]["terminal"] = False
spec["process"]["args"] = json.loads(sys.argv[2])
json.dump(spec, open(path, "w"))
PY
}

# crun 1.8 refuses the hybrid cgroup layout unless the cgroup2 mount is
# hidden: all three run in one mount namespace without it, on equal terms.
cat > "$work/inner.sh" <<'INNER'
set -euo pipefail
work=$1 mini=$2 runs=$3
umount /sys/fs/cgroup/unified 2>/dev/null || true
run() { # RUNTIME ID
  case $1 in
    mini-runc) "$mini" --root "$work/state-$1" run --bundle "$work/bundle" "$2" ;;
    *) "$1" --root "$work/state-$1" run --bundle "$work/bundle" "$2" ;;
  esac
}
for r in mini-runc runc crun; do
  out=$(run $r check-$r 2>&1 || true)
  [ "$out" = "peer-ok" ] || { echo "$r did not run the bundle: $out" >&2; exit 1; }
done
python3 - "$work/bundle/config.json" <<'PY'
import json, sys
spec = json.load(open(sys.argv[1])); spec["process"]["args"] = ["true"]
json.dump(spec, open(sys.argv[1], "w"))
PY
order=(mini-runc runc crun)
for i in $(seq 1 "$runs"); do
  for k in 0 1 2; do
    r=${order[$(( (i + k) % 3 ))]}
    t=$(date +%s%N); run $r "b$i-$r" >/dev/null; echo "$i $r $(( $(date +%s%N) - t ))"
  done
done
INNER
spec '["sh", "-c", "echo peer-ok"]'
unshare -m bash "$work/inner.sh" "$work" "$mini" "$runs" > "$work/samples"

stats() { # FILE-of-"round name ns" NAME...: median, p99 per name; paired ratios to the first
  python3 - "$@" <<'PY'
import sys, statistics
path, names = sys.argv[1], sys.argv[2:]
rounds = {}
for line in open(path):
    i, name, ns = line.split()
    rounds.setdefault(i, {})[name] = int(ns) / 1e6
def pct(xs, p):
    xs = sorted(xs); return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]
for n in names:
    xs = [r[n] for r in rounds.values() if n in r]
    print(f"  {n:<34} median {statistics.median(xs):7.1f} ms   p99 {pct(xs, 99):7.1f} ms   ({len(xs)} runs)")
first = names[0]
for n in names[1:]:
    ratios = [r[first] / r[n] for r in rounds.values() if first in r and n in r]
    print(f"  paired ratio {first} / {n}: median {statistics.median(ratios):.2f}")
PY
}
echo "run of a prepared bundle (busybox, true), $runs paired rounds:"
stats "$work/samples" mini-runc runc crun

# Docker on mini-runc against Docker on runc.
export "$(./scripts/dockerd.sh start "$dockerd_dir" --add-runtime "mini=$PWD/target/debug/mini-runc" | grep '^DOCKER_HOST=')"
export DOCKER_HOST
tar -C "$work/bundle/rootfs" -cf "$work/busybox.tar" .
docker import -c 'CMD ["sh"]' "$work/busybox.tar" bench-busybox >/dev/null
for rt in mini runc; do
  out=$(docker run --rm --network none --runtime $rt bench-busybox echo peer-ok)
  [ "$out" = "peer-ok" ] || { echo "docker --runtime $rt did not run: $out" >&2; exit 1; }
done
for i in $(seq 1 "$docker_runs"); do
  for rt in $( [ $((i % 2)) = 0 ] && echo "mini runc" || echo "runc mini"); do
    t=$(date +%s%N); docker run --rm --network none --runtime $rt bench-busybox true
    echo "$i docker-$rt $(( $(date +%s%N) - t ))"
  done
done > "$work/docker-samples"
echo "docker run --rm --network none busybox true, $docker_runs paired rounds:"
stats "$work/docker-samples" docker-mini docker-runc
echo "(Docker's runtime \`mini\` is the debug build the tests use; mini-runc above is the release build)"
