#!/usr/bin/env python3
"""Container start, exec and supervision cost: mini-docker against the
floor (unshare + chroot), runc, crun, podman and Docker, on the same busybox
rootfs, in one paired run (see harness.py). Run by bench/run.sh, as root:

    bench/run.sh [--rounds N] [--parallel N] [--out PATH] [--only GROUP,…]

Everything runs in one private mount namespace in which the host's cgroup2
mount (/sys/fs/cgroup/unified, the empty v2 half of this host's hybrid
layout) is hidden: crun 1.8 refuses a hybrid layout, and with it hidden
every peer, runc and mini-docker included, places its container in the
same v1 controllers (each peer's cgroups are probed from inside and
reported). No traffic leaves the machine: no peer has an outside network,
no image is pulled (each is imported from the same tarball).
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import PROBE_SCRIPT, Peer  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RELEASE = os.environ.get("BENCH_BIN_DIR", os.path.join(REPO, "target", "release"))
DOCKER = "/usr/bin/docker"
# Docker's default capabilities (moby's oci/caps/defaults.go).
DOCKER_CAPS = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
               "CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
               "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"]


def sh(*argv, **kw):
    return subprocess.run(argv, check=True, stdin=subprocess.DEVNULL, **kw)


def out(*argv, env=None):
    return subprocess.run(argv, check=True, capture_output=True, env=env).stdout.decode().strip()


def docker_seccomp(caps):
    """Docker's default seccomp profile (Debian's containers-common copy of
    it) as an OCI `linux.seccomp` for a process holding `caps`, by moby's
    rules: an entry applies if all its `includes.caps` are held and none of
    its `excludes.caps`, and if amd64 is (not) among its (excluded) arches."""
    with open("/usr/share/containers/seccomp.json") as f:
        profile = json.load(f)
    syscalls = []
    for entry in profile["syscalls"]:
        inc, exc = entry.get("includes") or {}, entry.get("excludes") or {}
        if not set(inc.get("caps") or []) <= set(caps):
            continue
        if set(exc.get("caps") or []) & set(caps):
            continue
        if inc.get("arches") and "amd64" not in inc["arches"]:
            continue
        if "amd64" in (exc.get("arches") or []):
            continue
        rule = {"names": entry["names"], "action": entry["action"]}
        if entry.get("args"):
            rule["args"] = entry["args"]
        if entry.get("errnoRet") is not None:
            rule["errnoRet"] = entry["errnoRet"]
        syscalls.append(rule)
    return {"defaultAction": profile["defaultAction"],
            "defaultErrnoRet": profile.get("defaultErrnoRet", 1),
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
            "syscalls": syscalls}


def bundle(work, name, rootfs, args, docker_like):
    """A runc/crun bundle over the shared rootfs: `runc spec`'s defaults
    (new mount, pid, ipc, uts and network namespaces; 3 capabilities; no
    seccomp), or, docker_like, with Docker's 14 default capabilities and
    its default seccomp profile, as mini-docker applies them."""
    path = os.path.join(work, name)
    os.makedirs(path)
    sh("runc", "spec", "--bundle", path)
    spec_path = os.path.join(path, "config.json")
    with open(spec_path) as f:
        spec = json.load(f)
    spec["root"] = {"path": rootfs, "readonly": False}
    spec["process"]["terminal"] = False
    spec["process"]["args"] = args
    if docker_like:
        caps = spec["process"]["capabilities"]
        for kind in ("bounding", "effective", "permitted"):
            caps[kind] = list(DOCKER_CAPS)
        caps.pop("inheritable", None)
        caps.pop("ambient", None)
        spec["linux"]["seccomp"] = docker_seccomp(DOCKER_CAPS)
    with open(spec_path, "w") as f:
        json.dump(spec, f)
    return path


class Bench:
    def __init__(self, args):
        self.args = args
        self.work = tempfile.mkdtemp(prefix="bench-start.")
        self.rootfs = os.path.join(self.work, "rootfs")
        pid = os.getpid()
        self.env = dict(os.environ,
                        MINI_DOCKER_CGROUP_PARENT=f"mini-docker-bench-{pid}",
                        MINI_DOCKER_LINK_PREFIX=f"bn{pid % 65536:04x}",
                        MINI_DOCKER_NAT="off", MINI_DOCKER_DNS_UPSTREAM="off",
                        MINI_DOCKER_ADDRESS_POOL="10.213.0.0/16",
                        CONTAINERS_CONF=os.path.join(self.work, "containers.conf"))
        self.md_bin = os.path.join(RELEASE, "mini-docker")
        self.mini_runc = os.path.join(RELEASE, "mini-runc")
        self.dockerd_dir = None
        self.docker_env = None
        self.counter = 0

    # --- commands -----------------------------------------------------
    def md(self, *a, binary=None):
        return [binary or self.md_bin, "--root", f"{self.work}/md", "--runroot", f"{self.work}/md-run", *a]

    def pm(self, *a):
        return ["podman", "--root", f"{self.work}/podman", "--runroot", f"{self.work}/podman-run",
                "--storage-driver", "vfs", "--events-backend", "none",
                "--cgroup-manager", "cgroupfs", "--runtime", "crun", *a]

    def oci(self, runtime, bundle_path):
        state = f"{self.work}/{runtime}-state"

        def argv(i):
            self.counter += 1
            return [runtime, "--root", state, "run", "--bundle", bundle_path,
                    f"b{os.getpid()}-{self.counter}"]
        return argv

    # --- preparation --------------------------------------------------
    def prepare(self):
        w = self.work
        sh(os.path.join(RELEASE, "chroot-demo"), "prepare-rootfs", self.rootfs, stdout=subprocess.DEVNULL)
        tarball = os.path.join(w, "busybox.tar")
        sh("tar", "-C", self.rootfs, "-cf", tarball, ".")
        sh(*self.md("import", tarball, "busybox"), stdout=subprocess.DEVNULL, env=self.env)
        with open(self.env["CONTAINERS_CONF"], "w") as f:
            # Debian's default ulimits exceed this machine's hard limits.
            f.write('[containers]\ndefault_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]\n')
        if shutil.which("podman"):
            sh(*self.pm("import", "-q", tarball, "localhost/busybox"), stdout=subprocess.DEVNULL,
               env=self.env)
        self.bundles = {}
        for name, docker_like in (("spec", False), ("docker", True)):
            self.bundles[name] = bundle(w, f"bundle-{name}", self.rootfs, ["true"], docker_like)
            self.bundles[name + "-probe"] = bundle(
                w, f"bundle-{name}-probe", self.rootfs, ["sh", "-c", PROBE_SCRIPT], docker_like)
            self.bundles[name + "-sleep"] = bundle(
                w, f"bundle-{name}-sleep", self.rootfs, ["sleep", "100000"], docker_like)
        if os.path.exists("/usr/sbin/dockerd") and "docker" not in self.args.skip:
            self.start_dockerd(tarball)

    def start_dockerd(self, tarball):
        self.dockerd_dir = os.path.join(self.work, "dockerd")
        extra = []
        if os.path.exists(self.mini_runc):
            extra = ["--add-runtime", f"mini={self.mini_runc}"]
        line = out(os.path.join(REPO, "scripts", "dockerd.sh"), "start", self.dockerd_dir, *extra)
        host = line.split("=", 1)[1]
        self.docker_env = dict(self.env, DOCKER_HOST=host)
        sh(DOCKER, "import", tarball, "busybox", stdout=subprocess.DEVNULL, env=self.docker_env)

    def cleanup(self):
        env = self.env
        subprocess.run(self.md("ps", "-aq"), capture_output=True, env=env)
        ids = subprocess.run(self.md("ps", "-aq"), capture_output=True, env=env).stdout.split()
        if ids:
            subprocess.run(self.md("rm", "-f", *[i.decode() for i in ids]), capture_output=True, env=env)
        for runtime in ("runc", "crun"):
            state = f"{self.work}/{runtime}-state"
            if os.path.isdir(state):
                for c in os.listdir(state):
                    subprocess.run([runtime, "--root", state, "delete", "-f", c], capture_output=True)
        if shutil.which("podman"):
            subprocess.run(self.pm("rm", "-af"), capture_output=True, env=env)
        if self.dockerd_dir:
            subprocess.run([os.path.join(REPO, "scripts", "dockerd.sh"), "stop", self.dockerd_dir],
                           capture_output=True)
        prefix = env["MINI_DOCKER_LINK_PREFIX"]
        for line in out("ip", "-o", "link").splitlines():
            name = line.split(": ")[1].split("@")[0]
            if name.startswith(prefix):
                subprocess.run(["ip", "link", "del", name], capture_output=True)
        subprocess.run(["umount", "-R", "-l", f"{self.work}/podman"], capture_output=True)
        # podman's cgroupfs manager leaves libpod_parent/conmon behind in
        # every hierarchy; empty ones go (rmdir refuses a cgroup in use).
        for hierarchy in os.listdir("/sys/fs/cgroup"):
            for d in ("libpod_parent/conmon", "libpod_parent"):
                try:
                    os.rmdir(os.path.join("/sys/fs/cgroup", hierarchy, d))
                except OSError:
                    pass
        shutil.rmtree(self.work, ignore_errors=True)

    # --- groups ---------------------------------------------------------
    def start_peers(self):
        e, de = self.env, self.docker_env
        mini_setup = ("overlay rootfs over the image's layer, new mnt,pid,ipc,uts,net ns (lo only), "
                      "v1 cgroups (cpu…pids) under MINI_DOCKER_CGROUP_PARENT, Docker's 14 caps, "
                      "seccomp default profile, masked paths, /dev, /dev/pts, /dev/shm, mqueue, "
                      "hosts/resolv.conf/hostname; json-file log, state in --root, a monitor per container")
        peers = [
            Peer("mini", "mini-docker run --rm --network none busybox true",
                 self.md("run", "--rm", "--network", "none", "busybox", "true"), mini_setup,
                 probe=self.md("run", "--rm", "--network", "none", "busybox", "sh", "-c", PROBE_SCRIPT), env=e),
            Peer("floor", "unshare -m -p -n -i -u -f chroot ROOT /bin/true",
                 ["unshare", "-m", "-p", "-n", "-i", "-u", "-f", "chroot", self.rootfs, "/bin/true"],
                 "new mnt,pid,net,ipc,uts ns; chroot into the plain rootfs dir; no cgroup, no caps dropped, no seccomp",
                 probe=["unshare", "-m", "-p", "-n", "-i", "-u", "-f", "chroot", self.rootfs, "/bin/sh", "-c",
                        "mount -t proc proc /proc; mount -t sysfs sys /sys; " + PROBE_SCRIPT
                        + "; umount /sys; umount /proc"]),
            Peer("mini-bridge", "mini-docker run --rm busybox true (default bridge)",
                 self.md("run", "--rm", "busybox", "true"), mini_setup.replace("(lo only)", "+ veth on its bridge, IPAM, DNS"),
                 probe=self.md("run", "--rm", "busybox", "sh", "-c", PROBE_SCRIPT), env=e),
        ]
        if self.args.baseline:
            # The same store run by other binaries (a build before a change):
            # before/after measured in pairs.
            base = os.path.join(self.args.baseline, "mini-docker")
            peers.insert(1, Peer("mini-baseline", f"mini-docker (baseline {self.args.baseline}) --network none",
                                 self.md("run", "--rm", "--network", "none", "busybox", "true", binary=base),
                                 "as mini-docker, built from the baseline", env=e, needs=[base]))
            peers.insert(2, Peer("mini-baseline-bridge", "mini-docker (baseline) default bridge",
                                 self.md("run", "--rm", "busybox", "true", binary=base),
                                 "as mini-docker, built from the baseline", env=e, needs=[base]))
        for runtime in ("crun", "runc"):
            for flavour, what in (("docker", "Docker's 14 caps + default seccomp"),
                                  ("spec", "`runc spec` defaults: 3 caps, no seccomp")):
                peers.append(Peer(
                    f"{runtime}-{flavour}", f"{runtime} run (bundle: {what.split(':')[0]})",
                    self.oci(runtime, self.bundles[flavour]),
                    f"prepared bundle on the plain rootfs dir (no overlay, no image store), new mnt,pid,ipc,uts,net ns, "
                    f"v1 cgroups at /<id>, {what}, runc spec's mounts and masked paths; no log, no monitor",
                    probe=self.oci(runtime, self.bundles[flavour + "-probe"]), needs=[runtime]))
        peers.append(Peer("podman", "podman run --rm --network none (crun, vfs)",
                          self.pm("run", "--rm", "--network", "none", "localhost/busybox", "true"),
                          "conmon + crun, vfs storage (a copy of the image per container), cgroupfs manager",
                          probe=self.pm("run", "--rm", "--network", "none", "localhost/busybox", "sh", "-c",
                                        PROBE_SCRIPT), env=e, needs=["podman"]))
        if de:
            peers.append(Peer("docker", "docker run --rm --network none busybox true",
                              [DOCKER, "run", "--rm", "--network", "none", "busybox", "true"],
                              "dockerd + containerd + shim + runc, overlay2, cgroupfs",
                              probe=[DOCKER, "run", "--rm", "--network", "none", "busybox", "sh", "-c", PROBE_SCRIPT],
                              env=de, needs=[DOCKER]))
            peers.append(Peer("docker-mini", "docker run --rm --runtime mini --network none",
                              [DOCKER, "run", "--rm", "--runtime", "mini", "--network", "none", "busybox", "true"],
                              "dockerd + containerd + shim + mini-runc (our OCI runtime)",
                              probe=[DOCKER, "run", "--rm", "--runtime", "mini", "--network", "none", "busybox",
                                     "sh", "-c", PROBE_SCRIPT],
                              env=de, needs=[self.mini_runc]))
        else:
            skipped = Peer("docker", "docker run --rm --network none busybox true", [], "",
                           needs=["/usr/sbin/dockerd"])
            skipped.status = "skipped (--skip docker)" if "docker" in self.args.skip else "missing: dockerd"
            peers.append(skipped)
        return peers

    def exec_peers(self):
        e, de, w = self.env, self.docker_env, self.work
        sh(*self.md("run", "-d", "--name", "bench-exec", "--network", "none", "busybox", "sleep", "100000"),
           stdout=subprocess.DEVNULL, env=e)
        peers = [Peer("mini", "mini-docker exec CTR true", self.md("exec", "bench-exec", "true"),
                      "setns into the container's namespaces, its cgroup, caps and seccomp", env=e)]
        for runtime in ("crun", "runc"):
            if shutil.which(runtime):
                subprocess.run([runtime, "--root", f"{w}/{runtime}-state", "run", "-d", "--bundle",
                                self.bundles["docker-sleep"], f"exec-{runtime}"],
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            peers.append(Peer(runtime, f"{runtime} exec CTR true (Docker-like bundle)",
                              [runtime, "--root", f"{w}/{runtime}-state", "exec", f"exec-{runtime}", "true"],
                              "setns, cgroup, caps and seccomp of the bundle", needs=[runtime]))
        if de:
            sh(DOCKER, "run", "-d", "--name", "bench-exec", "--network", "none", "busybox", "sleep", "100000",
               stdout=subprocess.DEVNULL, env=de)
            peers.append(Peer("docker", "docker exec CTR true", [DOCKER, "exec", "bench-exec", "true"],
                              "dockerd + containerd + shim + runc exec", env=de))
        return peers

    def memory(self):
        """Resident and proportional set size of each supervisor of one
        idle `sleep` container (the bench-exec containers)."""
        def sizes(pid):
            rss, pss = harness.memory_kib(pid)
            return {"pid": pid, "rss_kib": rss, "pss_kib": pss}
        result = {}
        cid = out(*self.md("inspect", "-f", "{{.Id}}", "bench-exec"), env=self.env)
        with open(f"{self.work}/md/containers/{cid}/state.json") as f:
            state = json.load(f)
        result["mini-docker monitor"] = sizes(state["MonitorPid"])
        if shutil.which("podman"):
            sh(*self.pm("run", "-d", "--name", "bench-conmon", "--network", "none", "localhost/busybox",
                        "sleep", "100000"), stdout=subprocess.DEVNULL, env=self.env)
            pid = out("pgrep", "-n", "-f", f"conmon.*{self.work}/podman")
            result["podman's conmon"] = sizes(int(pid))
        if self.docker_env:
            pid = out("pgrep", "-n", "-f", f"containerd-shim.*{self.dockerd_dir}")
            result["Docker's containerd-shim-runc-v2"] = sizes(int(pid)) if pid else None
        return result

    def parallel(self, n):
        """n containers started at once, then removed, with a leak count."""
        e = self.env
        start = time.perf_counter()
        procs = [subprocess.Popen(self.md("run", "-d", "--network", "none", "--name", f"par-{i}", "busybox",
                                          "sleep", "100000"), stdout=subprocess.DEVNULL, env=e)
                 for i in range(n)]
        failed = sum(p.wait() != 0 for p in procs)
        elapsed = time.perf_counter() - start
        running = len([x for x in out(*self.md("ps", "-q", "--filter", "name=par-"), env=e).split() if x])
        names = [f"par-{i}" for i in range(n)]
        subprocess.run(self.md("rm", "-f", *names), capture_output=True, env=e)
        parent = e["MINI_DOCKER_CGROUP_PARENT"]
        left_cgroups = int(out("sh", "-c", f"find /sys/fs/cgroup -maxdepth 3 -path '*{parent}/*' -type d | wc -l"))
        left = [c for c in os.listdir(f"{self.work}/md/containers") if not c.startswith(".")]
        return {"containers": n, "failed": failed, "running": running, "seconds": round(elapsed, 3),
                "left_containers": len(left), "left_cgroups": left_cgroups}


def logs_follow(b, megabytes):
    """`logs -f` of a container writing as fast as it can: how far behind
    the json-file log the follower gets. Every line is 100 bytes, so every
    record in the log has the same length and the log's size says how many
    lines the monitor has written; the follower's output says how many it
    has printed. Sampled every 20 ms; lag in seconds = lines behind / the
    writer's lines per second."""
    import threading
    # The writer is `cat` of a file of such lines, bound in: busybox's
    # `yes | head` manages less than 100 MB/s here by itself.
    line = "0123456789" * 9 + "abcdefghi\n"  # 100 bytes
    chunk = os.path.join(b.work, "lines")
    with open(chunk, "w") as f:
        f.write(line * 100_000)  # 10 MB
    script = f"for i in $(seq {megabytes // 10}); do cat /lines; done; echo END-OF-BENCH"
    e = b.env
    cid = out(*b.md("run", "-d", "--name", "bench-logs", "--network", "none", "-v", f"{chunk}:/lines:ro",
                    "busybox", "sh", "-c", script), env=e)
    started = time.perf_counter()
    log = f"{b.work}/md/containers/{cid}/{cid}-json.log"
    follower = subprocess.Popen(b.md("logs", "-f", "bench-logs"), stdout=subprocess.PIPE, env=e)
    printed = [0, None]  # lines, time END was printed

    def read():
        for text in follower.stdout:
            printed[0] += 1
            if text.startswith(b"END-OF-BENCH"):
                printed[1] = time.perf_counter()
    reader = threading.Thread(target=read)
    reader.start()
    record = None
    samples = []
    while printed[1] is None and time.perf_counter() - started < 120:
        time.sleep(0.02)
        try:
            size = os.path.getsize(log)
            if record is None and size:
                with open(log, "rb") as f:
                    record = len(f.readline())
        except OSError:
            continue
        if record:
            samples.append((time.perf_counter() - started, size // record, printed[0]))
    reader.join(timeout=30)
    follower.kill()
    follower.wait()
    finished = printed[1] or time.perf_counter()
    subprocess.run(b.md("rm", "-f", "bench-logs"), capture_output=True, env=e)
    written = max((w for _, w, _ in samples), default=0)
    duration = max((t for t, w, _ in samples if w < written), default=finished - started) or 1e-9
    rate = written / duration  # lines per second
    behind = [max(0, w - p) / rate for _, w, p in samples] if rate else [0]
    return {"megabytes": megabytes, "seconds": round(finished - started, 2),
            "writer_mb_per_s": round(rate * 100 / 1e6, 1), "samples": len(samples),
            "max_behind_s": round(max(behind), 3), "median_behind_s": round(statistics.median(behind), 3),
            "complete": printed[1] is not None}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--parallel", type=int, default=100)
    ap.add_argument("--out", default=os.path.join(REPO, "bench", "results", "run-" + time.strftime("%Y%m%d-%H%M%S")))
    ap.add_argument("--only", default="start,exec,memory,parallel,logs")
    ap.add_argument("--logs-mb", type=int, default=1000, help="what the logs -f writer writes")
    ap.add_argument("--baseline", help="a directory holding another build's mini-docker and "
                    "mini-docker-monitor, timed in the same rounds")
    ap.add_argument("--skip", default="", help="docker: no private dockerd")
    args = ap.parse_args()
    if os.environ.get("BENCH_IN_NS") != "1":
        # One private mount namespace for every peer (see the docstring).
        os.execvpe("unshare", ["unshare", "-m", "--propagation", "private", sys.executable, *sys.argv],
                   dict(os.environ, BENCH_IN_NS="1"))
    subprocess.run(["umount", "/sys/fs/cgroup/unified"], capture_output=True)
    only = args.only.split(",")
    b = Bench(args)
    data = {"host": {"kernel": os.uname().release, "cpus": os.cpu_count(),
                     "load": open("/proc/loadavg").read().split()[:3],
                     "cgroups": "v1 (the hybrid layout's cgroup2 mount hidden in the bench's mount namespace)"},
            "method": "see bench/README.md: each peer checked, then rotated rounds, ratios pair by pair"}
    text = []
    try:
        b.prepare()
        if "start" in only:
            data["start"] = harness.paired(b.start_peers(), args.rounds, "mini")
            text += [harness.render("container start", data["start"]),
                     "  ratio < 1: mini-docker is faster; 'floor' is what a start can cost at least",
                     "  each peer's setup (declared, then seen from inside by a probe):",
                     harness.render_setups(data["start"])]
            by_key = {p["key"]: p for p in data["start"]["peers"]}
            pairs = [("mini", "mini-baseline", "--network none"), ("mini-bridge", "mini-baseline-bridge", "default bridge")]
            for new, old, what in pairs:
                if by_key.get(new, {}).get("samples_ms") and by_key.get(old, {}).get("samples_ms"):
                    ratios = [a / b for a, b in zip(by_key[new]["samples_ms"], by_key[old]["samples_ms"])]
                    data["start"].setdefault("after_over_before", {})[what] = round(statistics.median(ratios), 3)
                    text.append(f"  this build / the baseline, {what}: {statistics.median(ratios):.2f} "
                                "(median of the paired ratios)")
            if "mini-bridge" in by_key and by_key["mini-bridge"].get("difference_ms_median") is not None:
                text.append(f"  default bridge costs {-by_key['mini-bridge']['difference_ms_median']:.1f} ms "
                            "more than --network none (median of the paired differences)")
        if "parallel" in only:
            data["parallel"] = p = b.parallel(args.parallel)
            text.append(f"{p['containers']} containers started at once: {p['running']} running, "
                        f"{p['failed']} failed, after {p['seconds']:.2f} s; after rm -f: "
                        f"{p['left_containers']} containers, {p['left_cgroups']} cgroups left")
        if "exec" in only or "memory" in only:
            exec_group = harness.paired(b.exec_peers(), args.rounds, "mini")
            if "exec" in only:
                data["exec"] = exec_group
                text.append(harness.render("exec into a running container", exec_group))
            if "memory" in only:
                data["memory"] = b.memory()
                text.append("supervisor memory per idle container (KiB):")
                for name, m in data["memory"].items():
                    if m:
                        text.append(f"  {name:<34} RSS {m['rss_kib']:>6}  PSS {m['pss_kib']:>6}")
        if "logs" in only:
            data["logs_follow"] = lf = logs_follow(b, args.logs_mb)
            text.append(f"logs -f of a container writing {lf['megabytes']} MB of 100-byte lines as fast as it can (cat): "
                        f"{lf['writer_mb_per_s']} MB/s logged, follower behind by {lf['median_behind_s']} s median, "
                        f"{lf['max_behind_s']} s at most ({lf['samples']} samples every 20 ms)"
                        + ("" if lf["complete"] else "; the follower never printed the end"))
    finally:
        b.cleanup()
    rendered = "\n".join(text)
    print(rendered)
    harness.write(args.out, rendered, data)
    print(f"(written: {args.out}.txt and {args.out}.json)")


if __name__ == "__main__":
    main()
