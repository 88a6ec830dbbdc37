#!/usr/bin/env python3
"""Fills a master's SQLite state with finished builds, as a busy master would have after a few
years: build requests, builds, steps, properties and small compressed logs.

Run it on a master directory after `oebb master` created the schema and stopped:
    seed.py DIR --builds 100000
Builders are taken from `oebb check --json DIR`, builds spread evenly over them, newest last.
Each build has 5 steps; the install-and-test step's log has about 200 lines (20 KB).
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
    args = p.parse_args()

    check = subprocess.run([args.oebb, "check", "--json", args.dir],
                           check=True, capture_output=True, text=True)
    builders = [b["name"] for b in json.loads(check.stdout)["builders"]]
    if not builders:
        sys.exit(f"seed.py: {args.dir} has no builders")

    db = sqlite3.connect(f"{args.dir}/state.sqlite")
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=OFF")
    (tables,) = db.execute("SELECT count(*) FROM sqlite_master WHERE name = 'builds'").fetchone()
    if not tables:
        sys.exit("seed.py: no builds table; start `oebb master DIR` once to create the schema")
    (existing,) = db.execute("SELECT count(*) FROM builds").fetchone()
    if existing:
        sys.exit(f"seed.py: {args.dir} already holds {existing} builds")

    rng = random.Random(42)
    start = time.time()
    now_ms = int(start * 1000)
    # One build every ~10 minutes going back, newest last.
    first_ms = now_ms - args.builds * 600_000
    # Columns the web helper's migrations may add (build_requests.properties) are optional.
    request_columns = {r[1] for r in db.execute("PRAGMA table_info(build_requests)")}
    with_properties = "properties" in request_columns
    db.execute("INSERT OR IGNORE INTO workers (name, info, first_seen_at, last_seen_at) "
               "VALUES (?, ?, ?, ?)", (args.worker, "{}", first_ms, now_ms))

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
    db.execute("UPDATE id_sequences SET next_id = ? WHERE name IN ('build_requests', 'builds')",
               (args.builds + 1,))
    db.execute("UPDATE id_sequences SET next_id = ? WHERE name = 'steps'", (step_id + 1,))
    db.commit()
    db.execute("ANALYZE")
    db.commit()
    db.close()
    print(f"seeded {args.builds} builds, {step_id} steps over {len(builders)} builders "
          f"in {time.time() - start:.1f} s", file=sys.stderr)
    return 0


def flush(db, requests, builds, steps, chunks, props, with_properties):
    marks = ",".join("?" * (9 if with_properties else 8))
    db.executemany(f"INSERT INTO build_requests (id, builder, reason, change_id, submitted_at, "
                   f"claimed_by, complete_at, result{', properties' if with_properties else ''}) "
                   f"VALUES ({marks})", requests)
    db.executemany("INSERT INTO builds (id, request_id, builder, worker, started_at, finished_at, "
                   "result, state_text) VALUES (?,?,?,?,?,?,?,?)", builds)
    db.executemany("INSERT INTO build_properties (build_id, name, value, source) "
                   "VALUES (?,?,?,?)", props)
    db.executemany("INSERT INTO steps (id, build_id, number, name, started_at, finished_at, "
                   "result, state_text) VALUES (?,?,?,?,?,?,?,?)", steps)
    db.executemany("INSERT INTO log_chunks (step_id, seq, raw_size, data) VALUES (?,?,?,?)",
                   chunks)
    db.commit()
    for batch in (requests, builds, steps, chunks, props):
        batch.clear()


if __name__ == "__main__":
    sys.exit(main())
