#!/usr/bin/env python3
"""A thousand containers: N `sleep` containers with --network none and M on
one user network, started one after the other (each start timed), then
`ps` timed with all of them running, the monitors' memory summed, and
everything removed and checked to leave nothing. Run by bench/many.sh, as
root, in a private mount namespace like bench/run.sh (see start.py).

    bench/many.sh [--none N] [--user M] [--out PATH]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RELEASE = os.environ.get("BENCH_BIN_DIR", os.path.join(REPO, "target", "release"))


def latencies(samples, k=20):
    """Median of the first and of the last k starts, and their ratio."""
    first, last = statistics.median(samples[:k]), statistics.median(samples[-k:])
    return {"n": len(samples), "first_median_ms": round(first, 2), "last_median_ms": round(last, 2),
            "last_over_first": round(last / first, 3), "median_ms": round(statistics.median(samples), 2),
            "p99_ms": round(harness.percentile(samples, 99), 2), "window": k}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--none", type=int, default=1000)
    ap.add_argument("--user", type=int, default=200)
    ap.add_argument("--out", default=os.path.join(REPO, "bench", "results", "many-" + time.strftime("%Y%m%d-%H%M%S")))
    args = ap.parse_args()
    if os.environ.get("BENCH_IN_NS") != "1":
        os.execvpe("unshare", ["unshare", "-m", "--propagation", "private", sys.executable, *sys.argv],
                   dict(os.environ, BENCH_IN_NS="1"))
    subprocess.run(["umount", "/sys/fs/cgroup/unified"], capture_output=True)
    work = tempfile.mkdtemp(prefix="bench-many.")
    parent = f"mini-docker-bench-{os.getpid()}"
    prefix = f"bm{os.getpid() % 65536:04x}"
    env = dict(os.environ, MINI_DOCKER_CGROUP_PARENT=parent, MINI_DOCKER_LINK_PREFIX=prefix,
               MINI_DOCKER_NAT="off", MINI_DOCKER_DNS_UPSTREAM="off", MINI_DOCKER_ADDRESS_POOL="10.216.0.0/16")
    md_bin = os.path.join(RELEASE, "mini-docker")
    md = [md_bin, "--root", f"{work}/md", "--runroot", f"{work}/run"]

    def run(*a, check=True):
        return subprocess.run(md + list(a), check=check, capture_output=True, env=env)

    def timed(*a):
        t = time.perf_counter_ns()
        run(*a)
        return (time.perf_counter_ns() - t) / 1e6

    data, text = {}, []
    try:
        subprocess.run([os.path.join(RELEASE, "chroot-demo"), "prepare-rootfs", f"{work}/rootfs"],
                       check=True, capture_output=True)
        subprocess.run(["tar", "-C", f"{work}/rootfs", "-cf", f"{work}/bb.tar", "."], check=True)
        run("import", f"{work}/bb.tar", "busybox")
        run("network", "create", "--subnet", "10.217.0.0/16", "benchnet")
        none = [timed("run", "-d", "--network", "none", "--name", f"n{i}", "busybox", "sleep", "100000")
                for i in range(args.none)]
        user = [timed("run", "-d", "--network", "benchnet", "--name", f"u{i}", "busybox", "sleep", "100000")
                for i in range(args.user)]
        data["start_none"] = latencies(none)
        data["start_user_network"] = latencies(user)
        running = len(run("ps", "-q").stdout.split())
        ps = [timed("ps") for _ in range(15)]
        ps_a = [timed("ps", "-a") for _ in range(15)]
        data["running"] = running
        data["ps"] = {"median_ms": round(statistics.median(ps), 2), "p99_ms": round(max(ps), 2),
                      "a_median_ms": round(statistics.median(ps_a), 2)}
        monitors = []
        for cid in os.listdir(f"{work}/md/containers"):
            try:
                with open(f"{work}/md/containers/{cid}/state.json") as f:
                    monitors.append(json.load(f)["MonitorPid"])
            except (OSError, ValueError, KeyError):
                pass
        rss = [tuple(x or 0 for x in harness.memory_kib(p)) for p in monitors if p]
        data["monitors"] = {"count": len(rss), "rss_total_mib": round(sum(r for r, _ in rss) / 1024, 1),
                            "pss_total_mib": round(sum(p for _, p in rss) / 1024, 1),
                            "rss_each_median_kib": statistics.median(r for r, _ in rss),
                            "pss_each_median_kib": statistics.median(p for _, p in rss)}
        t = time.perf_counter()
        names = [f"n{i}" for i in range(args.none)] + [f"u{i}" for i in range(args.user)]
        for k in range(0, len(names), 100):
            run("rm", "-f", *names[k:k + 100])
        data["remove_seconds"] = round(time.perf_counter() - t, 2)
        run("network", "rm", "benchnet")
        def alive(pid):
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    return work.encode() in f.read()  # not a zombie, not a reused PID
            except OSError:
                return False
        # `rm` returns once a monitor has let go of its container; it may
        # still be exiting.
        for _ in range(50):
            if not any(alive(p) for p in monitors):
                break
            time.sleep(0.1)
        left = {
            "containers": sum(1 for c in os.listdir(f"{work}/md/containers") if not c.startswith(".")),
            "cgroups": int(subprocess.run(["sh", "-c", f"find /sys/fs/cgroup -path '*{parent}*' -type d | wc -l"],
                                          capture_output=True).stdout),
            "links": sum(1 for line in subprocess.run(["ip", "-o", "link"], capture_output=True).stdout.decode()
                         .splitlines() if line.split(": ")[1].startswith(prefix)),
            "mounts": sum(1 for line in open("/proc/self/mountinfo") if f"{work}/md" in line),
            "monitors": sum(1 for p in monitors if alive(p)),
        }
        data["left_after_rm"] = left
    finally:
        ids = run("ps", "-aq", check=False).stdout.split()
        for k in range(0, len(ids), 100):
            run("rm", "-f", *[i.decode() for i in ids[k:k + 100]], check=False)
        run("network", "rm", "benchnet", check=False)
        subprocess.run(["rm", "-rf", work])
    s, u, m = data["start_none"], data["start_user_network"], data["monitors"]
    text = [
        f"{args.none} containers with --network none, then {args.user} on one user network, started one by one:",
        f"  --network none: first {s['window']} median {s['first_median_ms']} ms, last {s['window']} median "
        f"{s['last_median_ms']} ms (last/first {s['last_over_first']}), p99 {s['p99_ms']} ms",
        f"  user network:   first {u['window']} median {u['first_median_ms']} ms, last {u['window']} median "
        f"{u['last_median_ms']} ms (last/first {u['last_over_first']}), p99 {u['p99_ms']} ms",
        f"  running: {data['running']}; ps median {data['ps']['median_ms']} ms (max {data['ps']['p99_ms']} ms of 15), "
        f"ps -a median {data['ps']['a_median_ms']} ms",
        f"  monitors: {m['count']}, RSS total {m['rss_total_mib']} MiB (median {m['rss_each_median_kib']} KiB each), "
        f"PSS total {m['pss_total_mib']} MiB (median {m['pss_each_median_kib']} KiB each)",
        f"  rm -f of all in batches of 100: {data['remove_seconds']} s; left: "
        + ", ".join(f"{v} {k}" for k, v in data["left_after_rm"].items()),
    ]
    rendered = "\n".join(text)
    print(rendered)
    harness.write(args.out, rendered, data)
    print(f"(written: {args.out}.txt and {args.out}.json)")


if __name__ == "__main__":
    main()
