#!/usr/bin/env python3
"""Where the milliseconds of `run --rm --network none busybox true` go, from
the CLI's execve to its exit: RUNS runs under `strace -f --seccomp-bpf`
tracing only the syscalls that mark a phase boundary (so the others run at
full speed), the phases cut at those marks, medians per phase. Run by
bench/profile.sh, as root, in a private mount namespace like bench/run.sh.

    bench/profile.sh [--runs N] [--out PATH]
"""

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RELEASE = os.environ.get("BENCH_BIN_DIR", os.path.join(REPO, "target", "release"))
MARKS = "execve,clone,clone3,pivot_root,seccomp,exit_group,rename"

# (phase, description, process, mark that ends it); each phase starts where
# the previous one ended. A mark is (process, syscall, text it contains).
PHASES = [
    ("cli", "CLI: exec, parse, open the store, find the image, write the new container",
     ("cli", "clone(", "SIGCHLD")),
    ("spawn", "fork of the CLI + exec of mini-docker-monitor", ("monitor", "execve(", "= 0")),
    ("monitor", "monitor: start-up, lock, state file update", ("monitor", "rename(", "state.tmp")),
    ("prepare", "cgroup creation and limits, device rules, log, socket, rootfs dirs, seccomp compile",
     ("monitor", "clone(", "CLONE_NEWNS")),
    ("namespaces", "clone into the namespaces, cgroup move, network wiring (bridge), sync, rootfs and "
                   "/dev /proc /sys mounts",
     ("child", "pivot_root(", "")),
    ("finish", "masked paths, hostname, capabilities, seccomp filter load",
     ("child", "seccomp(SECCOMP_SET_MODE_FILTER, 0", "")),
    ("exec", "execve of the command (PATH search)", ("child", "execve(", "= 0")),
    ("command", "the container's /bin/true runs", ("child", "exit_group(", "")),
    ("reap", "monitor reaps, records the exit", ("monitor", "rename(", ".rm-")),
    ("remove", "--rm: container directory renamed away, CLI hears the exit and exits",
     ("cli", "exit_group(", "")),
]


def parse(path):
    """The marks of one trace: (time, role, line)."""
    lines = open(path).read().splitlines()
    roles, events = {}, []
    for line in lines:
        m = re.match(r"(\d+) (\d+\.\d+) (.*)", line)
        if not m:
            continue
        pid, t, rest = int(m[1]), float(m[2]), m[3]
        # A call another process's trace line interrupted ends on a line of
        # its own: `<... execve resumed>) = 0`, read as the call's end.
        rest = re.sub(r"^<\.\.\. (\w+) resumed>", r"\1(", rest)
        if not roles:
            roles[pid] = "cli"
        if rest.startswith("execve(") and "mini-docker-monitor" in rest:
            roles[pid] = "monitor"
        if rest.startswith("clone(") and "CLONE_NEWNS" in rest and "=" in rest.rsplit(")", 1)[-1]:
            child = int(rest.rsplit("=", 1)[1].split()[0])
            roles[child] = "child"
        events.append((t, roles.get(pid), rest))
    return events


def budget(events):
    """Phase durations (ms) of one trace, or None if a mark is missing."""
    start = events[0][0]
    out, i = {}, 0
    for key, _, (role, call, text) in PHASES:
        while i < len(events):
            t, r, rest = events[i]
            i += 1
            if r == role and rest.startswith(call) and text in rest:
                out[key] = (t - start) * 1000
                start = t
                break
        else:
            return None
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--out", default=None)
    ap.add_argument("--network", default="none", help="none, or bridge (the default network)")
    args = ap.parse_args()
    if os.environ.get("BENCH_IN_NS") != "1":
        os.execvpe("unshare", ["unshare", "-m", "--propagation", "private", sys.executable, *sys.argv],
                   dict(os.environ, BENCH_IN_NS="1"))
    subprocess.run(["umount", "/sys/fs/cgroup/unified"], capture_output=True)
    work = tempfile.mkdtemp(prefix="bench-profile.")
    env = dict(os.environ, MINI_DOCKER_CGROUP_PARENT=f"mini-docker-bench-{os.getpid()}",
               MINI_DOCKER_LINK_PREFIX=f"bp{os.getpid() % 65536:04x}", MINI_DOCKER_NAT="off",
               MINI_DOCKER_DNS_UPSTREAM="off", MINI_DOCKER_ADDRESS_POOL="10.215.0.0/16")
    md = [os.path.join(RELEASE, "mini-docker"), "--root", f"{work}/md", "--runroot", f"{work}/run"]
    run = md + ["run", "--rm", "--network", args.network, "busybox", "true"]
    try:
        subprocess.run([os.path.join(RELEASE, "chroot-demo"), "prepare-rootfs", f"{work}/rootfs"],
                       check=True, capture_output=True)
        subprocess.run(["tar", "-C", f"{work}/rootfs", "-cf", f"{work}/bb.tar", "."], check=True)
        subprocess.run(md + ["import", f"{work}/bb.tar", "busybox"], check=True, capture_output=True, env=env)
        # A sleeping container keeps the cgroup parent in place, as on a
        # host where containers run (the first container pays its mkdir).
        subprocess.run(md + ["run", "-d", "--name", "keep", "--network", "none", "busybox", "sleep", "1000"],
                       check=True, capture_output=True, env=env)
        untraced, budgets = [], []
        for i in range(args.runs):
            t = time.perf_counter_ns()
            subprocess.run(run, check=True, env=env)
            untraced.append((time.perf_counter_ns() - t) / 1e6)
            trace = f"{work}/trace-{i}"
            subprocess.run(["strace", "-f", "--seccomp-bpf", "-ttt", "-e", f"trace={MARKS}", "-o", trace] + run,
                           check=True, env=env)
            b = budget(parse(trace))
            if b:
                budgets.append(b)
    finally:
        subprocess.run(md + ["rm", "-f", "keep"], capture_output=True, env=env)
        subprocess.run(["rm", "-rf", work])
        # The default network's bridge outlives its containers, as docker0 does.
        links = subprocess.run(["ip", "-o", "link"], capture_output=True).stdout.decode().splitlines()
        for name in (line.split(": ")[1].split("@")[0] for line in links):
            if name.startswith(env["MINI_DOCKER_LINK_PREFIX"]):
                subprocess.run(["ip", "link", "del", name], capture_output=True)
    lines = [f"start budget of `run --rm --network {args.network} busybox true`, median of {len(budgets)} traced runs "
             f"(marks only: {MARKS})"]
    total = 0
    for key, what, _ in PHASES:
        m = statistics.median(b[key] for b in budgets)
        total += m
        lines.append(f"  {m:6.2f} ms  {key:<10} {what}")
    traced = statistics.median(sum(b.values()) for b in budgets)
    lines.append(f"  {traced:6.2f} ms  total traced (median of sums); untraced median "
                 f"{statistics.median(untraced):.2f} ms (p99 {max(untraced):.2f}) in the same runs")
    text = "\n".join(lines)
    print(text)
    if args.out:
        import json
        with open(args.out + ".txt", "w") as f:
            f.write(text + "\n")
        with open(args.out + ".json", "w") as f:
            json.dump({"budgets_ms": budgets, "untraced_ms": untraced}, f, indent=1)


if __name__ == "__main__":
    main()
