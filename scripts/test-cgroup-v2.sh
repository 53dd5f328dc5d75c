#!/usr/bin/env bash
# The cgroup v2 lane: this machine (and CI) is cgroup v1 hybrid, our users
# run v2. So boot Debian's stock kernel under QEMU (TCG, no KVM needed) with
# only the unified hierarchy mounted, and run the test targets listed in
# scripts/v2-lane/tests.list inside it, as root with CI=true.
#
# Exits non-zero if the guest cannot be built or booted, or if any listed test
# fails in it. Run as root after `cargo build --workspace --all-targets`
# (scripts/test.sh does both). See README.md, "The cgroup v2 lane".
#
# Environment: MINI_DOCKER_V2_CACHE (kernel cache and scratch space, default
# /var/cache/mini-docker/v2-lane), MINI_DOCKER_V2_MEMORY (guest RAM, 6G),
# MINI_DOCKER_V2_TIMEOUT (seconds the guest may run, 900), MINI_DOCKER_V2_LIST
# (another list, e.g. one line while working on a test), MINI_DOCKER_V2_BENCH
# (N: after the tests, N pairs of container starts born in their cgroup by
# clone3(CLONE_INTO_CGROUP) against cloned-then-moved, alternating, with
# medians, p99 and the paired ratio; indicative only under TCG).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/toolchain.sh
workspace=$(pwd)

cache=${MINI_DOCKER_V2_CACHE:-/var/cache/mini-docker/v2-lane}
memory=${MINI_DOCKER_V2_MEMORY:-6G}
timeout=${MINI_DOCKER_V2_TIMEOUT:-900}
list=${MINI_DOCKER_V2_LIST:-scripts/v2-lane/tests.list}
# Built as modules by Debian; their dependencies (bridge → stp, llc) are added.
# loop: the escape test's host disk (a loop device over a file of its own).
modules=(overlay veth bridge loop)
# Host programs the tests run that busybox lacks or implements too thinly:
# bash (lesson transcripts), ip (netns, the leak checker), script (a tty),
# ps and pgrep (procps: lesson 7 finds a monitor's children).
host_tools=(bash ip script ps pgrep)

log() { echo "v2-lane: $*" >&2; }
die() {
  log "FAILED: $*"
  exit 1
}

# --- the kernel: Debian's current stock image, cached outside the repository

kernel_package() {
  apt-cache depends linux-image-amd64 2>/dev/null |
    awk '/Depends: linux-image-[0-9]/ { print $2; exit }'
}

# Downloads and unpacks $1 into $cache/$1 (once); retries with fresh
# package lists, since a mirror may have moved on to a newer build.
fetch_kernel() {
  local pkg=$1 dir=$cache/$1 attempt tmp
  [ -f "$dir/.complete" ] && return 0
  for attempt in 1 2 3; do
    tmp=$(mktemp -d "$cache/download.XXXXXX")
    if (cd "$tmp" && apt-get download -q "$pkg" 2>&1 | grep -v '^W: Download is performed unsandboxed') &&
      dpkg-deb -x "$tmp"/"$pkg"_*.deb "$tmp/tree"; then
      rm -rf "$dir"
      mkdir -p "$dir"
      mv "$tmp/tree" "$dir/tree"
      rm -rf "$tmp"
      touch "$dir/.complete"
      # Kernels the archive has moved on from are not needed any more.
      find "$cache" -mindepth 1 -maxdepth 1 -name 'linux-image-*' ! -name "$pkg" -exec rm -rf {} +
      return 0
    fi
    rm -rf "$tmp"
    log "downloading $pkg failed (attempt $attempt of 3)"
    sleep $((attempt * 5))
    apt-get update -qq || true
  done
  return 1
}

# --- what runs in the guest: the list, built and located by cargo

# `PACKAGE TARGET ARGS...` lines of the list, comments and blanks dropped.
list_lines() {
  sed -e 's/#.*//' -e 's/[[:space:]]*$//' "$list" | grep -v '^$'
}

# Builds one listed target; prints "EXECUTABLE PACKAGE_DIR".
build_target() {
  local package=$1 target=$2
  cargo test --quiet --no-run --message-format=json -p "$package" --test "$target" |
    jq -r 'select(.reason == "compiler-artifact" and .profile.test and .executable != null)
           | "\(.executable) \(.manifest_path | rtrimstr("/Cargo.toml"))"'
}

