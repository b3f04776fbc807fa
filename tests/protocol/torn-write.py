# SPDX-License-Identifier: BSD-3-Clause
"""torn-write.py: a WRITE changes the export only once its whole payload
has arrived.

Usage: torn-write.py ADDRESS LOG PLUGIN [CERTDIR]

ADDRESS is a unix socket path or HOST:PORT; LOG is the server's -v log;
PLUGIN is the plugin's name as the log spells it; CERTDIR, if given, is
a make_pki directory and every connection uses TLS (NBD_OPT_STARTTLS).

For each case a normal client (libnbd) fills a region with "old" data,
then a raw client (this file: fixed newstyle handshake, NBD_OPT_GO,
structured replies on every other case) sends a WRITE header and only
part of the payload, and ends the connection with a FIN or a reset.
Once the server's log says it has closed that connection, a fresh
libnbd client must read the old data back exactly, a margin on either
side included.  A reset is SO_LINGER {1, 0} over TCP; a unix socket has
no RST, so there the client leaves a READ reply unread, which makes the
server's next receive fail with ECONNRESET.  The control of each region
sends the whole payload and must see the new data.

Every case runs; each failure is reported with the first differing byte,
and the exit status is 1 if any case failed.
"""
import os
import random
import re
import select
import socket
import ssl
import struct
import sys
import time

import nbd

NBDMAGIC = 0x4E42444D41474943
IHAVEOPT = 0x49484156454F5054
OPT_REPLY_MAGIC = 0x3E889045565A9
REQUEST_MAGIC = 0x25609513
SIMPLE_REPLY_MAGIC = 0x67446698
STRUCTURED_REPLY_MAGIC = 0x668E33EF
OPT_STARTTLS, OPT_GO, OPT_STRUCTURED_REPLY = 5, 7, 8
REP_ACK, REP_INFO = 1, 3
CMD_READ, CMD_WRITE = 0, 1
FLAG_READ_ONLY = 1 << 1
MARGIN = 4096
TIMEOUT = 10

address, log_path, plugin = sys.argv[1:4]
certdir = sys.argv[4] if len(sys.argv) > 4 else None
is_tcp = not address.startswith("/") and ":" in address
rng = random.Random(9)
conn_id = 0  # the server numbers connections from 1, in accept order
failures = []


def uri():
    scheme = "nbds" if certdir else "nbd"
    if is_tcp:
        u = "%s://%s/" % (scheme, address)
        sep = "?"
    else:
        u = "%s+unix:///?socket=%s" % (scheme, address)
        sep = "&"
    if certdir:
        u += sep + "tls-certificates=" + os.path.join(certdir, "client")
    return u


def libnbd_handle():
    """A normal client; every connection, ours or libnbd's, gets an id."""
    global conn_id
    h = nbd.NBD()
    h.set_uri_allow_local_file(True)
    h.connect_uri(uri())
    conn_id += 1
    return h


