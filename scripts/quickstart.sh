#!/usr/bin/env bash
# From a fresh clone to a running lesson: install what is needed, build the
# release binaries, prepare a busybox rootfs, and run lesson 1's escape demo.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/setup.sh
cargo build --release --workspace --quiet
bin=target/release
rootfs=${ROOTFS:-target/rootfs}
"$bin/chroot-demo" prepare-rootfs "$rootfs"
"$bin/chroot-demo" escape "$rootfs"
echo
echo "Next: read lessons/01-chroot.md; the binaries are in $bin/ (try $bin/chroot-demo --help)."
