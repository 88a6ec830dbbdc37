#!/usr/bin/env python3
"""Fills a master's SQLite state with finished builds, as a busy master would have after a few
years: build requests, builds, steps, properties and small compressed logs.

Run it on a master directory after `oebb master` created the schema and stopped:
    seed.py DIR --builds 100000
    seed.py DIR --builds 100000 --postgresql postgresql://user@host:port/db   (its `database`)
Builders are taken from `oebb check --json DIR`, builds spread evenly over them, newest last.
Each build has 5 steps; the install-and-test step's log has about 200 lines (20 KB).
    seed.py DIR --builds 1000 --queued 100000 --queued-on customer-00-pg16=10000
adds build requests still queued (as a master without the queue limit could hold): COUNT of
them on the builder named by --queued-on, the rest spread over the other builders.
"""

import argparse
import json
import random
import sqlite3
import subprocess
import sys
import time
import zlib

STEPS = ["bootstrap", "buildout", "createdb", "install-and-test", "analyze"]
# Buildbot's result numbers: success, warnings, failure, exception; mostly green.
RESULTS = [0] * 80 + [1] * 8 + [2] * 10 + [4] * 2


def deflate(text: bytes) -> bytes:
    """Raw deflate, as the master's flate2 DeflateEncoder writes it."""
    c = zlib.compressobj(1, zlib.DEFLATED, -15)
    return c.compress(text) + c.flush()


def log_text(builder: str, step: str, result: int) -> bytes:
    lines = [f"{builder}: {step}"]
    lines += [
        f"2026-11-25 10:00:{i:02d},{i*7:03d} 4242 INFO oebb-{builder} odoo.modules.loading: "
        f"loading module {i} of 40" for i in range(8)
    ]
    if step == "install-and-test":
        # The test step's log is the long one: a module's tests, one line each.
        lines += [
            f"2026-11-25 10:01:{i % 60:02d},{i * 13 % 1000:03d} 4242 INFO oebb-{builder} "
            f"odoo.addons.module_{i % 37}.tests.test_{i % 11}: test_case_{i} ok ({i % 7}.{i % 10}s)"
            for i in range(200)
        ]
    if result == 2 and step == "install-and-test":
        lines.append(f"2026-11-25 10:00:09,000 4242 ERROR oebb-{builder} odoo.addons.sale.tests: "
                     "FAIL: test_confirm (AssertionError: 5.0 != 4.0)")
    return ("\n".join(lines) + "\n").encode()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("dir", help="master directory (state.sqlite inside)")
    p.add_argument("--builds", type=int, default=100_000)
    p.add_argument("--oebb", default="oebb", help="the oebb binary, for `oebb check --json`")
    p.add_argument("--worker", default="w1")
    p.add_argument("--queued", type=int, default=0, help="queued build requests to add")
    p.add_argument("--queued-on", metavar="BUILDER=COUNT",
                   help="how many of the queued requests go to one builder")
    p.add_argument("--postgresql", metavar="URL",
                   help="fill this PostgreSQL database (through psql) instead of DIR/state.sqlite")
    args = p.parse_args()

    check = subprocess.run([args.oebb, "check", "--json", args.dir],
                           check=True, capture_output=True, text=True)
    builders = [b["name"] for b in json.loads(check.stdout)["builders"]]
    if not builders:
        sys.exit(f"seed.py: {args.dir} has no builders")

    db = Postgres(args.postgresql) if args.postgresql else Sqlite(f"{args.dir}/state.sqlite")
    if not db.columns("builds"):
        sys.exit("seed.py: no builds table; start `oebb master DIR` once to create the schema")
    existing = db.count("builds")
    if existing:
        sys.exit(f"seed.py: {args.dir} already holds {existing} builds")

    rng = random.Random(42)
    start = time.time()
    now_ms = int(start * 1000)
    # One build every ~10 minutes going back, newest last.
    first_ms = now_ms - args.builds * 600_000
    # Columns the web helper's migrations may add (build_requests.properties) are optional.
    with_properties = "properties" in db.columns("build_requests")
    if not db.count("workers"):
        db.insert("workers", ["name", "info", "first_seen_at", "last_seen_at"],
                  [(args.worker, "{}", first_ms, now_ms)])

    requests, builds, steps, chunks, props = [], [], [], [], []
    step_id = 0
    # A few distinct logs per (step, result) keep the seeding fast; sizes stay realistic.
    cache = {}
    for i in range(args.builds):
        build_id = i + 1
        builder = builders[i % len(builders)]
        result = rng.choice(RESULTS)
        submitted = first_ms + i * 600_000
        started = submitted + 2_000
        finished = started + rng.randint(60_000, 900_000)
        req = [build_id, builder, "scheduler: change in the buildout", None, submitted,
               None, finished, result]
        if with_properties:
            req.append(None)
        requests.append(req)
        state = "build successful" if result == 0 else (
            "warnings" if result == 1 else "failed install-and-test")
        builds.append((build_id, build_id, builder, args.worker, started, finished, result, state))
        props.append((build_id, "buildout-tag", json.dumps(f"v{i % 50}"), "force"))
        t = started
        for number, name in enumerate(STEPS):
            step_id += 1
            step_result = result if name == "install-and-test" else 0
            steps.append((step_id, build_id, number, name, t, t + 10_000, step_result,
                          "done" if step_result == 0 else "failed (exit code 1)"))
            t += 10_000
            key = (name, step_result, builder)
            data = cache.get(key)
            if data is None:
                raw = log_text(builder, name, step_result)
                data = cache.setdefault(key, (len(raw), deflate(raw)))
            chunks.append((step_id, 0, data[0], data[1]))
        if len(builds) >= 10_000:
            flush(db, requests, builds, steps, chunks, props, with_properties)
    flush(db, requests, builds, steps, chunks, props, with_properties)
    next_request = queue(db, args, builders, first_ms, with_properties)
    db.finish(f"UPDATE id_sequences SET next_id = {args.builds + 1} WHERE name = 'builds'",
              f"UPDATE id_sequences SET next_id = {next_request} "
              "WHERE name = 'build_requests'",
              f"UPDATE id_sequences SET next_id = {step_id + 1} WHERE name = 'steps'")
    print(f"seeded {args.builds} builds, {step_id} steps over {len(builders)} builders "
          f"in {time.time() - start:.1f} s", file=sys.stderr)
    return 0


