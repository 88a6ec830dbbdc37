#!/usr/bin/env python3
"""oebb master vs Buildbot 4.3 master, side by side, in one run (Python 3 standard library only).

Both masters get the same four builders (b0..b3) whose build is one shell step `echo hello`, and
are driven by the same kind of stock buildbot-worker 4.3.0 processes (protocol
msgpack_experimental_v7, started in the foreground). Measured, for each master:

  latency     sequential force -> finished, one build at a time (p50, p90)
  throughput  N requests forced at once on 4 builders x 2 workers, builds/s from the first force
              to the last request seen finished
  memory      RssAnon and PSS of the master process (only) with 50 connected idle workers
  log         a step printing ~200 MB: MB/s from the step's start to its finish (master's
              timestamps) and the size of the stored log

Polling is the same on both masters: one persistent HTTP/1.1 connection, a GET of the request
(oebb: /api/buildrequests/ID) or buildset (Buildbot: /api/v2/buildsets/ID), then a 1 ms sleep.

Usage: bench/master/setup.sh && bench/master/run.py [--oebb BIN] [--venv DIR] [--builds 50] ...
Every process started here is killed at the end, on every path. Prints a table and one line
`BENCH_JSON {...}`.
"""

import argparse
import atexit
import http.client
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BUILDERS = ["b0", "b1", "b2", "b3"]
PASSWORD = "benchpw"
POLL_SLEEP = 0.001
BIG_STEP = "head -c 200000000 /dev/zero | tr '\\0' 'x' | fold -w 100\n"

PROCS = []  # every process we started and have not ended yet


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def spawn(argv, logfile, cwd=None, env=None):
    """Starts a process in its own session (so its children go with it), output to logfile."""
    out = open(logfile, "ab")
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                         cwd=cwd, env=env, start_new_session=True)
    out.close()
    PROCS.append(p)
    return p


def end(p, grace=5.0):
    """Ends one process we started (its process group: we made it a session leader)."""
    if p.poll() is None:
        try:
            os.killpg(p.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            p.wait(grace)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait()
    if p in PROCS:
        PROCS.remove(p)


def end_all(procs):
    for p in procs:
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    deadline = time.time() + 8
    for p in procs:
        try:
            p.wait(max(0.1, deadline - time.time()))
        except subprocess.TimeoutExpired:
            pass
        end(p, grace=0.1)


def end_everything():
    end_all(list(reversed(PROCS)))


def on_signal(signum, _frame):
    end_everything()
    # Not sys.exit: its SystemExit could be replaced on the way up by the error of a `finally`
    # (a phase waiting for the workers just ended), which `phase` catches, and the run went on.
    log(f"stopped by signal {signum}; the work directory is left in place")
    os._exit(128 + signum)


atexit.register(end_everything)
signal.signal(signal.SIGTERM, on_signal)
signal.signal(signal.SIGINT, on_signal)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def kib(path, field):
    """The `FIELD:   N kB` figure of a /proc file, in KiB."""
    with open(path) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} in {path}")


