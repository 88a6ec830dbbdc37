#!/usr/bin/env python3
"""Writes the seed corpora under fuzz/corpus/<target>/ from the project's own test inputs.

Frames are the requests and responses of crates/protocol's tests, msgpack-encoded here (a
minimal encoder: no dependency); logs are the hand-written lines of
crates/analyze/tests/cases.rs; INI files are the `oebb create-master` templates and the
inline files of crates/config's tests. Run from anywhere: `python3 fuzz/make_seeds.py`.
The fuzzer's own finds go to fuzz/work/ (not committed); these seeds stay small.
"""

import hashlib
import re
import shutil
import struct
from pathlib import Path

FUZZ = Path(__file__).resolve().parent
ROOT = FUZZ.parent
CORPUS = FUZZ / "corpus"


# ---- msgpack, enough for the protocol's frames ------------------------------------------


class Bin(bytes):
    """msgpack bin (plain str is msgpack str)."""


def pack(v) -> bytes:
    if v is None:
        return b"\xc0"
    if v is True:
        return b"\xc3"
    if v is False:
        return b"\xc2"
    if isinstance(v, int):
        if 0 <= v < 128:
            return bytes([v])
        if -32 <= v < 0:
            return struct.pack("b", v)
        if 0 <= v < 2**32:
            return b"\xce" + struct.pack(">I", v)
        if 0 <= v < 2**64:
            return b"\xcf" + struct.pack(">Q", v)
        return b"\xd3" + struct.pack(">q", v)
    if isinstance(v, float):
        return b"\xcb" + struct.pack(">d", v)
    if isinstance(v, Bin):
        n = len(v)
        return (b"\xc4" + bytes([n]) if n < 256 else b"\xc5" + struct.pack(">H", n)) + v
    if isinstance(v, str):
        b = v.encode()
        n = len(b)
        if n < 32:
            return bytes([0xA0 | n]) + b
        if n < 256:
            return b"\xd9" + bytes([n]) + b
        return b"\xda" + struct.pack(">H", n) + b
    if isinstance(v, (list, tuple)):
        n = len(v)
        head = bytes([0x90 | n]) if n < 16 else b"\xdc" + struct.pack(">H", n)
        return head + b"".join(pack(x) for x in v)
    if isinstance(v, dict):
        n = len(v)
        head = bytes([0x80 | n]) if n < 16 else b"\xde" + struct.pack(">H", n)
        return head + b"".join(pack(k) + pack(x) for k, x in v.items())
    raise TypeError(type(v))


def request(op, seq=42, **fields):
    return {"op": op, "seq_number": seq, **fields}


def chunk(text, t=1700000000.5):
    offsets = [i for i, c in enumerate(text) if c == "\n"]
    return [text, offsets, [t] * len(offsets)]


SHELL_ARGS = {
    "workdir": "/w/b",
    "env": {"PYTHONPATH": ["/a", "/b"], "LANG": "C", "HOME": None},
    "want_stdout": True,
    "want_stderr": True,
    "logfiles": {"odoo": {"filename": "odoo.log", "follow": True}, "t": "t.log"},
    "timeout": 1200,
    "maxTime": None,
    "max_lines": None,
    "sigtermTime": None,
    "usePTY": False,
    "logEnviron": True,
    "initial_stdin": None,
    "interruptSignal": "KILL",
    "command": ["bin/buildout", ["obfuscated", "secret", "XXX"], "-c", "buildout.cfg"],
}