def queue(db, args, builders, first_ms, with_properties):
    """Adds the queued requests; returns the next free request id."""
    one, on_one = None, 0
    if args.queued_on:
        one, count = args.queued_on.rsplit("=", 1)
        on_one = int(count)
        if one not in builders:
            sys.exit(f"seed.py: --queued-on names no builder: {one}")
    others = [b for b in builders if b != one] or builders
    rows = []
    next_id = args.builds + 1
    for i in range(args.queued):
        builder = one if i < on_one else others[i % len(others)]
        row = [next_id, builder, f"queued {i}", None, first_ms + i, None, None, None]
        if with_properties:
            row.append(json.dumps({"buildout-tag": f"v{i % 50}", "owner": "bench"}))
        rows.append(row)
        next_id += 1
        if len(rows) >= 10_000:
            flush_queued(db, rows, with_properties)
    flush_queued(db, rows, with_properties)
    return next_id


def flush_queued(db, rows, with_properties):
    db.insert("build_requests", ["id", "builder", "reason", "change_id", "submitted_at",
                                 "claimed_by", "complete_at", "result"]
              + (["properties"] if with_properties else []), rows)
    db.commit()
    rows.clear()


def flush(db, requests, builds, steps, chunks, props, with_properties):
    db.insert("build_requests", ["id", "builder", "reason", "change_id", "submitted_at",
                                 "claimed_by", "complete_at", "result"]
              + (["properties"] if with_properties else []), requests)
    db.insert("builds", ["id", "request_id", "builder", "worker", "started_at", "finished_at",
                         "result", "state_text"], builds)
    db.insert("build_properties", ["build_id", "name", "value", "source"], props)
    db.insert("steps", ["id", "build_id", "number", "name", "started_at", "finished_at",
                        "result", "state_text"], steps)
    db.insert("log_chunks", ["step_id", "seq", "raw_size", "data"], chunks)
    db.commit()
    for batch in (requests, builds, steps, chunks, props):
        batch.clear()


class Sqlite:
    """The master's SQLite file."""

    def __init__(self, path):
        self.db = sqlite3.connect(path)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=OFF")

    def columns(self, table):
        return {r[1] for r in self.db.execute(f"PRAGMA table_info({table})")}

    def count(self, table):
        return self.db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]

    def insert(self, table, columns, rows):
        marks = ",".join("?" * len(columns))
        self.db.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)

    def commit(self):
        self.db.commit()

    def finish(self, *statements):
        for statement in statements:
            self.db.execute(statement)
        self.db.commit()
        self.db.execute("ANALYZE")
        self.db.commit()
        self.db.close()


class Postgres:
    """A PostgreSQL database, filled with COPY through one long-running psql."""

    def __init__(self, url):
        self.url = url
        self.psql = subprocess.Popen(["psql", "-q", "-v", "ON_ERROR_STOP=1", url],
                                     stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)

    def query(self, sql):
        out = subprocess.run(["psql", "-At", "-v", "ON_ERROR_STOP=1", self.url, "-c", sql],
                             check=True, capture_output=True, text=True).stdout
        return out.split()

    def columns(self, table):
        return set(self.query("SELECT column_name FROM information_schema.columns "
                              f"WHERE table_name = '{table}'"))

    def count(self, table):
        return int(self.query(f"SELECT count(*) FROM {table}")[0])

    def insert(self, table, columns, rows):
        out = [f"COPY {table} ({', '.join(columns)}) FROM STDIN;\n".encode()]
        for row in rows:
            out.append(b"\t".join(copy_field(v) for v in row) + b"\n")
        out.append(b"\\.\n")
        self.psql.stdin.write(b"".join(out))

    def commit(self):
        self.psql.stdin.flush()

    def finish(self, *statements):
        self.psql.stdin.write(("".join(f"{s};\n" for s in statements) + "ANALYZE;\n").encode())
        self.psql.stdin.close()
        if self.psql.wait() != 0:
            sys.exit("seed.py: psql failed")


def copy_field(value) -> bytes:
    """One field of COPY's text format."""
    if value is None:
        return b"\\N"
    if isinstance(value, bytes):
        return b"\\\\x" + value.hex().encode()
    text = str(value)
    for a, b in (("\\", "\\\\"), ("\t", "\\t"), ("\n", "\\n"), ("\r", "\\r")):
        text = text.replace(a, b)
    return text.encode()


if __name__ == "__main__":
    sys.exit(main())
