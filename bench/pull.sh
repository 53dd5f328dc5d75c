#!/usr/bin/env bash
# Pull of a multi-layer image from a loopback registry into an empty store:
# mini-docker pull, against skopeo copy to an OCI dir plus umoci unpack of the
# same image, in the same run. Prints the median of RUNS runs of each and the
# ratio. Traffic stays on 127.0.0.1. Run as root: ./bench/pull.sh [RUNS] [LAYERS] [MB]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}; layers=${2:-5}; mb=${3:-16}

./scripts/setup.sh
cargo build --release -q -p mini-docker
md=$PWD/target/release/mini-docker
work=$(mktemp -d /tmp/bench-pull.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cleanup() { kill "${registry_pid:-0}" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

cat > "$work/registry.yml" <<YAML
version: 0.1
log: {level: error}
storage: {filesystem: {rootdirectory: $work/registry}}
http: {addr: 127.0.0.1:$port}
YAML
docker-registry serve "$work/registry.yml" >/dev/null 2>&1 &
registry_pid=$!
until curl -sf "http://127.0.0.1:$port/v2/" >/dev/null; do sleep 0.1; done

# An image of $layers layers, each $mb MiB of incompressible files plus the busybox rootfs below.
umoci init --layout "$work/oci" >/dev/null
umoci new --image "$work/oci:bench" >/dev/null
umoci unpack --image "$work/oci:bench" "$work/bundle" >/dev/null
cargo build --release -q -p chroot-demo
./target/release/chroot-demo prepare-rootfs "$work/rootfs" >/dev/null
cp -a "$work/rootfs/." "$work/bundle/rootfs/"
for i in $(seq 1 "$layers"); do
  mkdir -p "$work/bundle/rootfs/data$i"
  head -c "$((mb * 1024 * 1024))" /dev/urandom > "$work/bundle/rootfs/data$i/blob"
  umoci repack --image "$work/oci:bench" "$work/bundle" >/dev/null
done
skopeo copy -q --dest-tls-verify=false "oci:$work/oci:bench" "docker://127.0.0.1:$port/bench:1"

now() { date +%s%N; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
mini=(); peer=()
for r in $(seq 1 "$runs"); do
  rm -rf "$work/md" "$work/copy" "$work/unpacked"
  t=$(now); "$md" --root "$work/md" --runroot "$work/md-run" pull -q "127.0.0.1:$port/bench:1" >/dev/null; mini+=($(( ($(now) - t) / 1000000 )))
  t=$(now)
  skopeo copy -q --src-tls-verify=false "docker://127.0.0.1:$port/bench:1" "oci:$work/copy:bench"
  umoci unpack --image "$work/copy:bench" "$work/unpacked" >/dev/null
  peer+=($(( ($(now) - t) / 1000000 )))
done
m=$(printf '%s\n' "${mini[@]}" | median); p=$(printf '%s\n' "${peer[@]}" | median)
echo "pull of $layers x ${mb} MiB layers from 127.0.0.1, median of $runs runs:"
echo "  mini-docker pull:           ${m} ms   (runs: ${mini[*]})"
echo "  skopeo copy + umoci unpack: ${p} ms   (runs: ${peer[*]})"
awk -v m="$m" -v p="$p" 'BEGIN { printf "  ratio: mini-docker takes %.2fx the time of the pair\n", m / p }'
