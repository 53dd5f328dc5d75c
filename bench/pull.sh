#!/usr/bin/env bash
# Pull of a multi-layer image from a loopback registry into an empty store:
# mini-docker pull, against skopeo copy to an OCI dir plus umoci unpack of the
# same image, in the same run. Prints the median of RUNS runs of each and the
# ratio, and the machine's limits for the same bytes: sha256 of the
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

# The machine's limits on the same bytes (each stage alone, on one core).
layers_dir=$work/oci/blobs/sha256
blobs=$(for d in $(jq -r '.layers[].digest' "$layers_dir/$(jq -r '.manifests[0].digest' "$work/oci/index.json" | cut -d: -f2)"); do
  echo "$layers_dir/${d#sha256:}"; done)
stage() { local t; t=$(now); "$@" >/dev/null; echo $(( ($(now) - t) / 1000000 )); }
best() { local b=""; for _ in 1 2 3; do local x; x=$(stage "$@"); [ -z "$b" ] || [ "$x" -lt "$b" ] && b=$x; done; echo "$b"; }
compressed=$(cat $blobs | wc -c)
cat $blobs | gzip -dc > "$work/layers.tar"
uncompressed=$(wc -c < "$work/layers.tar")
sha_c=$(best sh -c "cat $blobs | sha256sum")
gunzip_t=$(best sh -c "cat $blobs | gzip -dc")
sha_u=$(best sha256sum "$work/layers.tar")
write_t=$(best sh -c "rm -rf $work/untar && mkdir $work/untar && tar -C $work/untar -xf $work/layers.tar")
cores=$(nproc)
mbs() { awk -v b="$1" -v ms="$2" 'BEGIN { printf "%.0f MB/s", b / 1e6 / (ms > 0 ? ms : 1) * 1000 }'; }
echo "machine limits for these $(( compressed / 1000000 )) MB compressed, $(( uncompressed / 1000000 )) MB uncompressed (best of 3, one core each):"
echo "  sha256 of the compressed blobs:   ${sha_c} ms ($(mbs "$compressed" "$sha_c"))"
echo "  gzip -d:                          ${gunzip_t} ms ($(mbs "$compressed" "$gunzip_t") in)"
echo "  sha256 of the uncompressed tar:   ${sha_u} ms ($(mbs "$uncompressed" "$sha_u"))"
echo "  tar -x into the page cache:       ${write_t} ms ($(mbs "$uncompressed" "$write_t"))"
awk -v a="$sha_c" -v b="$gunzip_t" -v c="$sha_u" -v d="$write_t" -v n="$cores" -v m="$m" 'BEGIN {
  slowest = a; if (b > slowest) slowest = b; if (c > slowest) slowest = c; if (d > slowest) slowest = d
  sum = a + b + c + d; bound = sum / n; if (slowest > bound) bound = slowest
  printf "  bound on %d cores, stages pipelined: max(slowest stage, sum / cores) = %.0f ms; mini-docker pull takes %.2fx that\n", n, bound, m / bound }'

