#!/usr/bin/env python3
"""Writes a large Odoo log made of sample logs, repeated.

usage: make_log.py SAMPLES_DIR OUTPUT SIZE_MB [NAME_FILTER]

The samples are the project's fixture logs (fixtures/odoo-logs) or any directory of logs,
such as the reference corpus, whose first line (a `#### SOURCE:` header) is stripped. The
bodies are concatenated in name order, then repeated until the file reaches SIZE_MB
mebibytes (cut at a line boundary). With NAME_FILTER, only the samples whose name contains it.
"""
import os
import sys


def unit(samples_dir, name_filter=""):
    parts = []
    for name in sorted(os.listdir(samples_dir)):
        if name_filter not in name:
            continue
        with open(os.path.join(samples_dir, name), "rb") as f:
            raw = f.read()
        body = raw
        if raw.startswith(b"#### SOURCE:"):
            body = raw.split(b"\n", 1)[1] if b"\n" in raw else b""
        if body and not body.endswith(b"\n"):
            body += b"\n"
        parts.append(body)
    return b"".join(parts)


def main():
    samples_dir, output, size_mb = sys.argv[1], sys.argv[2], int(sys.argv[3])
    name_filter = sys.argv[4] if len(sys.argv) > 4 else ""
    target = size_mb * 1024 * 1024
    one = unit(samples_dir, name_filter)
    if not one:
        sys.exit(f"no sample in {samples_dir} matches {name_filter!r}")
    block = one * max(1, (8 * 1024 * 1024) // len(one))
    written = 0
    with open(output, "wb") as out:
        while written + len(block) <= target:
            out.write(block)
            written += len(block)
        rest = block[: target - written]
        rest = rest[: rest.rfind(b"\n") + 1]
        out.write(rest)
        written += len(rest)
    count = sum(name_filter in n for n in os.listdir(samples_dir))
    print(f"{output}: {written} bytes ({len(one)}-byte unit of {count} samples)")


if __name__ == "__main__":
    main()
