#!/usr/bin/env bash
# From a fresh clone to a running container: install what is needed, build the
# release binaries, make a busybox image from the lesson rootfs, run a container
# with mini-docker, and show lesson 1's chroot escape.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/setup.sh
cargo build --release --workspace --quiet
bin=$PWD/target/release
rootfs=${ROOTFS:-target/rootfs}
"$bin/chroot-demo" prepare-rootfs "$rootfs"
# A store of its own, so the quick start never touches /var/lib/mini-docker.
export MINI_DOCKER_ROOT=${MINI_DOCKER_ROOT:-$PWD/target/quickstart/root}
export MINI_DOCKER_RUNROOT=${MINI_DOCKER_RUNROOT:-$PWD/target/quickstart/run}
tar -C "$rootfs" -cf target/busybox.tar .
"$bin/mini-docker" import -c 'CMD ["sh"]' target/busybox.tar busybox:quickstart >/dev/null
echo "+ mini-docker run --rm busybox:quickstart sh -c 'hostname; id; grep CapBnd /proc/self/status'"
"$bin/mini-docker" run --rm busybox:quickstart sh -c 'hostname; id; grep CapBnd /proc/self/status'
echo
"$bin/chroot-demo" escape "$rootfs"
echo
echo "Next: read lessons/01-chroot.md, then lessons/07-mini-docker.md; the binaries are in $bin/"
echo "(mini-docker's store for this quick start: MINI_DOCKER_ROOT=$MINI_DOCKER_ROOT)."
