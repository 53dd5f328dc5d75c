#!/usr/bin/env bash
# `build` of the same 10-instruction Dockerfile (ARG, ENV, LABEL, WORKDIR,
# COPY, RUN, EXPOSE, ENTRYPOINT, CMD on busybox), mini-docker against
# Docker's classic builder (DOCKER_BUILDKIT=0, a private dockerd) and
# `podman build`, in the same run:
#   1. a fully cached rebuild (every step from the cache), CACHED_RUNS
#      rounds, the three tools interleaved (A B C A B C …);
#   2. an uncached build (--no-cache), FULL_RUNS rounds, interleaved too.
# Prints median and p99 of each, and the ratios. Each tool's image is then
# run by that tool and must print what its RUN step wrote (a peer that
# failed to build is not timed as fast). RUN steps have no network
# (--network none for all three), so nothing leaves the machine.
# Run as root: ./bench/build.sh [CACHED_RUNS] [FULL_RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
cached_runs=${1:-30}; full_runs=${2:-5}

./scripts/setup.sh
cargo build --release -q -p mini-docker -p chroot-demo
md_bin=$PWD/target/release/mini-docker
work=$(mktemp -d /tmp/bench-build.XXXXXX)
md() { "$md_bin" --root "$work/md" --runroot "$work/md-run" "$@"; }
export MINI_DOCKER_CGROUP_PARENT="mini-docker-bench-$$"
export MINI_DOCKER_LINK_PREFIX="bb$(printf '%04x' $(( $$ % 65536 )))" MINI_DOCKER_NAT=off
# Podman as bench/run.sh runs it: its own store, runc, cgroupfs.
cat > "$work/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
CONF
export CONTAINERS_CONF="$work/containers.conf"
pm() { podman --root "$work/podman" --runroot "$work/podman-run" --storage-driver vfs \
  --events-backend none --cgroup-manager cgroupfs --runtime runc "$@"; }
dockerd_dir="$work/dockerd"
export "$(./scripts/dockerd.sh start "$dockerd_dir" | grep '^DOCKER_HOST=')"
dk() { DOCKER_BUILDKIT=0 /usr/bin/docker "$@"; }
cleanup() {
  md ps -aq 2>/dev/null | xargs -r "$md_bin" --root "$work/md" --runroot "$work/md-run" rm -f >/dev/null 2>&1 || true
  pm rm -af >/dev/null 2>&1 || true
  pm rmi -af >/dev/null 2>&1 || true
  ./scripts/dockerd.sh stop "$dockerd_dir" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

./target/release/chroot-demo prepare-rootfs "$work/rootfs" >/dev/null
tar -C "$work/rootfs" -cf "$work/busybox.tar" .
md import -c 'CMD ["sh"]' "$work/busybox.tar" busybox >/dev/null
dk import -c 'CMD ["sh"]' "$work/busybox.tar" busybox >/dev/null
pm import -q -c 'CMD ["sh"]' "$work/busybox.tar" localhost/busybox >/dev/null

mkdir -p "$work/ctx"
head -c 65536 /dev/urandom > "$work/ctx/data"
write_dockerfile() { # BASE
  printf '%s\n' "FROM $1" 'ARG V=1' 'ENV A=1 B="two words"' 'LABEL bench=build' 'WORKDIR /app' \
    'COPY data /app/data' 'RUN echo built-$V > /app/built' 'EXPOSE 8080' 'ENTRYPOINT ["cat"]' \
    'CMD ["/app/built"]' > "$work/ctx/Dockerfile.$2"
}
write_dockerfile busybox md; write_dockerfile busybox docker; write_dockerfile localhost/busybox podman
b_md() { md build -q --network none -f "$work/ctx/Dockerfile.md" -t bench "$@" "$work/ctx"; }
b_docker() { dk build -q --network none -f "$work/ctx/Dockerfile.docker" -t bench "$@" "$work/ctx"; }
b_podman() { pm build -q --network none --layers -f "$work/ctx/Dockerfile.podman" -t bench "$@" "$work/ctx"; }

now() { date +%s%N; }
ms() { awk -v ns="$1" 'BEGIN { printf "%.1f", ns / 1e6 }'; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
p99() { sort -n | awk '{a[NR]=$1} END {i=int(NR*0.99+0.999); if (i<1) i=1; print a[i]}'; }
declare -A samples
time_one() { # KEY COMMAND…
  local t; t=$(now); "${@:2}" >/dev/null; samples[$1]+="$(( $(now) - t )) "
}
stats() { # KEY: "median p99" in ns
  local s=${samples[$1]}
  echo "$(tr ' ' '\n' <<<"$s" | grep . | median) $(tr ' ' '\n' <<<"$s" | grep . | p99)"
}

# Warm every cache once (and check each peer's image).
b_md >/dev/null; b_docker >/dev/null; b_podman >/dev/null
check() { [ "$1" = built-1 ] || { echo "peer check failed: $2 printed '$1'" >&2; exit 1; }; }
check "$(md run --rm --network none bench)" mini-docker
check "$(dk run --rm --network none bench)" docker
check "$(pm run --rm --network none bench)" podman

for _ in $(seq 1 "$cached_runs"); do
  time_one md_cached b_md; time_one docker_cached b_docker; time_one podman_cached b_podman
done
for _ in $(seq 1 "$full_runs"); do
  time_one md_full b_md --no-cache; time_one docker_full b_docker --no-cache; time_one podman_full b_podman --no-cache
done
# The uncached images run too.
check "$(md run --rm --network none bench)" mini-docker
check "$(dk run --rm --network none bench)" docker
check "$(pm run --rm --network none bench)" podman

report() { # TITLE KIND RUNS
  read -r m_med m_p99 <<<"$(stats "md_$2")"
  read -r d_med d_p99 <<<"$(stats "docker_$2")"
  read -r p_med p_p99 <<<"$(stats "podman_$2")"
  echo "$1 ($3 interleaved rounds), median / p99:"
  echo "  mini-docker build                 $(ms "$m_med") ms / $(ms "$m_p99") ms"
  echo "  docker build (classic builder)    $(ms "$d_med") ms / $(ms "$d_p99") ms"
  echo "  podman build --layers             $(ms "$p_med") ms / $(ms "$p_p99") ms"
  awk -v m="$m_med" -v d="$d_med" -v p="$p_med" 'BEGIN {
    f = d < p ? d : p
    printf "  docker / mini-docker = %.1fx, podman / mini-docker = %.1fx, faster peer / mini-docker = %.1fx\n", d / m, p / m, f / m }'
}
report "fully cached rebuild of 10 instructions" cached "$cached_runs"
report "uncached build (--no-cache)" full "$full_runs"
