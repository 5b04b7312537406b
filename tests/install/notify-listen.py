#!/usr/bin/env python3
"""Plays systemd's side of sd_notify(3) for the install test: binds an
AF_UNIX datagram socket at PATH, prints each message it receives (one line
per assignment, prefixed "notify: "), and exits 0 once a message carries
WAIT_FOR (default READY=1), or 1 after TIMEOUT seconds without it.
With --forever it keeps printing until killed.  With --journal it plays
journald's native socket instead: one line per entry ("journal: " and the
entry's FIELD=value assignments separated by " | ")."""
import argparse
import os
import socket
import sys
import time

ap = argparse.ArgumentParser()
ap.add_argument("path")
ap.add_argument("--wait-for", default="READY=1")
ap.add_argument("--timeout", type=float, default=60.0)
ap.add_argument("--forever", action="store_true")
ap.add_argument("--journal", action="store_true")
args = ap.parse_args()

try:
    os.unlink(args.path)
except FileNotFoundError:
    pass
sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
sock.bind(args.path)
os.chmod(args.path, 0o666)
# Tell whoever started us that the socket exists.
prefix = "journal" if args.journal else "notify"
print("%s: listening on %s" % (prefix, args.path), flush=True)
deadline = time.monotonic() + args.timeout
while True:
    left = deadline - time.monotonic()
    if not args.forever and left <= 0:
        print("notify: no %s within %.0f s" % (args.wait_for, args.timeout), flush=True)
        sys.exit(1)
    sock.settimeout(None if args.forever else left)
    try:
        data = sock.recv(1 << 17)
    except socket.timeout:
        continue
    lines = data.decode(errors="replace").splitlines()
    if args.journal:
        print("journal: %s" % " | ".join(lines), flush=True)
        continue
    for line in lines:
        print("notify: %s" % line, flush=True)
    if not args.forever and args.wait_for in lines:
        sys.exit(0)
