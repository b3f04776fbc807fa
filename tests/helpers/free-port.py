#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
# free-port.py ADDR: print a TCP port that is free on ADDR (127.0.0.1 or ::1)
# right now.  Exits 2 if ADDR cannot be bound at all (no such loopback).
import socket
import sys

addr = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1"
family = socket.AF_INET6 if ":" in addr else socket.AF_INET
try:
    s = socket.socket(family, socket.SOCK_STREAM)
    s.bind((addr, 0))
except OSError as e:
    print("cannot bind %s: %s" % (addr, e), file=sys.stderr)
    sys.exit(2)
print(s.getsockname()[1])
s.close()
