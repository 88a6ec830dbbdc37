#!/usr/bin/env python3
"""Opens N live-log streams (Server-Sent Events) on a running step of an oebb master and
measures the master's resident memory before, while they are open, and after they close.

    streams.py --url http://127.0.0.1:8010/builds/7/steps/0/stream --pid PID --streams 200
Prints a sentence, then the figures as JSON (rss_before_kb, rss_peak_kb, rss_after_kb,
growth_mb, streams_live, …); exits 1 unless every stream received events.
"""

import argparse
import asyncio
import json
import sys
import time
from urllib.parse import urlsplit


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


async def stream(host, port, path, opened, stop, received):
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
                 "Accept: text/event-stream\r\n\r\n".encode())
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    status = head.split(b" ", 2)[1]
    if status != b"200":
        raise RuntimeError(f"{path}: HTTP {status.decode()}: {head!r}")
    opened.release()
    # Count what arrives after every stream is open: a live stream keeps receiving.
    n = 0
    while not stop.is_set():
        try:
            data = await asyncio.wait_for(reader.read(65536), 0.5)
        except asyncio.TimeoutError:
            continue
        if not data:
            break
        if opened.all_open:
            n += data.count(b"data:")
    received.append(n)
    writer.close()


class Opened:
    """Counts opened streams; all_open once every one answered."""

    def __init__(self, total):
        self.total, self.count, self.all_open = total, 0, False
        self.event = asyncio.Event()

    def release(self):
        self.count += 1
        if self.count == self.total:
            self.all_open = True
            self.event.set()


async def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--url", required=True)
    p.add_argument("--pid", type=int, required=True, help="the master's process id")
    p.add_argument("--streams", type=int, default=200)
    p.add_argument("--hold", type=float, default=10.0, help="seconds to keep them open")
    args = p.parse_args()
    u = urlsplit(args.url)
    path = u.path + (f"?{u.query}" if u.query else "")

    before = rss_kb(args.pid)
    opened, stop, received = Opened(args.streams), asyncio.Event(), []
    tasks = [asyncio.create_task(stream(u.hostname, u.port, path, opened, stop, received))
             for _ in range(args.streams)]
    started = time.monotonic()
    await asyncio.wait_for(opened.event.wait(), 60)
    open_s = time.monotonic() - started
    peak = rss_kb(args.pid)
    end = time.monotonic() + args.hold
    while time.monotonic() < end:
        await asyncio.sleep(0.25)
        peak = max(peak, rss_kb(args.pid))
    stop.set()
    await asyncio.gather(*tasks)
    await asyncio.sleep(1)
    after = rss_kb(args.pid)
    live = sum(1 for n in received if n > 0)
    r = {
        "streams": args.streams,
        "seconds_to_open_all": round(open_s, 2),
        "streams_live": live,
        "events_per_stream_min": min(received) if received else 0,
        "rss_before_kb": before,
        "rss_peak_kb": peak,
        "rss_after_kb": after,
        "growth_mb": round((peak - before) / 1024, 1),
    }
    print(f"{r['streams']} live-log streams on a running step, held {args.hold:g} s: "
          f"{live} received events while all were open (at least "
          f"{r['events_per_stream_min']} each); master RSS {before / 1024:.1f} MB before, "
          f"{peak / 1024:.1f} MB peak (**+{r['growth_mb']} MB**), {after / 1024:.1f} MB after "
          f"they closed; all open in {r['seconds_to_open_all']} s.")
    print(f"\n```json\n{json.dumps(r)}\n```")
    return 0 if live == args.streams else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