FRAMES = {
    "print": request("print", message="attached"),
    "keepalive": request("keepalive"),
    "get_worker_info": request("get_worker_info"),
    "shutdown": request("shutdown"),
    "set_worker_settings": request(
        "set_worker_settings",
        args={
            "buffer_size": 65536,
            "buffer_timeout": 5,
            "newline_re": r"(\r\n|\r(?=.)|\033\[u)",
            "max_line_length": 4096,
        },
    ),
    "start_shell": request(
        "start_command", command_id="7", command_name="shell", args=SHELL_ARGS, builder_name="b"
    ),
    "start_shell_script": request(
        "start_command",
        command_id="8",
        command_name="shell",
        args={"workdir": "/w", "command": "echo hi"},
    ),
    "start_mkdir": request(
        "start_command", command_id="1", command_name="mkdir", args={"paths": ["/w/a", "/w/b"]}
    ),
    "start_rmdir": request(
        "start_command",
        command_id="2",
        command_name="rmdir",
        args={"paths": ["/w/a"], "logEnviron": False, "timeout": 120.5},
    ),
    "start_cpdir": request(
        "start_command",
        command_id="3",
        command_name="cpdir",
        args={"from_path": "/w/a", "to_path": "/w/b", "logEnviron": True},
    ),
    "start_stat": request("start_command", command_id="4", command_name="stat", args={"path": "/w"}),
    "start_glob": request("start_command", command_id="5", command_name="glob", args={"path": "/w/*"}),
    "start_listdir": request(
        "start_command", command_id="6", command_name="listdir", args={"path": "/w"}
    ),
    "start_rmfile": request(
        "start_command", command_id="9", command_name="rmfile", args={"path": "/w/f"}
    ),
    "start_upload_file": request(
        "start_command",
        command_id="10",
        command_name="uploadFile",
        args={"path": "/w/f", "blocksize": 16384, "maxsize": None, "keepstamp": True},
    ),
    "start_upload_directory": request(
        "start_command",
        command_id="11",
        command_name="upload_directory",
        args={"path": "/w/doc", "blocksize": 16384, "maxsize": 1 << 30, "compress": "gz"},
    ),
    "start_download_file": request(
        "start_command",
        command_id="12",
        command_name="download_file",
        args={"path": "/w/f", "blocksize": 16384, "maxsize": None, "mode": 0o644},
    ),
    "start_unknown": request("start_command", command_id="13", command_name="svn", args={}),
    "interrupt": request("interrupt_command", command_id="7", why="stopped by user"),
    "update": request(
        "update",
        command_id="7",
        args=[
            ["header", chunk("bin/buildout\n in dir /w/b\n")],
            ["stdout", chunk("Installing odoo.\nGot Babel 2.9.\n")],
            ["stderr", chunk("warning: é\n")],
            ["log", ["odoo", chunk("2024-01-01 10:00:00,000 7 INFO db odoo: hi\n")]],
            ["rc", 0],
            ["elapsed", 1.25],
            ["failure_reason", "timeout"],
            ["files", ["a", "b"]],
            ["stat", [0o40755, 1, 2, 3, 0, 0, 4096, 1700000000, 1700000000, 1700000000]],
            ["custom", {"x": [1, 2.5, None]}],
        ],
    ),
    "update_rc_negative": request("update", command_id="7", args=[["rc", -1]]),
    "complete": request("complete", command_id="7", args=None),
    "complete_failure": request("complete", command_id="7", args="Traceback: boom"),
    "upload_write": request("update_upload_file_write", command_id="10", args=Bin(b"\x00\x01data")),
    "upload_close": request("update_upload_file_close", command_id="10"),
    "upload_utime": request(
        "update_upload_file_utime", command_id="10", access_time=1.5, modified_time=2
    ),
    "upload_directory_write": request(
        "update_upload_directory_write", command_id="11", args=Bin(b"\x1f\x8b\x08\x00")
    ),
    "upload_directory_unpack": request("update_upload_directory_unpack", command_id="11"),
    "read_file": request("update_read_file", command_id="12", length=16384),
    "read_file_close": request("update_read_file_close", command_id="12"),
    "response_nil": {"op": "response", "seq_number": 1, "result": None},
    "response_exception": {
        "op": "response",
        "seq_number": 2,
        "result": "no such command",
        "is_exception": True,
    },
    "response_worker_info": {
        "op": "response",
        "seq_number": 3,
        "result": {
            "basedir": "/srv/worker",
            "system": "posix",
            "numcpus": 4,
            "version": "4.3.0",
            "environ": {"PATH": "/usr/bin", "HOME": "/root"},
            "worker_commands": {"shell": "3.3", "uploadFile": "3.3"},
            "delete_leftover_dirs": 0,
            "admin": "ci <ci@example.org>",
            "host": "box",
            "os_release": Bin(b"ID=debian\n"),
        },
    },
}

# ---- logs: the hand-written lines of crates/analyze/tests/cases.rs ---------------------


def rust_strings(block):
    """The string literals of a Rust array literal (plain and r"…" strings)."""
    out = []
    for m in re.finditer(r'r#"(.*?)"#|r"(.*?)"|"((?:[^"\\]|\\.)*)"', block, re.S):
        if m.group(1) is not None:
            out.append(m.group(1))
        elif m.group(2) is not None:
            out.append(m.group(2))
        else:
            out.append(unescape(m.group(3)))
    return out


ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "0": "\0", "\\": "\\", '"': '"', "'": "'"}


def unescape(s):
    """A Rust string literal's escapes: \\n, \\x41, \\u{e9}, and line continuations."""

    def one(m):
        e = m.group(1)
        if e[0] == "\n":
            return ""
        if e[0] == "x":
            return chr(int(e[1:], 16))
        if e[0] == "u":
            return chr(int(e[2:-1], 16))
        return ESCAPES.get(e, e)

    return re.sub(r"\\(\n\s*|x[0-9a-fA-F]{2}|u\{[0-9a-fA-F]+\}|.)", one, s, flags=re.S)