# Every workspace binary: the tests find them at CARGO_BIN_EXE_* paths or
# next to themselves (testkit::target_dir), i.e. in target/debug.
workspace_binaries() {
  cargo build --quiet --workspace --bins --message-format=json |
    jq -r 'select(.reason == "compiler-artifact" and (.target.kind | index("bin")) and .executable != null)
           | .executable'
}

# --- the guest's root filesystem

# The shared libraries (and the loader) an ELF file needs.
libraries_of() {
  ldd "$1" 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'
}

# Copies $1 to the same path in the guest, stripped if $2 is "strip", with
# its libraries.
install_elf() {
  local src=$1 how=${2:-} dst lib
  dst=$stage$src
  mkdir -p "$(dirname "$dst")"
  if [ "$how" = strip ]; then
    strip --strip-debug -o "$dst" "$src"
  else
    cp -L "$src" "$dst"
  fi
  for lib in $(libraries_of "$src"); do
    [ -e "$stage$lib" ] && continue
    mkdir -p "$stage$(dirname "$lib")"
    cp -L "$lib" "$stage$lib"
  done
}

# A merged-/usr layout like Debian's, with busybox for everything else.
make_base() {
  rm -rf "$stage"
  mkdir -p "$stage"/{usr/bin,usr/sbin,usr/lib,usr/lib64,etc,proc,sys,dev,tmp,run,root,lane/modules}
  ln -s usr/bin "$stage/bin"
  ln -s usr/sbin "$stage/sbin"
  ln -s usr/lib "$stage/lib"
  ln -s usr/lib64 "$stage/lib64"
  chmod 1777 "$stage/tmp"
  # The kernel opens /dev/console for init before anything is mounted.
  mknod -m 600 "$stage/dev/console" c 5 1
  local tool applet
  for tool in "${host_tools[@]}"; do
    install_elf "$(command -v "$tool" | xargs readlink -f)"
  done
  cp /bin/busybox "$stage/usr/bin/busybox"
  for applet in $(/bin/busybox --list); do
    [ -e "$stage/usr/bin/$applet" ] || ln -s busybox "$stage/usr/bin/$applet"
  done
  echo "root:x:0:0:root:/root:/bin/sh" >"$stage/etc/passwd"
  echo "root:x:0:" >"$stage/etc/group"
  echo "127.0.0.1 localhost" >"$stage/etc/hosts"
}

# The module file of $1 in the unpacked kernel tree.
module_file() {
  find "$modroot" -name "$1.ko" -o -name "${1//_/-}.ko" | head -n1
}

# Appends $1 and, first, what it depends on (read from its modinfo) to the
# guest's load order.
add_module() {
  local name=$1 file dep
  grep -qx "$name" "$stage/lane/modules.order" 2>/dev/null && return 0
  file=$(module_file "$name")
  [ -n "$file" ] || die "kernel module $name not found in $modroot"
  for dep in $(grep -a -o 'depends=[^[:cntrl:]]*' "$file" | head -n1 | cut -d= -f2 | tr , ' '); do
    add_module "$dep"
  done
  cp "$file" "$stage/lane/modules/$name.ko"
  echo "$name" >>"$stage/lane/modules.order"
}

