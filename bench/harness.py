"""Paired timing of peers, shared by the bench scripts (stdlib only).

Every peer is run once and must succeed before it is timed (a missing or
failing peer is reported as such, never timed); then the peers are run in
rounds, A B C … A B C …, each round starting at the next peer so that none
is always first, and every ratio is taken round by round against the
reference peer: a machine that slows down for a while slows both sides of a
pair, so the ratio's median stays honest where two separate medians would
not.
"""

import json
import os
import shutil
import statistics
import subprocess
import time


def percentile(values, p):
    """Nearest-rank percentile (p in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * p // 100))
    return ordered[int(rank) - 1]


def run_quiet(argv, env=None, timeout=120):
    """Runs argv with no stdio; returns (exit code, stderr tail)."""
    proc = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, env=env, timeout=timeout)
    return proc.returncode, proc.stderr.decode(errors="replace").strip()[-300:]


class Peer:
    """A command to time. `argv` is a list, or a function of the iteration
    number returning one (for peers that need a fresh container name).
    `setup` describes what the peer sets up, for the report; `probe` is an
    argv that runs the same peer with a shell reporting its namespaces,
    cgroups and security state from inside (see `PROBE_SCRIPT`)."""

    def __init__(self, key, label, argv, setup, probe=None, env=None, needs=None):
        self.key, self.label, self.argv, self.setup = key, label, argv, setup
        self.probe, self.env, self.needs = probe, env, needs
        self.status = "ok"  # or "missing: …" / "failed: …"
        self.samples = []
        self.observed = None

    def command(self, i):
        return self.argv(i) if callable(self.argv) else self.argv

    def check(self):
        """Runs the peer once; it is timed only if this succeeds."""
        if self.status != "ok":
            return False
        missing = [n for n in (self.needs or []) if not (os.path.exists(n) or shutil.which(n))]
        if missing:
            self.status = "missing: " + ", ".join(missing)
            return False
        try:
            code, err = run_quiet(self.command(-1), self.env)
        except (OSError, subprocess.TimeoutExpired) as e:
            code, err = 127, str(e)
        if code != 0:
            self.status = f"failed: exit {code}: {err}"
            return False
        if self.probe:
            argv = self.probe(-1) if callable(self.probe) else self.probe
            self.observed = probe(argv, self.env)
        return True

    def time_once(self, i):
        argv = self.command(i)
        start = time.perf_counter_ns()
        code, err = run_quiet(argv, self.env)
        elapsed = time.perf_counter_ns() - start
        if code != 0:
            raise RuntimeError(f"{self.label}: exit {code} in a timed run: {err}")
        self.samples.append(elapsed)


# What a probe prints from inside the container: one line per namespace
# link, the cgroup file, and the security-relevant status fields.
PROBE_SCRIPT = (
    "for n in mnt pid net ipc uts cgroup user; do echo ns $n $(readlink /proc/self/ns/$n); done; "
    "sed 's/^/cg /' /proc/self/cgroup; "
    "grep -E '^(CapEff|NoNewPrivs|Seccomp|Seccomp_filters):' /proc/self/status | sed 's/^/st /'; "
    "echo net $(ls /sys/class/net 2>/dev/null | tr '\\n' ' ')"
)


def probe(argv, env=None):
    """Runs a probe command; summarises what the peer set up, as seen from
    inside: which namespaces are new (not the harness's), which cgroup
    (controllers with a path other than the harness's), security state."""
    proc = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, env=env, timeout=120)
    text = proc.stdout.decode(errors="replace")
    mine = {n: os.readlink(f"/proc/self/ns/{n}") for n in
            ("mnt", "pid", "net", "ipc", "uts", "cgroup", "user")}
    with open("/proc/self/cgroup") as f:
        my_cgroups = {line.split(":", 2)[1]: line.rstrip("\n").split(":", 2)[2] for line in f}
    new_ns, cgroups, status, links = [], {}, {}, ""
    for line in text.splitlines():
        kind, _, rest = line.partition(" ")
        if kind == "ns":
            name, _, link = rest.partition(" ")
            if link and link != mine.get(name):
                new_ns.append(name)
        elif kind == "cg":
            _, controllers, path = rest.split(":", 2)
            if my_cgroups.get(controllers) != path:
                cgroups[controllers or "unified"] = path
        elif kind == "st":
            key, _, value = rest.partition(":")
            status[key] = value.strip()
        elif kind == "net":
            links = rest.strip()
    if proc.returncode != 0 or not text:
        return {"error": f"probe exit {proc.returncode}: {proc.stderr.decode(errors='replace')[-200:]}"}
    paths = sorted(set(cgroups.values()))
    return {
        "new_namespaces": new_ns,
        "cgroup_controllers": sorted(cgroups),
        "cgroup_paths": paths,
        "capabilities": status.get("CapEff", "?"),
        "no_new_privs": status.get("NoNewPrivs", "?"),
        "seccomp_mode": status.get("Seccomp", "?"),
        "seccomp_filters": status.get("Seccomp_filters", "?"),
        "network_links": links,
    }


def summary(samples):
    ms = [s / 1e6 for s in samples]
    return {"n": len(ms), "median_ms": round(statistics.median(ms), 3),
            "p99_ms": round(percentile(ms, 99), 3), "min_ms": round(min(ms), 3)}


def paired(peers, rounds, reference, warmup=1):
    """Checks every peer, then times the good ones in rotated rounds.
    Returns the JSON-ready result of the group; `reference` is the key of the
    peer every ratio is taken against (ratio = reference / peer)."""
    good = [p for p in peers if p.check()]
    for w in range(warmup):
        for p in good:
            p.time_once(-2 - w)
        for p in good:
            p.samples.clear()
    for r in range(rounds):
        k = r % len(good) if good else 0
        for p in good[k:] + good[:k]:
            p.time_once(r)
    ref = next((p for p in good if p.key == reference), None)
    result = {"rounds": rounds, "reference": reference, "peers": []}
    for p in peers:
        entry = {"key": p.key, "label": p.label, "status": p.status, "setup": p.setup}
        if p.observed is not None:
            entry["observed"] = p.observed
        if p.samples:
            entry.update(summary(p.samples))
            entry["samples_ms"] = [round(s / 1e6, 3) for s in p.samples]
            if ref is not None and p is not ref:
                ratios = [a / b for a, b in zip(ref.samples, p.samples)]
                entry["ratio_ref_over_peer"] = {
                    "median": round(statistics.median(ratios), 3),
                    "p1": round(percentile(ratios, 1), 3),
                    "p99": round(percentile(ratios, 99), 3),
                    "reference_faster_in": f"{sum(r < 1 for r in ratios)}/{len(ratios)}",
                }
                entry["difference_ms_median"] = round(statistics.median(
                    (a - b) / 1e6 for a, b in zip(ref.samples, p.samples)), 3)
        result["peers"].append(entry)
    return result


def render(title, group):
    """The text form of one group."""
    lines = [f"{title} ({group['rounds']} paired rounds; ratio = {group['reference']} / peer, "
             "taken round by round)"]
    lines.append(f"  {'peer':<54} {'median':>8} {'p99':>8} {'ratio':>6} {'ratio p99':>9}")
    for e in group["peers"]:
        if e["status"] != "ok":
            lines.append(f"  {e['label']:<54} {e['status']}")
            continue
        ratio = e.get("ratio_ref_over_peer")
        r = f"{ratio['median']:>6.2f} {ratio['p99']:>9.2f}" if ratio else f"{'(ref)':>6} {'':>9}"
        lines.append(f"  {e['label']:<54} {e['median_ms']:>6.1f}ms {e['p99_ms']:>6.1f}ms {r}")
    return "\n".join(lines)


def render_setups(group):
    lines = []
    for e in group["peers"]:
        o = e.get("observed")
        lines.append(f"  {e['label']}: {e['setup']}")
        if o and "error" not in o:
            lines.append(
                f"    seen inside: new ns {','.join(o['new_namespaces']) or '-'}; "
                f"cgroups {','.join(o['cgroup_controllers']) or '-'} at {' '.join(o['cgroup_paths']) or '-'}; "
                f"CapEff {o['capabilities']}, NoNewPrivs {o['no_new_privs']}, "
                f"seccomp mode {o['seccomp_mode']} ({o['seccomp_filters']} filters); links: {o['network_links']}")
        elif o:
            lines.append(f"    probe: {o['error']}")
    return "\n".join(lines)


def write(out_base, text, data):
    """The text and the JSON result side by side: OUT.txt and OUT.json."""
    os.makedirs(os.path.dirname(out_base) or ".", exist_ok=True)
    with open(out_base + ".txt", "w") as f:
        f.write(text + "\n")
    with open(out_base + ".json", "w") as f:
        json.dump(data, f, indent=1)


def memory_kib(pid):
    """(RSS, PSS) of a process in KiB from smaps_rollup; (None, None) when
    the process is gone or unreadable."""
    rss = pss = None
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Rss:"):
                    rss = int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss = int(line.split()[1])
    except OSError:
        pass
    return rss, pss