def case_logs():
    text = (ROOT / "crates/analyze/tests/cases.rs").read_text()
    consts = {
        m.group(1): rust_strings(m.group(2))[0]
        for m in re.finditer(r"const (\w+): &str =\s*(\"(?:[^\"\\]|\\.)*\");", text, re.S)
    }
    logs = []
    for m in re.finditer(r"(?:run|run_with|log)\(&\[(.*?)\]", text, re.S):
        block = m.group(1)
        lines = []
        for item in re.finditer(r'(r#".*?"#|r".*?"|"(?:[^"\\]|\\.)*"|\b[A-Z][A-Z0-9_]+\b)', block, re.S):
            token = item.group(1)
            if token in consts:
                lines.append(consts[token])
            elif token.startswith(('"', "r")):
                lines.extend(rust_strings(token))
        if lines:
            logs.append("\n".join(lines) + "\n")
    return logs


# ---- INI: the create-master templates and the config tests' inline files --------------


def config_texts():
    texts = {}
    for path in sorted((ROOT / "crates/oebb/src/cmd/create_master").glob("*.cfg")):
        texts[path.name] = path.read_text()
    for path in sorted((ROOT / "crates/config/src").rglob("tests.rs")):
        source = path.read_text()
        found = [t for t in rust_strings(source) if t.startswith("[") and "\n" in t]
        for i, text in enumerate(dict.fromkeys(found)):
            texts[f"{path.parent.name}-{i}"] = text
    return texts


CHECKLOG = [
    "[checklog-odoo]\nignore =\n    WARNING .* 0 failed, 0 error\\(s\\)\n    Killing chrome descendants-or-self\n",
    "[checklog]\nignore = no access rules\n",
    "# comment\n[other]\nx = 1\n[checklog-odoo]\nignore:\n  ^.*\\bdeprecated\\b\n  (?i)werkzeug\n",
]

AUTH = [
    "Basic dzE6c2U6Y3JldA==",
    "basic dzE6c2U6Y3JldA==",
    "Basic d29ya2VyOnBhc3N3b3Jk",
    "Bearer abc",
    "Basic",
]

WEB = [
    (0, b'{"reason": "try the fix", "properties": {"buildout-tag": "1.2", "n": 3}}'),
    (0, b'{"properties": {"x": [1, {"y": null}], "z": true}}'),
    (0, b"  \n"),
    (1, b'{"reason": "enough"}'),
    (2, b"csrf=abc&reason=why&buildout-tag=v1&empty="),
    (3, b"user=alice&password=s%C3%A9cret&csrf=tok&next=%2Fbuilders"),
    (4, b"csrf=tok"),
    (5, b"eyJ1IjoiYWxpY2UiLCJjIjoieCIsImUiOjF9.c2lnbmF0dXJl"),
    (6, b"oebb_session=eyJ1IjpudWxsfQ.AAAA; other=1\noebb_session=x.y"),
]


# The INI targets skip longer inputs (see their MAX_INPUT).
CAPPED = {"ini", "config_load", "checklog_ignore"}
MAX_INPUT = 4096


def uncommented(text: bytes) -> bytes:
    return b"".join(l for l in text.splitlines(True) if not l.lstrip().startswith(b"#"))


def write(target, name, data: bytes):
    if target in CAPPED and len(data) > MAX_INPUT:
        return
    d = CORPUS / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data)


def main():
    if CORPUS.exists():
        shutil.rmtree(CORPUS)
    for name, frame in FRAMES.items():
        write("frame", name, pack(frame))
    for i, header in enumerate(AUTH):
        write("worker_login", f"header-{i}", header.encode())
    for i, (mode, body) in enumerate(WEB):
        write("web_input", f"input-{i}", bytes([mode]) + body)
    texts = config_texts()
    for name, text in texts.items():
        write("ini", name, text.encode())
    templates = ROOT / "crates/oebb/src/cmd/create_master"
    workers = uncommented((templates / "slaves.cfg").read_bytes())
    manifest = uncommented((templates / "MANIFEST.cfg").read_bytes())
    settings = uncommented((templates / "oebb.cfg").read_bytes())
    write("config_load", "create-master", workers + b"\0" + manifest + b"\0" + settings)
    write("config_load", "create-master-settings", workers + b"\0\0" + settings)
    for name, text in texts.items():
        if "inherit" in text or "buildout" in text:
            write("config_load", name, workers + b"\0" + text.encode())
    for i, text in enumerate(CHECKLOG):
        write("checklog_ignore", f"checklog-{i}", text.encode())
    for i, log in enumerate(case_logs()):
        digest = hashlib.sha1(log.encode()).hexdigest()[:12]
        # control bytes: tests requested, detect the version, seed i, pieces up to 64 bytes
        write("odoo_log", f"case-{digest}", bytes([1, 0, i % 256, 3]) + log.encode())
    for target in sorted(p.name for p in CORPUS.iterdir()):
        print(target, len(list((CORPUS / target).iterdir())))


if __name__ == "__main__":
    main()
