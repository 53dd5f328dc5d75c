#!/usr/bin/env bash
# From a fresh clone to a running container: install what is needed, build the
# release binaries, make a busybox image from the lesson rootfs, run a container
# with mini-docker, and show lesson 1's chroot escape. One line per phase with
# the time elapsed; cargo shows its own progress while it builds.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
  echo "quickstart.sh: run as root: from a root shell, or" >&2
  echo "    sudo -E env \"PATH=\$PATH\" ./scripts/quickstart.sh    (keeps your Rust toolchain)" >&2
  exit 1
fi
. scripts/lib/toolchain.sh

started=$SECONDS
phase() { printf '\n==> [%dm%02ds] %s\n' "$(((SECONDS - started) / 60))" "$(((SECONDS - started) % 60))" "$*"; }

phase "1/5 packages (scripts/setup.sh; nothing to do when all are there)"
./scripts/setup.sh
phase "2/5 release build of the workspace (the first one takes about 8 minutes on 2 cores)"
cargo build --release --workspace
bin=$PWD/target/release
rootfs=${ROOTFS:-target/rootfs}
phase "3/5 a busybox root filesystem in $rootfs"
"$bin/chroot-demo" prepare-rootfs "$rootfs"
# A store of its own, so the quick start never touches /var/lib/mini-docker.
export MINI_DOCKER_ROOT=${MINI_DOCKER_ROOT:-$PWD/target/quickstart/root}
export MINI_DOCKER_RUNROOT=${MINI_DOCKER_RUNROOT:-$PWD/target/quickstart/run}
phase "4/5 an image from it, and a container"
tar -C "$rootfs" -cf target/busybox.tar .
"$bin/mini-docker" import -c 'CMD ["sh"]' target/busybox.tar busybox:quickstart >/dev/null
# --network none: the quick start leaves no bridge or NAT rule behind.
echo "+ mini-docker run --rm --network none busybox:quickstart sh -c 'hostname; id; grep CapBnd /proc/self/status'"
"$bin/mini-docker" run --rm --network none busybox:quickstart sh -c 'hostname; id; grep CapBnd /proc/self/status'
phase "5/5 lesson 1's chroot escape"
"$bin/chroot-demo" escape "$rootfs"
phase "done"
cat <<MSG
Next: read lessons/before-you-start.md, then lesson 1 (lessons/01-chroot.md).
The lessons call the binaries by name; put them on PATH first:
    export PATH=$bin:\$PATH
This quick start's mini-docker store is $MINI_DOCKER_ROOT
(run state in $MINI_DOCKER_RUNROOT); to remove it:
    MINI_DOCKER_ROOT=$MINI_DOCKER_ROOT MINI_DOCKER_RUNROOT=$MINI_DOCKER_RUNROOT $bin/mini-docker system reset -f
MSG
