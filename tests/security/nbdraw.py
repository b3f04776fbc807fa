# SPDX-License-Identifier: BSD-3-Clause
"""nbdraw.py: a tiny raw NBD client for the security tests.

Only what the tests need: connect to a Unix socket, the fixed newstyle
greeting, NBD_OPT_GO on the default export, simple requests and simple
replies.  Every read is bounded in time (socket timeout).
"""
import socket
import struct

NBDMAGIC = 0x4e42444d41474943
IHAVEOPT = 0x49484156454F5054
REPLY_MAGIC = 0x3e889045565a9
REQUEST_MAGIC = 0x25609513
SIMPLE_REPLY_MAGIC = 0x67446698
OPT_GO = 7
REP_ACK = 1
CMD_READ, CMD_WRITE, CMD_DISC, CMD_FLUSH = 0, 1, 2, 3
FLAG_C_FIXED_NEWSTYLE, FLAG_C_NO_ZEROES = 1, 2


def connect(path, timeout=10):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(path)
    return s


def recv_exact(s, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise EOFError("EOF after %d of %d bytes" % (len(buf), n))
        buf += chunk
    return bytes(buf)


def greeting(s):
    """Read the 18-byte newstyle greeting; returns the server flags."""
    magic, version, gflags = struct.unpack(">QQH", recv_exact(s, 18))
    assert magic == NBDMAGIC and version == IHAVEOPT, "bad greeting"
    return gflags


def send_option(s, opt, data=b""):
    s.sendall(struct.pack(">QII", IHAVEOPT, opt, len(data)) + data)


def go_transcript():
    """Client bytes from the flags to a complete NBD_OPT_GO ""."""
    cflags = struct.pack(">I", FLAG_C_FIXED_NEWSTYLE | FLAG_C_NO_ZEROES)
    return cflags + struct.pack(">QII", IHAVEOPT, OPT_GO, 6) + b"\0" * 6


def open_export(path, timeout=10):
    """Connect and GO; returns (socket, export size)."""
    s = connect(path, timeout)
    greeting(s)
    s.sendall(go_transcript())
    size = None
    while True:
        magic, opt, rtype, rlen = struct.unpack(">QIII", recv_exact(s, 20))
        assert magic == REPLY_MAGIC and opt == OPT_GO
        data = recv_exact(s, rlen)
        if rtype == REP_ACK:
            break
        assert rtype == 3, "GO failed: %#x %r" % (rtype, data)
        if data[:2] == b"\0\0":
            size = struct.unpack(">Q", data[2:10])[0]
    return s, size


def request(s, cmd, cookie, offset, count, payload=b"", flags=0):
    s.sendall(struct.pack(">IHHQQI", REQUEST_MAGIC, flags, cmd, cookie,
                          offset, count) + payload)


def reply(s):
    """Read a simple reply header: returns (error, cookie)."""
    magic, error, cookie = struct.unpack(">IIQ", recv_exact(s, 16))
    assert magic == SIMPLE_REPLY_MAGIC, "bad reply magic %#x" % magic
    return error, cookie


def rss_kib(pid):
    """Resident memory of a process, KiB, from smaps_rollup."""
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for line in f:
            if line.startswith("Rss:"):
                return int(line.split()[1])
    raise RuntimeError("no Rss in smaps_rollup")
