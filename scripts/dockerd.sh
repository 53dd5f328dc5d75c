#!/usr/bin/env bash
# A private Docker daemon, the oracle of the differential suites (and the
# client of mini-runc): its own data root, exec root, socket, pid file,
# bridge, subnet and cgroup parent (named after DIR), so that nothing is
# shared with a system Docker or another private daemon,
# and no iptables rules or forwarding (published ports are served by its
# userland proxy, on loopback for the tests). Its containers' name server is
# 127.0.0.1 in their own namespace (where nothing answers), as mini-docker's
# are in the tests: no DNS query leaves the machine.
#
#   scripts/dockerd.sh start DIR   # starts it, prints DOCKER_HOST=unix://DIR/docker.sock
#   scripts/dockerd.sh stop DIR    # stops it by PID and removes everything it left
#
# Extra dockerd flags can be passed after DIR on start (e.g.
# --add-runtime mini=/path/to/mini-runc).
set -euo pipefail

cmd=${1:?usage: dockerd.sh start|stop DIR [dockerd flags]}
dir=${2:?usage: dockerd.sh start|stop DIR [dockerd flags]}
shift 2
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
# The daemon's own names, derived from DIR so that several private daemons
# (one per worktree, say) never share, or take down, each other's bridge
# and subnet: a bridge, a /24 and a cgroup parent. The /24 is in
# 100.64.0.0/16, away from Docker's and mini-docker's default pools and
# from every subnet the lessons and tests ask for (172.31.0.0/16 is lesson
# 5's seed network).
hash=$(printf '%s' "$dir" | sha256sum | cut -c1-8)
bridge=mdkd$hash
cgroup_parent=mini-docker-oracle-$hash
subnet=100.64.$((16#${hash:0:2} % 250 + 1)).1/24

start() {
  if [ -e "$dir/docker.pid" ] && kill -0 "$(cat "$dir/docker.pid")" 2>/dev/null; then
    echo "DOCKER_HOST=unix://$dir/docker.sock"
    return
  fi
  ip link add "$bridge" type bridge 2>/dev/null || true
  ip addr replace "$subnet" dev "$bridge"
  ip link set "$bridge" up
  /usr/sbin/dockerd \
    --data-root "$dir/data" --exec-root "$dir/exec" \
    -H "unix://$dir/docker.sock" --pidfile "$dir/docker.pid" \
    --bridge "$bridge" --iptables=false --ip-forward=false --ip-masq=false \
    --cgroup-parent "$cgroup_parent" --storage-driver overlay2 \
    --dns 127.0.0.1 \
    "$@" >"$dir/dockerd.log" 2>&1 &
  for _ in $(seq 1 300); do
    if DOCKER_HOST="unix://$dir/docker.sock" /usr/bin/docker version >/dev/null 2>&1; then
      echo "DOCKER_HOST=unix://$dir/docker.sock"
      return
    fi
    sleep 0.1
  done
  echo "dockerd did not answer within 30 s; its log:" >&2
  tail -20 "$dir/dockerd.log" >&2
  stop
  exit 1
}

stop() {
  if [ -e "$dir/docker.pid" ]; then
    pid=$(cat "$dir/docker.pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 150); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
  fi
  # Its containerd and shims, if any outlived it.
  pkill -9 -f -- "$dir/exec" 2>/dev/null || true
  # What it leaves: mounts under its roots, its netns files, its bridge and
  # veths, its cgroups.
  { grep -F -- "$dir" /proc/self/mountinfo || true; } | awk '{print $5}' | sort -r | while read -r m; do
    umount -l "$m" 2>/dev/null || true
  done
  # (its containers' veths went with their namespaces when it stopped them)
  ip link del "$bridge" 2>/dev/null || true
  { find /sys/fs/cgroup -depth -type d -name "$cgroup_parent" 2>/dev/null || true; } | while read -r cg; do
    find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null || true
  done
  rm -rf "$dir"
}

case "$cmd" in
  start) start "$@" ;;
  stop) stop ;;
  *) echo "usage: dockerd.sh start|stop DIR" >&2; exit 2 ;;
esac
