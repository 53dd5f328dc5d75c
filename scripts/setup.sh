#!/usr/bin/env bash
# Installs what the toolkit and its tests need on Debian 12 / Ubuntu, as root.
# Idempotent: packages already present are not touched, so a second run is instant.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
  echo "setup.sh: run as root (namespaces, mounts and cgroups need it): from a root shell, or" >&2
  echo "    sudo -E env \"PATH=\$PATH\" ./scripts/setup.sh    (keeps your Rust toolchain)" >&2
  exit 1
fi
. scripts/lib/toolchain.sh

# busybox-static: the rootfs of every lesson and test; iproute2: the leak checker's
# clean-up and the lessons' exercises; util-linux: unshare (a test drives it) and the
# mount/nsenter of the lesson text; iptables: net-demo's outbound NAT (never exercised
# by a test, but a user's `net_demo::nat` needs it).
# docker-registry, skopeo, umoci, podman: the real peers mini-docker's image tests talk
# to on loopback or exchange archives with; runc and crun (not pulled in by podman on
# Debian: it is only a Recommends) the OCI runtime peers of
# bench/run.sh. libseccomp-dev: mini-docker's default seccomp filter is compiled by
# libseccomp, as runc's and crun's are. qemu-system-x86, cpio, jq, binutils (strip):
# the cgroup v2 lane (scripts/test-cgroup-v2.sh) boots a Debian kernel under QEMU
# from an initramfs of the stripped test binaries, found in cargo's JSON messages.
# docker.io: Docker itself, the oracle of the differential suites (scripts/dockerd.sh
# starts a private daemon; the system one is never started). containerd (ctr): a
# client of mini-runc (its tests start a private containerd); crun: a peer of
# bench/run.sh and bench/runc.sh; script (util-linux) gives the clients' `-it` checks a pty.
# graphviz, chromium, python3: the book (scripts/book.sh renders the lessons' diagrams
# from their .dot sources, checks the links, and loads every page in headless Chromium).
# bzip2, xz-utils: the build tests make the tar.bz2 and tar.xz that ADD unpacks.
packages=(busybox-static iproute2 util-linux iptables ca-certificates docker-registry skopeo umoci podman runc crun libseccomp-dev pkg-config
  qemu-system-x86 cpio jq binutils docker.io graphviz chromium python3 bzip2 xz-utils containerd)
command -v cc >/dev/null 2>&1 || packages+=(gcc libc6-dev)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup.sh: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # No service may start from a package's install script (docker.io would
  # start a system dockerd with its own bridge and iptables rules).
  guard=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    guard=/usr/sbin/policy-rc.d
  fi
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  [ -z "$guard" ] || rm -f "$guard"
fi

# cargo fmt / clippy come with rustup's default profile; add them where missing.
if ! cargo fmt --version >/dev/null 2>&1 || ! cargo clippy --version >/dev/null 2>&1; then
  if command -v rustup >/dev/null 2>&1; then
    rustup component add rustfmt clippy
  else
    echo "setup.sh: cargo fmt/clippy missing and no rustup to add them" >&2
    exit 1
  fi
fi