# Stage 1 (initramfs): pivot_root cannot leave an initramfs and every
# container pivots, so the root moves to a tmpfs first.
write_init() {
  cat >"$stage/init" <<'EOF'
#!/bin/sh
mkdir /newroot
mount -t tmpfs -o size=90% tmpfs /newroot
for entry in /*; do
  case $entry in /newroot | /proc | /sys | /dev) ;; *) cp -a "$entry" /newroot/ ;; esac
done
mkdir -p /newroot/proc /newroot/sys /newroot/dev
exec switch_root /newroot /lane/stage2
EOF
  chmod +x "$stage/init"
}

# Stage 2: a v2-only host (no v1 hierarchy mounted, controllers enabled at
# the root as systemd does), then every listed target in order.
write_stage2() {
  cat >"$stage/lane/stage2" <<'EOF'
#!/bin/sh
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root TERM=linux CI=true RUST_BACKTRACE=1
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs tmpfs /run
mount -t cgroup2 cgroup2 /sys/fs/cgroup
echo "+cpuset +cpu +io +memory +pids" >/sys/fs/cgroup/cgroup.subtree_control
# Like a login shell under systemd, the tests run in a leaf cgroup of their own.
mkdir /sys/fs/cgroup/lane.scope
echo $$ >/sys/fs/cgroup/lane.scope/cgroup.procs
for module in $(cat /lane/modules.order); do insmod "/lane/modules/$module.ko"; done
ip link set lo up
hostname v2-lane
echo "@@v2-lane kernel $(uname -r), $(nproc) cpus, controllers: $(cat /sys/fs/cgroup/cgroup.subtree_control)"
# Busy and idle CPU time so far, in ticks: how much of a target's time the
# emulated CPUs were working.
cpu_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8, $5 + $6 }' /proc/stat; }
# Through a pipe, as under cargo: no colours in the log.
set -o pipefail
while IFS='	' read -r name dir exe args; do
  echo "@@v2-lane begin $name"
  start=$(date +%s)
  set -- $(cpu_ticks)
  (cd "$dir" && exec "$exe" $args) </dev/null 2>&1 | cat
  rc=$?
  busy=$1 idle=$2
  set -- $(cpu_ticks)
  load=$((100 * ($1 - busy) / ($1 - busy + $2 - idle + 1)))
  echo "@@v2-lane result $name rc=$rc cpu=$load% $(($(date +%s) - start))s"
done </lane/tests
[ -f /lane/bench ] && /lane/bench.sh "$(cat /lane/bench)" 2>&1
echo "@@v2-lane done"
poweroff -f
EOF
  chmod +x "$stage/lane/stage2"
}

# The optional start-path measurement (MINI_DOCKER_V2_BENCH), run by stage 2
# with the workspace's mini-docker and chroot-demo at their built paths.
write_bench() {
  local runs=$1 md cd
  md=$(workspace_binaries | grep '/mini-docker$')
  cd=$(workspace_binaries | grep '/chroot-demo$')
  echo "$runs" >"$stage/lane/bench"
  {
    echo '#!/bin/bash'
    echo "md_bin=$md cd_bin=$cd"
    cat <<'EOF'
set -euo pipefail
runs=$1 work=/tmp/bench-clone3
mkdir -p $work
export MINI_DOCKER_NAT=off MINI_DOCKER_DNS_UPSTREAM=off MINI_DOCKER_CGROUP_PARENT=bench
md() { "$md_bin" --root $work/md --runroot $work/run "$@"; }
"$cd_bin" prepare-rootfs $work/rootfs >/dev/null
tar -C $work/rootfs -cf $work/busybox.tar .
md import $work/busybox.tar busybox >/dev/null
born=$(md --explain run --rm --network none busybox true 2>&1 | grep -c CLONE_INTO_CGROUP || true)
MINI_DOCKER_NO_CLONE_INTO_CGROUP=1 md run --rm --network none busybox true
# Microseconds of one start, from bash's clock.
us() { local s=$EPOCHREALTIME; "$@" >/dev/null; local e=$EPOCHREALTIME; echo $(( 10#${e/./} - 10#${s/./} )); }
a() { us md run --rm --network none busybox true; }
b() { MINI_DOCKER_NO_CLONE_INTO_CGROUP=1 us md run --rm --network none busybox true; }
for i in $(seq 1 "$runs"); do
  if (( i % 2 )); then x=$(a); y=$(b); else y=$(b); x=$(a); fi
  echo "$x $y"
done >$work/samples
column() { awk -v c=$1 '{print $c}' $work/samples | sort -n | awk '{ v[NR] = $1 } END {
  m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
  r = int(0.99 * NR); if (r < 0.99 * NR) r++; if (r < 1) r = 1
  printf "median %.1f ms, p99 %.1f ms", m / 1000, v[r] / 1000 }'; }
ratio=$(awk '{ printf "%.4f\n", $2 / $1 }' $work/samples | sort -n | awk '{ v[NR] = $1 } END {
  printf "%.3f", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
echo "@@v2-lane bench $runs pairs of run --rm --network none busybox true (debug build, TCG: indicative only)"
echo "@@v2-lane bench A born in its cgroup (explain lines naming CLONE_INTO_CGROUP: $born): $(column 1)"
echo "@@v2-lane bench B cloned, then moved: $(column 2)"
echo "@@v2-lane bench median paired ratio B/A: $ratio"
EOF
  } >"$stage/lane/bench.sh"
  chmod +x "$stage/lane/bench.sh"
}


# --- run

[ "$(id -u)" -eq 0 ] || die "run as root (the guest image holds device nodes)"
for tool in qemu-system-x86_64 cpio jq strip dpkg-deb apt-get flock; do
  command -v "$tool" >/dev/null || die "$tool is missing (scripts/setup.sh installs it)"
done
mkdir -p "$cache"
started=$(date +%s)

pkg=$(kernel_package)
if [ -z "$pkg" ]; then
  apt-get update -qq || true
  pkg=$(kernel_package)
fi
[ -n "$pkg" ] || die "apt knows no linux-image-amd64 (is a Debian archive in sources.list?)"
log "kernel: $pkg"
# Lanes of several worktrees may share the cache: one fetches at a time, and
# each builds and boots its guest in a directory of its own.
exec 9>"$cache/.lock"
flock 9
fetch_kernel "$pkg" || die "could not download $pkg"
flock -u 9
vmlinuz=$(ls "$cache/$pkg"/tree/boot/vmlinuz-*)
modroot=$(ls -d "$cache/$pkg"/tree/lib/modules/*)

work=$(mktemp -d "$cache/run.XXXXXX")
trap 'rm -rf "$work"' EXIT
stage=$work/guest
make_base
for m in "${modules[@]}"; do add_module "$m"; done

log "building the listed test targets"
: >"$stage/lane/tests"
while read -r package target args; do
  built=$(build_target "$package" "$target") || die "cargo could not build $package --test $target"
  [ -n "$built" ] || die "$package has no test target $target"
  read -r exe dir <<<"$built"
  install_elf "$exe" strip
  mkdir -p "$stage$dir"
  printf '%s\t%s\t%s\t%s\n' "$package/$target" "$dir" "$exe" "$args" >>"$stage/lane/tests"
done < <(list_lines)
for bin in $(workspace_binaries); do install_elf "$bin" strip; done
# The lesson transcripts the lessons target reads (testkit::workspace_dir).
mkdir -p "$stage$workspace"
cp -a lessons "$stage$workspace/"
write_init
write_stage2
[ -z "${MINI_DOCKER_V2_BENCH:-}" ] || write_bench "$MINI_DOCKER_V2_BENCH"

initrd=$work/initrd.cpio
(cd "$stage" && find . | cpio -o -H newc --quiet >"$initrd")
log "guest image: $(du -m "$initrd" | cut -f1) MiB, built in $(($(date +%s) - started)) s; booting"

guest_log=$work/guest.log
booted=$(date +%s)
set +e
timeout "$timeout" qemu-system-x86_64 -accel tcg -cpu max -smp 2 -m "$memory" \
  -kernel "$vmlinuz" -initrd "$initrd" -nic none -no-reboot -nographic \
  -append "console=ttyS0 quiet loglevel=3 panic=-1 mitigations=off" </dev/null 2>&1 |
  sed -u 's/\r$//' | tee "$guest_log"
qemu_status=${PIPESTATUS[0]}
set -e

# --- the summary: one line per listed target, then the verdict
echo
echo "=== cgroup v2 lane: $pkg, guest ran $(($(date +%s) - booted)) s, lane $(($(date +%s) - started)) s ==="
grep -a '^@@v2-lane bench ' "$guest_log" | sed 's/^@@v2-lane bench /  bench: /' || true
failed=0
while IFS='	' read -r name _; do
  result=$(grep -a -m1 "^@@v2-lane result $name " "$guest_log" || true)
  counts=$(awk -v n="$name" '$0 == "@@v2-lane begin " n { on = 1; next }
    on && /^@@v2-lane result/ { exit }
    on && /^test result:/ { sub(/^test result: /, ""); sub(/; finished in.*/, ""); print }' "$guest_log")
  if [ -z "$result" ]; then
    echo "  $name: did not run (guest stopped early)"
    failed=1
  elif [[ $result != *" rc=0 "* ]]; then
    echo "  $name: FAILED (${result#@@v2-lane result "$name" }) $counts"
    failed=1
  elif [[ $counts == "ok. 0 passed;"* ]]; then
    echo "  $name: FAILED, ran no test (does its filter still match?)"
    failed=1
  else
    echo "  $name: ${counts:-ok} (${result#@@v2-lane result "$name" rc=0 })"
  fi
done <"$stage/lane/tests"
if ! grep -q '^@@v2-lane done' "$guest_log"; then
  echo "  the guest did not finish (qemu exit status $qemu_status; timeout ${timeout}s)"
  failed=1
fi
cp "$guest_log" "$cache/guest.log" # the last run's, for a second look
if [ "$failed" -ne 0 ]; then
  echo "cgroup v2 lane: FAILED (guest log: $cache/guest.log)"
  exit 1
fi
echo "cgroup v2 lane: all listed targets passed"
