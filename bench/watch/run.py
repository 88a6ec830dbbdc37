#!/usr/bin/env python3
"""Watching many repositories with one master (issue 13).

Makes N local git repositories (default 1,000), a master directory whose N buildouts each
watch one of them (a `watch` line; their builds are one `echo` step through `steps/B.sh`),
runs `oebb master DIR --local-worker`, and measures:

* per poll round (N polls), the master's own CPU (utime + stime of its process, not of the
  git clients it runs) and its memory (RssAnon, /proc/PID/status), with COMMITS repositories
  getting a commit each round;
* the most git client processes the pollers ran at once (`oebb_poll_clients_most`);
* commit-to-build-start latency through a signed GitHub push hook: commit, POST the hook,
  read the build's `started_at` from the API (tree-stable-timer = 0 in this run).

The master's CPU at a 10-minute interval is its CPU per round divided by 600 s.

    bench/watch/run.py [--oebb target/release/oebb] [--repos 1000] [--interval 60]
                       [--rounds 3] [--commits 5] [--hooks 10] [--dir /tmp/oebb-watch]
"""

import argparse
import hashlib
import hmac
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.request

SECRET = "bench-secret"
TICKS = os.sysconf("SC_CLK_TCK")
ENV = dict(os.environ, GIT_AUTHOR_NAME="b", GIT_AUTHOR_EMAIL="b@x", GIT_COMMITTER_NAME="b",
           GIT_COMMITTER_EMAIL="b@x")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def git(repo, *args):
    subprocess.run(["git", "-C", repo, *args], check=True, env=ENV, stdout=subprocess.DEVNULL)


def commit(repo, n):
    with open(os.path.join(repo, "f"), "w") as f:
        f.write(f"{n}\n")
    git(repo, "commit", "-q", "-a", "-m", f"change {n}")


def make_repos(root, n):
    os.makedirs(root, exist_ok=True)
    for i in range(n):
        repo = os.path.join(root, f"r{i}")
        if os.path.isdir(os.path.join(repo, ".git")):
            continue
        os.makedirs(repo)
        git(repo, "init", "-q", "-b", "main")
        with open(os.path.join(repo, "f"), "w") as f:
            f.write("0\n")
        git(repo, "add", "f")
        git(repo, "commit", "-q", "-m", "first")


def write_master(dir, repos, n, interval):
    web, workers = free_port(), free_port()
    os.makedirs(os.path.join(dir, "buildouts"), exist_ok=True)
    os.makedirs(os.path.join(dir, "steps"), exist_ok=True)
    with open(os.path.join(dir, "oebb.cfg"), "w") as f:
        f.write(f"[master]\nweb-address = 127.0.0.1:{web}\nworker-address = 127.0.0.1:{workers}\n"
                f"[watch]\npoll-interval = {interval}\ntree-stable-timer = 0\n"
                "hook-secret-file = hook-secret\n")
    with open(os.path.join(dir, "hook-secret"), "w") as f:
        f.write(SECRET + "\n")
    with open(os.path.join(dir, "slaves.cfg"), "w") as f:
        f.write("[local]\npassword = bench\nmax_builds = 4\n")
    with open(os.path.join(dir, "buildouts", "b.cfg"), "w") as f:
        f.write("[buildout]\nparts =\n")
    with open(os.path.join(dir, "buildouts", "MANIFEST.cfg"), "w") as f:
        for i in range(n):
            f.write(f"[b{i}]\nbuildout = standalone b.cfg\nauto-watch = false\n"
                    f"watch = git file://{repos}/r{i} main\n")
    for i in range(n):
        with open(os.path.join(dir, "steps", f"b{i}.sh"), "w") as f:
            f.write("echo built\n")
    return web


