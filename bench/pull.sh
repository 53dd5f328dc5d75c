#!/usr/bin/env bash
# Pull of a multi-layer image from a loopback registry into an empty store:
# mini-docker pull, against skopeo copy to an OCI dir plus umoci unpack of the
# same image, in the same run. Prints the median of RUNS runs of each and the
# ratio, and the machine's limits for the same bytes (in each round): sha256 of the
# compressed and of the uncompressed layers, gzip decompression (one core
# each) and writing the files (page cache), with the bound they give a
# pipelined pull on this machine's cores. Traffic stays on 127.0.0.1.
# Run as root: ./bench/pull.sh [RUNS] [LAYERS] [MB]
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
# The machine's limits on the same bytes, each stage alone on one core,
# measured in every round beside that round's pull (the load of a shared
# machine changes from minute to minute): sha256 of the compressed blobs,
# gzip -d, sha256 of the uncompressed tars, tar -x into the page cache.
layers_dir=$work/oci/blobs/sha256
blobs=$(for d in $(jq -r '.layers[].digest' "$layers_dir/$(jq -r '.manifests[0].digest' "$work/oci/index.json" | cut -d: -f2)"); do
  echo "$layers_dir/${d#sha256:}"; done)
compressed=$(cat $blobs | wc -c)
cat $blobs | gzip -dc > "$work/layers.tar"
uncompressed=$(wc -c < "$work/layers.tar")
# openssl's sha256 uses the CPU's SHA extensions where sha256sum does not.
sha() { if command -v openssl >/dev/null; then openssl dgst -sha256; else sha256sum; fi; }
export -f sha
stage() { local t; t=$(now); "$@" >/dev/null; echo $(( ($(now) - t) / 1000000 )); }
cores=$(nproc)
mini=(); peer=(); bounds=(); ratios=(); stages=()
for r in $(seq 1 "$runs"); do
  rm -rf "$work/md" "$work/copy" "$work/unpacked"
  t=$(now); "$md" --root "$work/md" --runroot "$work/md-run" pull -q "127.0.0.1:$port/bench:1" >/dev/null; m_r=$(( ($(now) - t) / 1000000 ))
  a=$(stage bash -c "cat $blobs | sha")
  b=$(stage sh -c "cat $blobs | gzip -dc")
  c=$(stage bash -c "sha < $work/layers.tar")
  d=$(stage sh -c "rm -rf $work/untar && mkdir $work/untar && tar -C $work/untar -xf $work/layers.tar")
  t=$(now)
  skopeo copy -q --src-tls-verify=false "docker://127.0.0.1:$port/bench:1" "oci:$work/copy:bench"
  umoci unpack --image "$work/copy:bench" "$work/unpacked" >/dev/null
  peer+=($(( ($(now) - t) / 1000000 )))
  # Pipelined on $cores cores, nothing can beat the slowest stage nor the
  # sum of all stages spread over the cores.
  bound=$(awk -v a="$a" -v b="$b" -v c="$c" -v d="$d" -v n="$cores" 'BEGIN {
    s = a; if (b > s) s = b; if (c > s) s = c; if (d > s) s = d
    u = (a + b + c + d) / n; printf "%d", (s > u ? s : u) }')
  mini+=("$m_r"); bounds+=("$bound"); stages+=("$a/$b/$c/$d")
  ratios+=("$(awk -v m="$m_r" -v b="$bound" 'BEGIN { printf "%.2f", m / b }')")
done
m=$(printf '%s\n' "${mini[@]}" | median); p=$(printf '%s\n' "${peer[@]}" | median)
echo "pull of $layers x ${mb} MiB layers ($(( compressed / 1000000 )) MB compressed, $(( uncompressed / 1000000 )) MB uncompressed) from 127.0.0.1, median of $runs runs:"
echo "  mini-docker pull:           ${m} ms   (runs: ${mini[*]})"
echo "  skopeo copy + umoci unpack: ${p} ms   (runs: ${peer[*]})"
awk -v m="$m" -v p="$p" 'BEGIN { printf "  ratio: mini-docker takes %.2fx the time of the pair\n", m / p }'
echo "  machine limits per round, ms (sha256 compressed / gzip -d / sha256 uncompressed / tar -x): ${stages[*]}"
echo "  bound per round on $cores cores, stages pipelined (max(slowest, sum / cores)): ${bounds[*]} ms"
echo "  pull / bound, round by round: ${ratios[*]}; median $(printf '%s\n' "${ratios[@]}" | median)"