def recv_exact(s, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise EOFError("EOF after %d of %d bytes" % (len(buf), n))
        buf += chunk
    return bytes(buf)


def option(s, opt, data=b""):
    """Send an option, return the (type, data) of each reply up to ACK."""
    s.sendall(struct.pack(">QII", IHAVEOPT, opt, len(data)) + data)
    replies = []
    while True:
        magic, ropt, rtype, rlen = struct.unpack(">QIII", recv_exact(s, 20))
        assert magic == OPT_REPLY_MAGIC and ropt == opt, "bad option reply"
        rdata = recv_exact(s, rlen)
        replies.append((rtype, rdata))
        if rtype == REP_ACK:
            return replies
        if rtype & (1 << 31):
            raise RuntimeError("option %d refused: %#x %r" % (opt, rtype,
                                                               rdata))


def tls_wrap(s):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(os.path.join(certdir, "ca-cert.pem"))
    ctx.load_cert_chain(os.path.join(certdir, "client", "client-cert.pem"),
                        os.path.join(certdir, "client", "client-key.pem"))
    return ctx.wrap_socket(s, server_hostname="localhost")


def raw_connect(structured):
    """Connect and negotiate; returns (socket, export size)."""
    global conn_id
    if is_tcp:
        host, port = address.rsplit(":", 1)
        s = socket.create_connection((host, int(port)), timeout=TIMEOUT)
    else:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(TIMEOUT)
        s.connect(address)
    conn_id += 1
    magic, version, _ = struct.unpack(">QQH", recv_exact(s, 18))
    assert magic == NBDMAGIC and version == IHAVEOPT, "bad greeting"
    s.sendall(struct.pack(">I", 3))  # FIXED_NEWSTYLE | NO_ZEROES
    if certdir:
        option(s, OPT_STARTTLS)
        s = tls_wrap(s)
    if structured:
        option(s, OPT_STRUCTURED_REPLY)
    size = None
    for rtype, data in option(s, OPT_GO, b"\0" * 6):
        if rtype == REP_INFO and data[:2] == b"\0\0":
            size, tflags = struct.unpack(">QH", data[2:12])
            assert not tflags & FLAG_READ_ONLY, "export is read-only"
    assert size is not None, "GO gave no NBD_INFO_EXPORT"
    return s, size


def request(cmd, cookie, offset, count):
    return struct.pack(">IHHQQI", REQUEST_MAGIC, 0, cmd, cookie, offset,
                       count)


def write_reply(s, cookie):
    """The error of a WRITE's reply, simple or structured."""
    magic = struct.unpack(">I", recv_exact(s, 4))[0]
    if magic == SIMPLE_REPLY_MAGIC:
        error, rcookie = struct.unpack(">IQ", recv_exact(s, 12))
    else:
        assert magic == STRUCTURED_REPLY_MAGIC, "bad reply magic %#x" % magic
        _, rtype, rcookie, rlen = struct.unpack(">HHQI", recv_exact(s, 16))
        data = recv_exact(s, rlen)
        error = struct.unpack(">I", data[:4])[0] if rtype & 0x8000 else 0
    assert rcookie == cookie, "reply for cookie %d" % rcookie
    return error


def wait_closed(cid):
    """Until the log says the server has closed connection cid."""
    pat = re.compile(r"\[%d\]: debug: %s: close$" % (cid, re.escape(plugin)),
                     re.M)
    end = time.monotonic() + TIMEOUT
    while True:
        with open(log_path) as f:
            if pat.search(f.read()):
                return
        if time.monotonic() > end:
            raise RuntimeError("server never closed connection %d" % cid)
        time.sleep(0.01)


def leave_unread_reply(s):
    """A READ whose reply arrives but is never read (see the top)."""
    s.sendall(request(CMD_READ, 2, 0, 512))
    r, _, _ = select.select([s], [], [], TIMEOUT)
    assert r, "no READ reply"


def end(s, how):
    if how == "reset" and is_tcp:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                     struct.pack("ii", 1, 0))
    elif how == "close" and certdir:
        try:
            s = s.unwrap()  # close_notify, then the FIN below
        except (OSError, ValueError):
            pass
    s.close()


def check(name, offset, want):
    """Read [offset - MARGIN, offset + len + MARGIN): it must be want."""
    h = libnbd_handle()
    got = h.pread(len(want), offset - MARGIN)
    h.shutdown()
    if got == want:
        print("ok: " + name)
        return
    i = next(i for i in range(len(want)) if got[i] != want[i])
    msg = ("%s: byte %d (export offset %d) is %#04x, expected %#04x" %
           (name, i - MARGIN, offset - MARGIN + i, got[i], want[i]))
    print("FAIL: " + msg)
    failures.append(name)


def run_case(offset, length, sent, how, structured):
    name = "%d-byte WRITE at %d, %d bytes sent, %s, %s replies" % (
        length, offset, sent, how, "structured" if structured else "simple")
    old = rng.randbytes(length + 2 * MARGIN)
    h = libnbd_handle()
    h.pwrite(old, offset - MARGIN)
    h.shutdown()
    payload = bytes(b ^ 0xFF for b in old[MARGIN:MARGIN + length])
    s, size = raw_connect(structured)
    assert offset + length + MARGIN <= size, "case outside the export"
    cid = conn_id
    if how == "reset" and not is_tcp:
        leave_unread_reply(s)
    s.sendall(request(CMD_WRITE, 1, offset, length) + payload[:sent])
    if sent == length:
        error = write_reply(s, 1)
        if error:
            print("FAIL: %s: WRITE failed, error %d" % (name, error))
            failures.append(name)
        old = old[:MARGIN] + payload + old[MARGIN + length:]
    end(s, how)
    wait_closed(cid)
    check(name, offset, old)


regions = [((1 << 20) + 12345, 64 << 10), (4 << 20, 1 << 20)]
i = 0
for offset, length in regions:
    for sent in (0, 1, 511, 512, length // 2, length - 1):
        for how in ("close", "reset"):
            run_case(offset, length, sent, how, i % 2 == 1)
            i += 1
    run_case(offset, length, length, "close", i % 2 == 1)  # the control
    i += 1
if failures:
    print("%d of %d cases failed" % (len(failures), i), file=sys.stderr)
    sys.exit(1)