def proc_cpu(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime, own threads only


def rss_anon(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) / 1024
    return 0.0


def get(web, path):
    with urllib.request.urlopen(f"http://127.0.0.1:{web}{path}", timeout=30) as r:
        return r.read().decode()


def metric(web, name):
    for line in get(web, "/metrics").splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return 0.0


def hook(web, repo_url):
    body = json.dumps({"ref": "refs/heads/main", "repository": {"clone_url": repo_url}}).encode()
    sig = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    req = urllib.request.Request(f"http://127.0.0.1:{web}/hooks/github", data=body, method="POST",
                                 headers={"X-GitHub-Event": "push",
                                          "X-Hub-Signature-256": "sha256=" + sig,
                                          "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        assert r.status == 202, r.status


def builds_of(web, builder):
    return json.loads(get(web, f"/api/builds?builder={builder}&limit=1000"))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--oebb", default="target/release/oebb")
    p.add_argument("--repos", type=int, default=1000)
    p.add_argument("--interval", type=int, default=60)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--commits", type=int, default=5)
    p.add_argument("--hooks", type=int, default=10)
    p.add_argument("--dir", default="/tmp/oebb-watch")
    a = p.parse_args()
    repos = os.path.join(a.dir, "repos")
    master_dir = os.path.join(a.dir, "master")
    shutil.rmtree(master_dir, ignore_errors=True)
    t = time.time()
    make_repos(repos, a.repos)
    print(f"{a.repos} repositories ready in {time.time() - t:.1f} s", flush=True)
    web = write_master(master_dir, repos, a.repos, a.interval)
    master = subprocess.Popen([a.oebb, "master", master_dir, "--local-worker"],
                              stdout=subprocess.DEVNULL, stderr=open(os.path.join(a.dir, "master.log"), "w"))
    try:
        for _ in range(100):
            try:
                get(web, "/metrics")
                break
            except OSError:
                time.sleep(0.2)
        # Round 0: the first polls record the tips (spread over the first interval).
        while metric(web, "oebb_polls_total") < a.repos:
            time.sleep(1)
        print(f"first round done; RssAnon {rss_anon(master.pid):.1f} MiB", flush=True)
        rounds = []
        n = 1
        for r in range(a.rounds):
            for i in range(a.commits):
                commit(os.path.join(repos, f"r{i}"), n)
                n += 1
            polls0, cpu0, t0 = metric(web, "oebb_polls_total"), proc_cpu(master.pid), time.time()
            while metric(web, "oebb_polls_total") < polls0 + a.repos:
                time.sleep(0.5)
            cpu, wall = proc_cpu(master.pid) - cpu0, time.time() - t0
            rounds.append((cpu, wall, rss_anon(master.pid)))
            print(f"round {r + 1}: master CPU {cpu:.2f} s in {wall:.0f} s "
                  f"({100 * cpu / wall:.2f} % of a core), RssAnon {rounds[-1][2]:.1f} MiB", flush=True)
        most = metric(web, "oebb_poll_clients_most")
        changes = metric(web, "oebb_changes_total")
        # Webhook latency, on a repository the hooks poll at once.
        latencies = []
        target = a.repos - 1
        url = f"file://{repos}/r{target}"
        for h in range(a.hooks):
            before = len(builds_of(web, f"b{target}"))
            commit(os.path.join(repos, f"r{target}"), 1000 + h)
            sent = time.time()
            hook(web, url)
            while True:
                builds = builds_of(web, f"b{target}")
                if len(builds) > before:
                    latencies.append(builds[0]["started_at"] / 1000 - sent)
                    break
                time.sleep(0.01)
        cpu_round = statistics.median(c for c, _, _ in rounds)
        print(json.dumps({
            "repos": a.repos, "interval_s": a.interval, "commits_per_round": a.commits,
            "master_cpu_s_per_round": [round(c, 3) for c, _, _ in rounds],
            "master_cpu_percent_at_600s": round(100 * cpu_round / 600, 3),
            "rss_anon_mib": [round(m, 1) for _, _, m in rounds],
            "most_clients_at_once": most, "changes": changes,
            "hook_to_build_start_s": {"p50": round(statistics.median(latencies), 3),
                                      "max": round(max(latencies), 3),
                                      "all": [round(x, 3) for x in latencies]},
        }, indent=1))
    finally:
        master.terminate()
        master.wait(timeout=30)


if __name__ == "__main__":
    sys.exit(main())
