#!/usr/bin/env python3
"""bad-daemon.py SOCKET REPLIES.json — a daemon that answers ophostctl with
what a broken or hostile one could send: for every call on a connection,
the next reply of the list (each a JSON value sent as its text and a NUL,
or {"raw": N} for N bytes of 'x' without a NUL), then it closes the
connection. Serves connections one after the other until killed."""
import json
import os
import socket
import sys

path, script = sys.argv[1], sys.argv[2]
with open(script) as f:
    replies = json.load(f)
if os.path.exists(path):
    os.unlink(path)
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(path)
srv.listen(8)
while True:
    conn, _ = srv.accept()
    try:
        buf = b""
        while b"\0" not in buf:
            chunk = conn.recv(65536)
            if not chunk:
                break
            buf += chunk
        for r in replies:
            if isinstance(r, dict) and "raw" in r:
                block = b"x" * (1 << 20)
                for _ in range(r["raw"] >> 20):
                    conn.sendall(block)
            else:
                conn.sendall(json.dumps(r).encode() + b"\0")
    except (BrokenPipeError, ConnectionResetError):
        pass
    conn.close()
