# SPDX-License-Identifier: BSD-3-Clause
# compare.py SERVER-ARGS...: run nbdx and nbdkit with the same arguments
# (filters by name, a plugin by the path of nbdkit's own .so, so that
# both servers load the very same plugin) and check that a client sees
# the same export: the flags the handshake advertises, and the results
# of a fixed script of requests (write, zero, fast zero, trim, cache,
# flush, FUA write, block status, read back).  Prints both and exits 1
# on any difference.  Needs NBDX and nbdkit in PATH.
import hashlib
import os
import subprocess
import sys
import tempfile
import time

import nbd

FLAGS = ["is_read_only", "can_flush", "can_fua", "can_trim", "can_zero",
         "can_fast_zero", "can_cache", "can_multi_conn"]


def start(cmd, sock):
    # Both servers write the pidfile only once the socket listens; the
    # socket file itself appears at bind, before that.
    pidfile = sock + ".pid"
    p = subprocess.Popen(cmd + ["-f", "-P", pidfile, "-U", sock] +
                         sys.argv[1:], stderr=subprocess.PIPE)
    for _ in range(600):
        if os.path.exists(pidfile) and os.path.getsize(pidfile) > 0:
            return p
        if p.poll() is not None:
            sys.exit("%s exited: %s" % (cmd[0], p.stderr.read().decode()))
        time.sleep(0.05)
    p.kill()
    sys.exit("%s did not start" % cmd[0])


def attempt(fn):
    try:
        fn()
        return "ok"
    except nbd.Error as e:
        return e.errno or str(e)


def probe(sock):
    h = nbd.NBD()
    h.add_meta_context("base:allocation")
    h.connect_unix(sock)
    r = {f: getattr(h, f)() for f in FLAGS}
    r["size"] = size = h.get_size()
    n = min(size, 1 << 20)
    if not r["is_read_only"]:
        r["write"] = attempt(lambda: h.pwrite(b"\x5a" * n, 0))
        if r["can_zero"]:
            r["zero"] = attempt(lambda: h.zero(n // 4, n // 4))
        if r["can_fast_zero"]:
            r["fast_zero"] = attempt(lambda: h.zero(
                4096, 0, nbd.CMD_FLAG_FAST_ZERO))
        if r["can_trim"]:
            r["trim"] = attempt(lambda: h.trim(n // 8, n // 2))
        if r["can_fua"]:
            r["fua_write"] = attempt(lambda: h.pwrite(
                b"\xa5" * 512, n - 512, nbd.CMD_FLAG_FUA))
    if r["can_cache"]:
        r["cache"] = attempt(lambda: h.cache(n, 0))
    if r["can_flush"]:
        r["flush"] = attempt(h.flush)
    ext = []
    if h.can_meta_context("base:allocation"):
        def cb(meta, off, entries, err):
            ext.extend(entries)
        r["block_status"] = attempt(lambda: h.block_status(n, 0, cb))
    # A server may describe past the range it was asked about; compare
    # only the range.
    clipped, at = [], 0
    for length, kind in zip(ext[0::2], ext[1::2]):
        if at >= n:
            break
        clipped += [min(length, n - at), kind]
        at += length
    r["extents"] = clipped
    r["data"] = hashlib.sha256(h.pread(n, 0)).hexdigest()[:16]
    h.shutdown()
    return r


def main():
    work = tempfile.mkdtemp()
    got = {}
    for name, cmd in (("nbdx", [os.environ["NBDX"]]), ("nbdkit", ["nbdkit"])):
        sock = os.path.join(work, name + ".sock")
        p = start(cmd, sock)
        try:
            got[name] = probe(sock)
        finally:
            p.terminate()
            p.wait()
    for name, r in got.items():
        print(name, r)
    diff = [k for k in got["nbdkit"] if got["nbdx"].get(k) != got["nbdkit"][k]]
    diff += [k for k in got["nbdx"] if k not in got["nbdkit"]]
    if diff:
        sys.exit("nbdx and nbdkit differ in: " + ", ".join(sorted(set(diff))))


main()