def memory_now(pid):
    """The memory a process costs, in MiB: RssAnon (/proc/PID/status: its own heap and stacks,
    which only it holds) and PSS (/proc/PID/smaps_rollup: every resident page divided by the
    number of processes sharing it, so the program's code counts once across its processes,
    and not at all while the kernel has reclaimed it). VmRSS is not used: it counts code pages
    the kernel may drop at any time as if they were the process's."""
    return {"anon_mib": round(kib(f"/proc/{pid}/status", "RssAnon") / 1024, 1),
            "pss_mib": round(kib(f"/proc/{pid}/smaps_rollup", "Pss") / 1024, 1)}


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pct(values, p):
    values = sorted(values)
    k = (len(values) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def wait_for(what, predicate, timeout, interval=0.05):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise RuntimeError(f"timed out after {timeout}s waiting for {what}")


class Http:
    """One persistent HTTP/1.1 connection to 127.0.0.1:port, reopened when the server closed it."""

    def __init__(self, port):
        self.port = port
        self.conn = None

    def request(self, method, path, body=None, headers=None):
        for attempt in range(3):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
                self.conn.request(method, path, body=body, headers=headers or {})
                r = self.conn.getresponse()
                data = r.read()
                if r.getheader("connection", "").lower() == "close":
                    self.close()
                return r.status, data
            except (http.client.HTTPException, OSError):
                self.close()
                if attempt == 2:
                    raise

    def json(self, method, path, payload=None, headers=None):
        body = None if payload is None else json.dumps(payload).encode()
        headers = dict(headers or {})
        if body is not None:
            headers["Content-Type"] = "application/json"
        status, data = self.request(method, path, body, headers)
        if status >= 400:
            raise RuntimeError(f"{method} {path}: HTTP {status}: {data[:300]!r}")
        return json.loads(data)

    def stream_size(self, path):
        """Bytes of a GET's body, read in blocks, never held whole."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)
        try:
            conn.request("GET", path)
            r = conn.getresponse()
            if r.status != 200:
                raise RuntimeError(f"GET {path}: HTTP {r.status}")
            n = 0
            while True:
                block = r.read(1 << 20)
                if not block:
                    return n
                n += len(block)
        finally:
            conn.close()

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


# ---------------------------------------------------------------------------------------------
# workers


class Workers:
    def __init__(self, work, venv, oebb_bin):
        self.work = work
        self.venv = venv
        self.oebb_bin = oebb_bin
        self.pwfile = work / "password"
        self.pwfile.write_text(PASSWORD + "\n")

    def create_stock(self, tag, port, names):
        """`buildbot-worker create-worker --protocol msgpack_experimental_v7` for each name
        (a few at once), once per master; returns the basedirs."""
        dirs, running = [], []
        for name in names:
            d = self.work / f"stock-{tag}" / name
            dirs.append(d)
            if (d / "buildbot.tac").exists():
                continue
            d.parent.mkdir(parents=True, exist_ok=True)
            running.append(subprocess.Popen(
                [str(self.venv / "bin/buildbot-worker"), "create-worker", "--quiet",
                 "--protocol", "msgpack_experimental_v7", str(d), f"127.0.0.1:{port}", name,
                 PASSWORD], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
            if len(running) >= 4:
                self._reap(running.pop(0))
        for p in running:
            self._reap(p)
        return dirs

    @staticmethod
    def _reap(p):
        _, err = p.communicate()
        if p.returncode != 0:
            raise RuntimeError(f"create-worker failed: {err.decode(errors='replace')}")

    def start_stock(self, tag, port, names):
        dirs = self.create_stock(tag, port, names)
        return [spawn([str(self.venv / "bin/buildbot-worker"), "start", "--nodaemon", str(d)],
                      d.parent / f"{d.name}.out") for d in dirs]

    def start_oebb(self, tag, port, names):
        procs = []
        env = dict(os.environ, NO_COLOR="1", RUST_LOG="warn")
        for name in names:
            d = self.work / f"oebbw-{tag}" / name
            d.mkdir(parents=True, exist_ok=True)
            procs.append(spawn([str(self.oebb_bin), "worker", "--master", f"127.0.0.1:{port}",
                                "--name", name, "--password-file", str(self.pwfile),
                                "--basedir", str(d)], d.parent / f"{name}.out", env=env))
        return procs


# ---------------------------------------------------------------------------------------------
# masters


class OebbMaster:
    label = "oebb"

    def __init__(self, work, oebb_bin, worker_names, master_args=()):
        self.dir = work / "oebb-master"
        self.bin = oebb_bin
        self.master_args = list(master_args)
        self.worker_port = free_port()
        self.web_port = free_port()
        d = self.dir
        (d / "buildouts").mkdir(parents=True)
        (d / "steps").mkdir()
        (d / "oebb.cfg").write_text(
            f"[master]\nworker-address = 127.0.0.1:{self.worker_port}\n"
            f"web-address = 127.0.0.1:{self.web_port}\n")
        (d / "slaves.cfg").write_text(
            "".join(f"[{n}]\npassword = {PASSWORD}\n\n" for n in worker_names))
        (d / "buildouts/MANIFEST.cfg").write_text(
            "".join(f"[{b}]\nbuildout = standalone x.cfg\n\n" for b in BUILDERS))
        (d / "buildouts/x.cfg").write_text("[buildout]\nparts =\n")
        for b in BUILDERS:
            (d / "steps" / f"{b}.sh").write_text("echo hello\n")
        check = subprocess.run([str(oebb_bin), "check", str(d)], capture_output=True, text=True)
        if check.returncode != 0:
            raise RuntimeError(f"oebb check {d} failed:\n{check.stdout}{check.stderr}")
        names = {line.split()[0] for line in check.stdout.splitlines() if line.strip()}
        missing = set(BUILDERS) - names
        if missing:
            raise RuntimeError(f"oebb check does not list builders {missing}:\n{check.stdout}")
        self.http = Http(self.web_port)
        self.logfile = d / "master.log"
        self.proc = None

    def start(self):
        env = dict(os.environ, NO_COLOR="1", RUST_LOG="info")
        self.proc = spawn([str(self.bin), "master", str(self.dir)] + self.master_args,
                          self.logfile, env=env)
        wait_for("the oebb master's API", self._up, 30)

    def _up(self):
        if self.proc.poll() is not None:
            raise RuntimeError(f"oebb master exited; see {self.logfile}")
        try:
            self.http.json("GET", "/api/builds?limit=1")
            return True
        except (OSError, RuntimeError, http.client.HTTPException):
            self.http.close()
            return False

    def connected(self):
        """Names of the workers attached now, from the master's log."""
        now = set()
        text = re.sub(r"\x1b\[[0-9;]*m", "", self.logfile.read_text(errors="replace"))
        for m in re.finditer(r"worker (attached|detached)\b.*?worker=(\S+)", text):
            (now.add if m.group(1) == "attached" else now.discard)(m.group(2))
        return now

    def force(self, builder):
        # Actions need auth: the bearer token the master keeps in its directory.
        token = (self.dir / ".oebb-api-token").read_text().strip()
        return self.http.json("POST", f"/api/builders/{builder}/force", {"reason": "bench"},
                              {"Authorization": f"Bearer {token}"})["request"]

    def done(self, rid):
        r = self.http.json("GET", f"/api/buildrequests/{rid}")
        req = r["request"]
        if req["complete_at"] is None:
            return None
        return req["result"]

    def big_log(self, builder, rid):
        r = self.http.json("GET", f"/api/buildrequests/{rid}")
        build = r["builds"][-1]["id"]
        b = self.http.json("GET", f"/api/builds/{build}")
        step = b["steps"][0]
        seconds = (step["finished_at"] - step["started_at"]) / 1000
        size = self.http.stream_size(f"/api/builds/{build}/steps/{step['number']}/log")
        return seconds, size, f"GET /api/builds/{build}/steps/{step['number']}/log"

    def set_step(self, builder, script):
        (self.dir / "steps" / f"{builder}.sh").write_text(script)

    def stop(self):
        if self.proc:
            end(self.proc)


class BuildbotMaster:
    label = "buildbot"

    def __init__(self, work, venv, worker_names):
        self.dir = work / "buildbot-master"
        self.venv = venv
        self.worker_port = free_port()
        self.web_port = free_port()
        subprocess.run([str(venv / "bin/buildbot"), "create-master", "--quiet", "-r",
                        "--db", "sqlite:///state.sqlite", str(self.dir)],
                       check=True, stdout=subprocess.DEVNULL)
        self.set_step_text = {b: "echo hello" for b in BUILDERS}
        self._write_cfg()
        self.http = Http(self.web_port)
        self.logfile = self.dir / "stdout.log"
        self.proc = None
        self.builderids = {}
        self.worker_names = worker_names

    def _write_cfg(self):
        workers = [f"w{i}" for i in range(WORKER_COUNT)]
        (self.dir / "master.cfg").write_text(f"""\
# generated by bench/master/run.py
from buildbot.plugins import schedulers, steps, util, worker

c = BuildmasterConfig = {{}}
c['title'] = 'bench'
c['buildbotURL'] = 'http://127.0.0.1:{self.web_port}/'
c['buildbotNetUsageData'] = None
c['workers'] = [worker.Worker(n, {PASSWORD!r}) for n in {workers!r}]
c['protocols'] = {{'msgpack_experimental_v7': {{'port': {self.worker_port}}}}}
c['collapseRequests'] = False
c['builders'] = []
c['schedulers'] = []
STEPS = {json.dumps(self.set_step_text)}
for b in {BUILDERS!r}:
    f = util.BuildFactory([steps.ShellCommand(name='shell', command=STEPS[b])])
    c['builders'].append(util.BuilderConfig(name=b, workernames={workers!r}, factory=f,
                                            collapseRequests=False))
    c['schedulers'].append(schedulers.ForceScheduler(name='force_' + b, builderNames=[b]))
c['db'] = {{'db_url': 'sqlite:///state.sqlite'}}
c['www'] = {{'port': 'tcp:{self.web_port}:interface=127.0.0.1', 'plugins': {{}}}}
""")

    def start(self):
        self.proc = spawn([str(self.venv / "bin/twistd"), "--nodaemon", "--no_save",
                           "--pidfile=", "-y", "buildbot.tac"], self.logfile, cwd=self.dir)
        wait_for("the Buildbot master's REST API", self._up, 90, interval=0.2)
        for b in self.http.json("GET", "/api/v2/builders")["builders"]:
            self.builderids[b["name"]] = b["builderid"]
        if set(self.builderids) != set(BUILDERS):
            raise RuntimeError(f"Buildbot builders: {self.builderids}")

    def _up(self):
        if self.proc.poll() is not None:
            raise RuntimeError(f"Buildbot master exited; see {self.dir}/twistd.log")
        try:
            return len(self.http.json("GET", "/api/v2/builders")["builders"]) == len(BUILDERS)
        except (OSError, RuntimeError, http.client.HTTPException, ValueError):
            self.http.close()
            return False

    def connected(self):
        ws = self.http.json("GET", "/api/v2/workers")["workers"]
        return {w["name"] for w in ws if w.get("connected_to")}

    def force(self, builder):
        r = self.http.json("POST", f"/api/v2/forceschedulers/force_{builder}",
                           {"id": 1, "jsonrpc": "2.0", "method": "force",
                            "params": {"builderid": self.builderids[builder]}})
        if "error" in r:
            raise RuntimeError(f"force {builder}: {r['error']}")
        return r["result"][0]  # [bsid, {builderid: brid}]

    def done(self, bsid):
        bs = self.http.json("GET", f"/api/v2/buildsets/{bsid}")["buildsets"][0]
        if not bs["complete"]:
            return None
        return {0: "success", 1: "warnings", 2: "failure", 3: "skipped", 4: "exception",
                5: "retry", 6: "cancelled"}.get(bs["results"], bs["results"])

    def big_log(self, builder, bsid):
        brs = self.http.json("GET", f"/api/v2/buildrequests?buildsetid={bsid}")["buildrequests"]
        builds = self.http.json(
            "GET", f"/api/v2/builds?buildrequestid={brs[0]['buildrequestid']}")["builds"]
        build = builds[-1]["buildid"]
        st = self.http.json("GET", f"/api/v2/builds/{build}/steps")["steps"]
        step = [s for s in st if s["name"] == "shell"][0]
        seconds = step["complete_at"] - step["started_at"]  # Buildbot keeps whole seconds
        logs = self.http.json("GET", f"/api/v2/steps/{step['stepid']}/logs")["logs"]
        stdio = [lg for lg in logs if lg["slug"] == "stdio"][0]
        size = self.http.stream_size(f"/api/v2/logs/{stdio['logid']}/raw")
        return seconds, size, f"GET /api/v2/logs/{stdio['logid']}/raw"

    def set_step(self, builder, script):
        """Buildbot reads its steps from master.cfg: rewrite it and reconfigure (SIGHUP)."""
        self.set_step_text[builder] = script
        self._write_cfg()
        twistd_log = self.dir / "twistd.log"
        mark = twistd_log.stat().st_size
        os.kill(self.proc.pid, signal.SIGHUP)

        def reconfigured():
            with open(twistd_log, "rb") as f:
                f.seek(mark)
                text = f.read().decode(errors="replace")
            if "reconfig aborted" in text or "configuration update failed" in text:
                raise RuntimeError(f"Buildbot's reconfig failed; see {twistd_log}")
            return "configuration update complete" in text
        wait_for("Buildbot's reconfig", reconfigured, 60, interval=0.2)

    def stop(self):
        if self.proc:
            end(self.proc, grace=15)


WORKER_COUNT = 50

# ---------------------------------------------------------------------------------------------
# measures


def wait_connected(master, names, timeout=120):
    want = set(names)
    wait_for(f"{len(want)} workers connected to {master.label}",
             lambda: want <= master.connected(), timeout, interval=0.2)


def wait_disconnected(master, names, timeout=60):
    gone = set(names)
    wait_for(f"workers {sorted(gone)[:3]}... gone from {master.label}",
             lambda: not (gone & master.connected()), timeout, interval=0.1)


def run_one(master, builder, timeout=300):
    t0 = time.perf_counter()
    rid = master.force(builder)
    deadline = time.time() + timeout
    while True:
        result = master.done(rid)
        if result is not None:
            return time.perf_counter() - t0, result, rid
        if time.time() > deadline:
            raise RuntimeError(f"{master.label}: request {rid} not finished in {timeout}s")
        time.sleep(POLL_SLEEP)


def latency(master, builds, warmup=3):
    for _ in range(warmup):
        run_one(master, "b0")
    times, bad = [], []
    for _ in range(builds):
        t, result, rid = run_one(master, "b0")
        times.append(t)
        if result != "success":
            bad.append((rid, result))
    if bad:
        raise RuntimeError(f"{master.label}: builds not successful: {bad[:5]}")
    return {"p50_ms": round(pct(times, 50) * 1000, 2), "p90_ms": round(pct(times, 90) * 1000, 2),
            "min_ms": round(min(times) * 1000, 2), "mean_ms": round(statistics.mean(times) * 1000, 2),
            "builds": builds}


def throughput(master, n, timeout=600):
    for b in BUILDERS:  # warm up: every builder has built once
        run_one(master, b)
    cpu0 = cpu_seconds(master.proc.pid)
    t0 = time.perf_counter()
    ids = [master.force(BUILDERS[i % len(BUILDERS)]) for i in range(n)]
    t_forced = time.perf_counter() - t0
    pending = list(ids)
    results = {}
    deadline = time.time() + timeout
    while pending:
        r = master.done(pending[0])
        if r is not None:
            results[pending.pop(0)] = r
            continue
        if time.time() > deadline:
            raise RuntimeError(f"{master.label}: {len(pending)} of {n} requests not finished")
        time.sleep(POLL_SLEEP)
    elapsed = time.perf_counter() - t0
    cpu = cpu_seconds(master.proc.pid) - cpu0
    bad = {k: v for k, v in results.items() if v != "success"}
    if bad:
        raise RuntimeError(f"{master.label}: {len(bad)} builds not successful: {list(bad.items())[:5]}")
    return {"builds_per_s": round(n / elapsed, 2), "seconds": round(elapsed, 3),
            "forcing_s": round(t_forced, 3), "requests": n,
            "master_cpu_s": round(cpu, 2)}


def memory(master, start_workers, names, idle_s, settle=3.0):
    """RssAnon and PSS right after the workers connected (settle) and again after idle_s more
    seconds without a build."""
    procs = start_workers(names)
    try:
        wait_connected(master, names, timeout=240)
        time.sleep(settle)
        connected = memory_now(master.proc.pid)
        r = {"anon_mib_connected": connected["anon_mib"],
             "pss_mib_connected": connected["pss_mib"],
             "workers": len(names), "idle_s": idle_s}
        time.sleep(idle_s)
        r.update(memory_now(master.proc.pid))
        return r
    finally:
        end_all(procs)
        wait_disconnected(master, names)


def log_ingestion(master, builder, worker):
    master.set_step(builder, BIG_STEP)
    try:
        cpu_m, cpu_w = cpu_seconds(master.proc.pid), cpu_seconds(worker.pid)
        wall, result, rid = run_one(master, builder, timeout=600)
        cpu_m = round(cpu_seconds(master.proc.pid) - cpu_m, 2)
        cpu_w = round(cpu_seconds(worker.pid) - cpu_w, 2)
        if result != "success":
            raise RuntimeError(f"{master.label}: the 200 MB build is {result}")
        seconds, size, how = master.big_log(builder, rid)
        return {"mb_per_s": round(size / 1e6 / seconds, 1) if seconds > 0 else None,
                "step_s": seconds, "stored_bytes": size, "force_to_finished_s": round(wall, 3),
                "master_cpu_s": cpu_m, "worker_cpu_s": cpu_w,
                "checked_with": how}
    finally:
        master.set_step(builder, "echo hello\n")


def phase(results, key, fn):
    log(f"{key} ...")
    try:
        results[key] = fn()
        log(f"{key}: {results[key]}")
    except Exception as e:  # noqa: BLE001 - one phase failing must not hide the others
        results[key] = {"error": str(e)}
        log(f"{key}: FAILED: {e}")


def bench_master(master, workers, tag, args, with_oebb_workers):
    r = {}
    master.start()
    r["no_worker"] = memory_now(master.proc.pid)
    stock = lambda names: workers.start_stock(tag, master.worker_port, names)  # noqa: E731
    oebbw = lambda names: workers.start_oebb(tag, master.worker_port, names)  # noqa: E731
    kinds = [("stock", stock)] + ([("oebb", oebbw)] if with_oebb_workers else [])
    try:
        for kind, start in kinds:
            def lat(start=start):
                procs = start(["w0"])
                try:
                    wait_connected(master, ["w0"])
                    return latency(master, args.builds)
                finally:
                    end_all(procs)
                    wait_disconnected(master, ["w0"])
            phase(r, f"latency_{kind}", lat)

            def tput(start=start):
                procs = start(["w0", "w1"])
                try:
                    wait_connected(master, ["w0", "w1"])
                    return throughput(master, args.requests)
                finally:
                    end_all(procs)
                    wait_disconnected(master, ["w0", "w1"])
            phase(r, f"throughput_{kind}", tput)

        names = [f"w{i}" for i in range(args.idle_workers)]
        if with_oebb_workers:
            phase(r, "memory_oebb_workers", lambda: memory(master, oebbw, names, args.idle_seconds))
        if args.idle_stock:
            phase(r, "memory_stock_workers", lambda: memory(master, stock, names, args.idle_seconds))

        log_kinds = [k for k in kinds if args.log and (with_oebb_workers or args.buildbot_log)]
        for kind, start in log_kinds:
            def big(start=start):
                procs = start(["w0"])
                try:
                    wait_connected(master, ["w0"])
                    return log_ingestion(master, "b3", procs[0])
                finally:
                    end_all(procs)
                    wait_disconnected(master, ["w0"])
            phase(r, f"log_{kind}", big)
        r["end"] = memory_now(master.proc.pid)
    finally:
        master.stop()
    return r


# ---------------------------------------------------------------------------------------------
# report


def get(r, *path):
    for p in path:
        if not isinstance(r, dict) or p not in r:
            return None
        r = r[p]
    return r


def fmt(v):
    if v is None:
        return "-"
    return str(v) if isinstance(v, int) else f"{v:g}"


def report(oebb, bb, meta):
    rows = []

    def row(name, o, b, better, target=None):
        ratio = None
        if o and b:
            ratio = round(b / o, 1) if better == "lower" else round(o / b, 1)
        rows.append((name, fmt(o), fmt(b), "-" if ratio is None else f"{ratio:g}x", target or ""))

    row("latency p50 ms, stock worker", get(oebb, "latency_stock", "p50_ms"),
        get(bb, "latency_stock", "p50_ms"), "lower", "oebb < 80; >= 10x")
    row("latency p90 ms, stock worker", get(oebb, "latency_stock", "p90_ms"),
        get(bb, "latency_stock", "p90_ms"), "lower")
    row("latency p50 ms, oebb worker", get(oebb, "latency_oebb", "p50_ms"), None, "lower", "< 10")
    row("latency p90 ms, oebb worker", get(oebb, "latency_oebb", "p90_ms"), None, "lower")
    row("throughput builds/s, stock workers", get(oebb, "throughput_stock", "builds_per_s"),
        get(bb, "throughput_stock", "builds_per_s"), "higher", ">= 10x")
    row("throughput builds/s, oebb workers", get(oebb, "throughput_oebb", "builds_per_s"), None,
        "higher", "> 100")
    row("master CPU s for the queued run, stock", get(oebb, "throughput_stock", "master_cpu_s"),
        get(bb, "throughput_stock", "master_cpu_s"), "lower")
    for fig, name in (("anon_mib", "RssAnon"), ("pss_mib", "PSS")):
        row(f"{name} MiB, no worker (fresh master)", get(oebb, "no_worker", fig),
            get(bb, "no_worker", fig), "lower")
    idle = f"{meta['idle_workers']} idle"
    for fig, name in (("anon_mib", "RssAnon"), ("pss_mib", "PSS")):
        row(f"{name} MiB, {idle} oebb workers, after {meta['idle_seconds']:g} s",
            get(oebb, "memory_oebb_workers", fig), None, "lower", "< 40")
        row(f"{name} MiB, {idle} stock workers, just connected",
            get(oebb, "memory_stock_workers", fig.replace("_mib", "_mib_connected")),
            get(bb, "memory_stock_workers", fig.replace("_mib", "_mib_connected")), "lower")
        row(f"{name} MiB, {idle} stock workers, after {meta['idle_seconds']:g} s",
            get(oebb, "memory_stock_workers", fig), get(bb, "memory_stock_workers", fig),
            "lower", "< 40; >= 10x")
    row("log MB/s stored, ~200 MB step, oebb worker", get(oebb, "log_oebb", "mb_per_s"), None,
        "higher", "> 100")
    row("log MB/s stored, ~200 MB step, stock worker", get(oebb, "log_stock", "mb_per_s"),
        get(bb, "log_stock", "mb_per_s"), "higher", "> 100")
    row("stored log bytes, stock worker", get(oebb, "log_stock", "stored_bytes"),
        get(bb, "log_stock", "stored_bytes"), "higher")
    row("stored log bytes, oebb worker", get(oebb, "log_oebb", "stored_bytes"), None, "higher")

    head = ("figure", "oebb", "buildbot 4.3", "oebb advantage", "target")
    widths = [max(len(str(x[i])) for x in rows + [head]) for i in range(5)]
    line = lambda cells: "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths)) + " |"  # noqa: E731
    print(line(head))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        print(line(r))
    errors = {f"{m}.{k}": v["error"] for m, res in (("oebb", oebb), ("buildbot", bb))
              for k, v in res.items() if isinstance(v, dict) and "error" in v}
    for k, v in errors.items():
        print(f"ERROR {k}: {v}")
    print("BENCH_JSON " + json.dumps({"meta": meta, "oebb": oebb, "buildbot": bb},
                                     sort_keys=True))


def main():
    global WORKER_COUNT
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--oebb", help="oebb binary (default: cargo build --release -p oebb, "
                    "honouring CARGO_TARGET_DIR)")
    ap.add_argument("--venv", default=os.environ.get("OEBB_BENCH_VENV", "/opt/oebb-bench/venv"))
    ap.add_argument("--builds", type=int, default=50, help="sequential builds for the latency")
    ap.add_argument("--requests", type=int, default=200, help="requests queued at once")
    ap.add_argument("--idle-workers", type=int, default=50)
    ap.add_argument("--idle-seconds", type=float, default=65,
                    help="how long the idle workers stay connected before the memory is read again")
    ap.add_argument("--no-idle-stock", dest="idle_stock", action="store_false",
                    help="skip the memory figure with 50 stock workers (both masters)")
    ap.add_argument("--no-log", dest="log", action="store_false", help="skip the 200 MB log")
    ap.add_argument("--buildbot-log", action="store_true",
                    help="also the 200 MB log on Buildbot (takes minutes)")
    ap.add_argument("--only", choices=["oebb", "buildbot"], help="run one master only")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    ap.add_argument("--master-arg", action="append", default=[],
                    help="an argument for `oebb master` (repeat for several), e.g. "
                    "--master-arg=--local-worker")
    args = ap.parse_args()
    WORKER_COUNT = max(args.idle_workers, 2)
    venv = Path(args.venv)
    needed = ("buildbot-worker",) if args.only == "oebb" else ("buildbot", "buildbot-worker", "twistd")
    for tool in needed:
        if not (venv / "bin" / tool).exists():
            sys.exit(f"{venv}/bin/{tool} missing: run bench/master/setup.sh first")

    if args.oebb:
        oebb_bin = Path(args.oebb).resolve()
    else:
        log("cargo build --release -p oebb")
        subprocess.run(["cargo", "build", "--release", "-p", "oebb"], cwd=ROOT, check=True)
        target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
        oebb_bin = (target if target.is_absolute() else ROOT / target) / "release/oebb"

    work = Path(tempfile.mkdtemp(prefix="oebb-bench-master-"))
    log(f"work directory {work}")
    names = [f"w{i}" for i in range(WORKER_COUNT)]
    workers = Workers(work, venv, oebb_bin)
    meta = {"date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "cpus": os.cpu_count(),
            "builds": args.builds, "requests": args.requests, "idle_workers": args.idle_workers,
            "idle_seconds": args.idle_seconds,
            "poll_sleep_ms": POLL_SLEEP * 1000, "oebb_bin": str(oebb_bin),
            "oebb_master_args": args.master_arg,
            "buildbot": subprocess.run([str(venv / "bin/python"), "-c",
                                        "import buildbot;print(buildbot.version)"],
                                       capture_output=True, text=True).stdout.strip()}
    meta["loadavg_start"] = [round(x, 2) for x in os.getloadavg()]
    t_start = time.time()
    oebb_r, bb_r = {}, {}
    try:
        if args.only != "buildbot":
            log("=== oebb master ===")
            master = OebbMaster(work, oebb_bin, names, args.master_arg)
            oebb_r = bench_master(master, workers, "oebb", args, True)
        if args.only != "oebb":
            log("=== Buildbot master ===")
            bb_r = bench_master(BuildbotMaster(work, venv, names), workers, "bb", args, False)
    finally:
        end_everything()
        meta["total_s"] = round(time.time() - t_start, 1)
        meta["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
        if args.keep:
            log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    report(oebb_r, bb_r, meta)


if __name__ == "__main__":
    main()
