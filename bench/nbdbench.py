#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""nbdbench.py: nbdx against the other NBD servers, workload by workload.

Every pass starts a fresh export on each server for each backend and
transport, then runs each workload on every server in turn (the order of
servers rotates from pass to pass), so drift of a shared machine spreads
over all of them.  The result is the median over passes, and a table of
nbdx's ratio to the best other server with the target from the
performance issue.  nbdx also runs with each of a few filters, as
servers of their own ("nbdx+offset", ...), and a second table gives
their ratio to nbdx without a filter: the median of the ratios taken
within each pass, so that the machine's drift between passes cancels
out.  When nbdkit runs, both servers also run the filter stacks users
compose ("nbdx+cow" against "nbdkit+cow", ...), each over its own
backend, in a third table.  Run through bench/run.sh, which builds nbdx
first.
"""

import argparse
import json
import os
import resource
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time

# name: (fio rw, block size, iodepth)
FIO_WORKLOADS = {
    "rr4k1": ("randread", "4k", 1),
    "rr4k32": ("randread", "4k", 32),
    "rw4k1": ("randwrite", "4k", 1),
    "rw4k32": ("randwrite", "4k", 32),
    "sr1m8": ("read", "1M", 8),
    "sw1m8": ("write", "1M", 8),
}
ALL_WORKLOADS = ["copyin"] + list(FIO_WORKLOADS) + ["conn"]
# Minimum ratio nbdx / best peer.  conn is against qemu-nbd only.
TARGETS = {
    "copyin": 3.0, "rr4k1": 1.5, "rr4k32": 1.5, "rw4k1": 1.5,
    "rw4k32": 1.3, "sr1m8": 1.6, "sw1m8": 1.5, "conn": 1.3,
}
# Server CPU ceilings for nbdx: microseconds per 4 KiB op at QD32, and
# CPU seconds per GB for 1 MiB sequential reads.
CPU_US_PER_OP = {"rr4k32": 4.0, "rw4k32": 4.0}
CPU_S_PER_GB = {"sr1m8": 0.1}
HZ = os.sysconf("SC_CLK_TCK")
# Filters run on nbdx, each with parameters that leave the export as it
# is without them, so a row with a filter differs from nbdx's own row by
# the filter's cost alone: offset skips a head the backend has on top of
# the export, log writes every request to a file.  Only over the memory
# and file backends, the ones the filter target is set on.  The target
# is a minimum ratio to nbdx without the filter.
FILTERS = ("offset", "log")
FILTER_BACKENDS = ("mem", "file")
FILTER_TARGET = 0.95
OFFSET_HEAD = 1 << 20
# VMDK disks, read-only, served by nbdx's vmdk plugin and by qemu-nbd -f
# vmdk (nbdkit and nbd-server have no VMDK reader): backend name ->
# qemu-img subformat.  Made once per run from the same raw image, whose
# 4 KiB blocks are half random, half zeros, so that streamOptimized's
# grains compress as real data does.  Only the read workloads run.
VMDK_BACKENDS = {"vmdk": "monolithicSparse", "vmdk-stream": "streamOptimized"}
READ_WORKLOADS = ("sr1m8", "rr4k1", "rr4k32")
VMDK_WORKLOADS = READ_WORKLOADS
VMDK_TARGET = 1.5
# Filter stacks run on nbdx and on nbdkit alike (when nbdkit runs), as
# servers "nbdx+NAME" and "nbdkit+NAME", each over one backend: cow over
# memory, cache over a file, partition 1 of a file whose MBR puts it
# after a 1 MiB head, and xz reads of a file made by xz --block-size=1MiB
# (backend "xz", read workloads only, its disk at most XZ_MAX_SIZE, half
# random and half zeros in every 4 KiB).  The target is a minimum ratio
# of nbdx to nbdkit with the same stack.
STACKS = {"cow": "mem", "cache": "file", "partition": "file", "xz": "xz"}
STACK_PARAMS = {"cow": [], "cache": [], "partition": ["partition=1"],
                "xz": []}
STACK_TARGET = 1.3
PART_HEAD = 1 << 20
XZ_MAX_SIZE = 256 << 20
# The python backend: nbdx's python plugin and nbdkit's, each running
# the same script, bench/python-bytearray.py, a RAM disk in a bytearray
# of at most PYTHON_MAX_SIZE (each server holds one).  1 MiB sequential
# reads only; the target is a minimum ratio of nbdx to nbdkit.
PYTHON_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                             "python-bytearray.py")
PYTHON_MAX_SIZE = 256 << 20
PYTHON_WORKLOADS = ("sr1m8",)
PYTHON_TARGET = 1.3


def log(msg):
    print(time.strftime("[%H:%M:%S] ") + msg, file=sys.stderr, flush=True)


# ---- processes and CPU time ----

def proc_children():
    """Map of pid -> list of child pids, from /proc."""
    kids = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        kids.setdefault(int(fields[1]), []).append(int(d))
    return kids


def cpu_ticks(pid):
    """utime+stime of pid and its live descendants, plus reaped children."""
    kids = proc_children()
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(x) for x in fields[11:15])
        todo.extend(kids.get(p, []))
    return total


def rss_bytes(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def kill_tree(pid):
    """SIGTERM pid and its descendants, then SIGKILL what is left."""
    kids = proc_children()
    pids, todo = [], [pid]
    while todo:
        p = todo.pop()
        pids.append(p)
        todo.extend(kids.get(p, []))
    for p in pids:
        try:
            os.kill(p, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.time() + 3
    for p in pids:
        while time.time() < deadline:
            try:
                os.kill(p, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        else:
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---- servers ----

def activate_child(lfd):
    """In the child, before exec: lfd becomes the socket-activated fd 3."""
    if lfd == 3:
        os.set_inheritable(3, True)
    else:
        os.dup2(lfd, 3)  # the copy is inheritable
    os.environ["LISTEN_PID"] = str(os.getpid())
    os.environ["LISTEN_FDS"] = "1"


class Server:
    """One running server with one export.

    Over TCP, nbdx, nbdkit and qemu-nbd get their listening socket from
    the bench by socket activation (LISTEN_PID, LISTEN_FDS), with
    TCP_NODELAY set on it, which Linux passes on to accepted sockets, so
    each runs as a systemd socket unit with NoDelay=yes would run it.
    qemu-nbd 7.2 never sets TCP_NODELAY itself: listening by itself it
    sends an option reply's header and payload in two writes, and Nagle
    holds the second until the client's delayed ACK, 40 ms per handshake.
    nbdx and nbdkit set it themselves too.  nbd-server cannot be socket
    activated and listens by itself (its handshake stalls the same way).
    """

    def __init__(self, name, backend, transport, args, work):
        self.name, self.backend, self.transport = name, backend, transport
        self.args, self.work = args, work
        self.filter = args.filtered.get(name)
        self.stack = args.stacks.get(name)  # (server, filter) or None
        # The backend holds the export, and the head offset= or the
        # partition table skips.
        self.size = args.size + (OFFSET_HEAD if self.filter == "offset"
                                 else 0)
        if self.stack and self.stack[1] == "partition":
            self.size = args.size + PART_HEAD
        if backend == "python":
            self.size = min(args.size, PYTHON_MAX_SIZE)
        self.pid = None
        self.popen = None
        tag = f"{name}-{backend}-{transport}"
        self.sock = os.path.join(work, tag + ".sock")
        self.activated = transport == "tcp" and name != "nbd-server"
        self.port = None
        if transport == "tcp" and not self.activated:
            self.port = free_port()
        self.logfile = os.path.join(args.out, "logs", tag + ".log")
        self.file = None
        self.vmdk = args.vmdks.get(backend)
        if backend == "mem":
            self.file = os.path.join(args.shm, tag + ".img")
        elif backend == "file":
            self.file = os.path.join(args.diskdir, tag + ".img")
        # On tmpfs: on disk, the log's writeback would go on while the
        # next rows of the file backend run.
        self.reqlog = None
        if self.filter == "log":
            self.reqlog = os.path.join(args.shm, tag + ".requests.log")

    @property
    def uri(self):
        exp = "bench" if self.name == "nbd-server" else ""
        if self.transport == "unix":
            return f"nbd+unix:///{exp}?socket={self.sock}"
        return f"nbd://127.0.0.1:{self.port}/{exp}"

    def _listen(self, unix_flag, host_flag, port_flag):
        if self.transport == "unix":
            return [unix_flag, self.sock]
        if self.activated:
            return []
        return [host_flag, "127.0.0.1", port_flag, str(self.port)]

    def _tcp_listener(self):
        """The listening socket handed to an activated server."""
        lsock = socket.socket()
        lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        lsock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        lsock.bind(("127.0.0.1", 0))
        lsock.listen(socket.SOMAXCONN)
        self.port = lsock.getsockname()[1]
        return lsock

    def _make_file(self):
        if self.file is None:
            return
        size = self.size
        with open(self.file, "wb") as f:
            allocated = False
            if self.backend == "file":
                try:
                    os.posix_fallocate(f.fileno(), 0, size)
                    allocated = True
                except OSError:
                    pass
            if not allocated:
                f.truncate(size)
        if self.stack and self.stack[1] == "partition":
            write_mbr(self.file, PART_HEAD // 512, self.args.size // 512)

    def filter_args(self):
        """--filter= and the filter's parameters, by full path as for
        the plugin: the filter of this build, not an installed one."""
        if not self.filter:
            return [], []
        so = os.path.join(self.args.build, "filters", self.filter,
                          f"nbdkit-{self.filter}-filter.so")
        params = {"offset": ["offset=%d" % OFFSET_HEAD],
                  "log": ["logfile=" + str(self.reqlog)]}[self.filter]
        return ["--filter=" + so], params

    def vmdk_command(self):
        a = self.args
        if self.filter:
            return None
        if self.name == "nbdx" or self.name in a.variants:
            build = a.variants.get(self.name, a.build)
            return ([os.path.join(build, "server", "nbdx"), "-f", "-r"] +
                    self._listen("-U", "-i", "-p") +
                    [os.path.join(build, "plugins", "vmdk",
                                  "nbdkit-vmdk-plugin.so"),
                     "file=" + self.vmdk])
        if self.name == "qemu-nbd":
            return (["qemu-nbd", "-t", "-r", "-e", "16"] +
                    self._listen("-k", "-b", "-p") +
                    ["-f", "vmdk", "--cache=writeback", "--aio=threads",
                     self.vmdk])
        return None

    def python_command(self):
        """nbdx's python plugin or nbdkit's, running PYTHON_SCRIPT."""
        a = self.args
        params = [PYTHON_SCRIPT, "size=%d" % self.size]
        listen = self._listen("-U", "-i", "-p")
        if self.filter:
            return None
        if self.name == "nbdx" or self.name in a.variants:
            build = a.variants.get(self.name, a.build)
            so = os.path.join(build, "plugins", "python",
                              "nbdkit-python-plugin.so")
            if not os.path.exists(so):
                return None
            return ([os.path.join(build, "server", "nbdx"), "-f"] + listen +
                    [so] + params)
        if self.name == "nbdkit" and nbdkit_has_python():
            return ["nbdkit", "-f"] + listen + ["python"] + params
        return None

    def stack_command(self):
        """nbdx or nbdkit with the stack's filter over its backend."""
        kind, flt = self.stack
        if self.backend != STACKS[flt]:
            return None
        plugin, pargs = {
            "mem": ("memory", ["size=%d" % self.size]),
            "file": ("file", ["file=" + str(self.file)]),
            "xz": ("file", ["file=" + str(self.args.xzfile)]),
        }[self.backend]
        listen = self._listen("-U", "-i", "-p")
        if kind == "nbdkit":
            return (["nbdkit", "-f", "--filter=" + flt] + listen +
                    [plugin] + pargs + STACK_PARAMS[flt])
        build = self.args.build
        so = os.path.join(build, "filters", flt, f"nbdkit-{flt}-filter.so")
        plug = os.path.join(build, "plugins", plugin,
                            f"nbdkit-{plugin}-plugin.so")
        return ([os.path.join(build, "server", "nbdx"), "-f",
                 "--filter=" + so] + listen + [plug] + pargs +
                STACK_PARAMS[flt])

    def command(self):
        a, size = self.args, str(self.size)
        if self.stack:
            return self.stack_command()
        if self.backend == "xz":
            return None
        if self.backend == "python":
            return self.python_command()
        if self.vmdk:
            return self.vmdk_command()
        if self.name == "nbdx" or self.name in a.variants or self.filter:
            if self.filter and self.backend not in FILTER_BACKENDS:
                return None
            build = a.variants.get(self.name, a.build)
            plug = lambda p: os.path.join(build, "plugins", p,
                                          f"nbdkit-{p}-plugin.so")
            flt, params = self.filter_args()
            cmd = [os.path.join(build, "server", "nbdx"), "-f"] + flt
            cmd += self._listen("-U", "-i", "-p")
            return cmd + {
                "mem": [plug("memory"), "size=" + size],
                "file": [plug("file"), "file=" + str(self.file)],
                "null": [plug("null"), "size=" + size],
            }[self.backend] + params
        if self.name == "nbdkit":
            cmd = ["nbdkit", "-f"] + self._listen("-U", "-i", "-p")
            return cmd + {
                "mem": ["memory", "size=" + size],
                "file": ["file", "file=" + str(self.file)],
                "null": ["null", "size=" + size],
            }[self.backend]
        if self.name == "qemu-nbd":
            cmd = ["qemu-nbd", "-t", "-e", "16"]
            cmd += self._listen("-k", "-b", "-p")
            if self.backend == "null":
                return cmd + ["--image-opts", "driver=null-co,size=%s,"
                              "read-zeroes=on" % size]
            return cmd + ["-f", "raw", "--cache=writeback", "--aio=threads",
                          str(self.file)]
        if self.name == "nbd-server":
            if self.backend == "null":
                return None
            conf = os.path.join(self.work, f"nbd-server-{self.backend}-"
                                f"{self.transport}.conf")
            with open(conf, "w") as f:
                f.write("[generic]\n")
                if self.transport == "unix":
                    f.write(f"unixsock = {self.sock}\n")
                else:
                    f.write(f"listenaddr = 127.0.0.1\nport = {self.port}\n")
                f.write(f"[bench]\nexportname = {self.file}\n")
            # -d would serve one client only: let it daemonize instead.
            self.pidfile = conf + ".pid"
            return ["nbd-server", "-C", conf, "-p", self.pidfile]
        raise ValueError(self.name)

    def start(self):
        cmd = self.command()
        if cmd is None:
            return False
        self._make_file()
        if os.path.exists(self.sock):
            os.unlink(self.sock)
        lsock = self._tcp_listener() if self.activated else None
        extra = {}
        if lsock:
            # close_fds would close fd 3 after preexec_fn made it; every
            # fd Python opens is close-on-exec anyway.
            extra = {"close_fds": False,
                     "preexec_fn": lambda: activate_child(lsock.fileno())}
        with open(self.logfile, "ab") as logf:
            self.popen = subprocess.Popen(cmd, stdout=logf, stderr=logf,
                                          stdin=subprocess.DEVNULL, **extra)
        if lsock:
            lsock.close()
        self.pid = self.popen.pid
        deadline = time.time() + 15
        if self.name == "nbd-server":
            self.popen.wait()
            while not os.path.exists(self.pidfile) and time.time() < deadline:
                time.sleep(0.05)
            with open(self.pidfile) as f:
                self.pid = int(f.read())
            self.popen = None
        while time.time() < deadline:
            if self.popen and self.popen.poll() is not None:
                raise RuntimeError(f"{self.name} exited: see {self.logfile}")
            if self.transport == "tcp" or os.path.exists(self.sock):
                r = subprocess.run(["nbdinfo", "--size", self.uri],
                                   capture_output=True)
                if r.returncode == 0:
                    return True
            time.sleep(0.05)
        raise RuntimeError(f"{self.name} did not come up")

    def stop(self):
        if self.pid:
            kill_tree(self.pid)
            if self.popen:
                self.popen.wait()
            self.pid = None
        for path in (self.file, self.reqlog):
            if path and os.path.exists(path):
                os.unlink(path)


def write_mbr(path, start, sectors):
    """An MBR with one Linux partition of sectors 512-byte sectors from
    sector start."""
    entry = struct.pack("<B3sB3sII", 0, b"\0\0\0", 0x83, b"\0\0\0",
                        start, sectors)
    with open(path, "r+b") as f:
        f.seek(446)
        f.write(entry)
        f.seek(510)
        f.write(b"\x55\xaa")


_nbdkit_python = None


def nbdkit_has_python():
    """Whether the installed nbdkit has its python plugin."""
    global _nbdkit_python
    if _nbdkit_python is None:
        _nbdkit_python = subprocess.run(
            ["nbdkit", "python", "--dump-plugin"],
            capture_output=True).returncode == 0
    return _nbdkit_python


def installed_servers(wanted, ours):
    """wanted, less the peers not installed; ours (nbdx's variants and
    filter stacks) are always there."""
    have = {"nbdx": True, **{v: True for v in ours},
            "nbdkit": shutil.which("nbdkit"),
            "qemu-nbd": shutil.which("qemu-nbd"),
            "nbd-server": shutil.which("nbd-server")}
    return [s for s in wanted if have.get(s)]


# ---- workloads ----

def fio(args, srv, wl, runtime):
    """One fio job of runtime seconds, without a ramp: fio's figures
    count every I/O of the run.  The runtime goes in milliseconds: fio
    reads a bare "0.5" as 0 seconds."""
    rw, bs, qd = FIO_WORKLOADS[wl]
    out = os.path.join(args.out, "fio", f"{srv.name}-{srv.backend}-"
                       f"{srv.transport}-{wl}-{time.time_ns()}.json")
    cmd = ["fio", "--name=" + wl, "--ioengine=nbd", "--uri=" + srv.uri,
           "--rw=" + rw, "--bs=" + bs, "--iodepth=%d" % qd, "--numjobs=1",
           "--time_based", "--runtime=%dms" % round(runtime * 1000),
           "--output-format=json", "--output=" + out]
    subprocess.run(cmd, check=True, capture_output=True, timeout=runtime + 60)
    with open(out) as f:
        job = json.load(f)["jobs"][0]
    return job["read"] if rw.endswith("read") else job["write"]


def warm_fio(args, srv, wl):
    if args.ramp > 0:
        fio(args, srv, wl, args.ramp)


def run_fio(args, srv, wl):
    side = fio(args, srv, wl, args.runtime)
    return {"iops": side["iops"], "MBps": side["bw_bytes"] / 1e6,
            "ops": side["total_ios"], "bytes": side["io_bytes"]}


def run_copyin(args, srv, wl):
    t0 = time.time()
    subprocess.run(["nbdcopy", args.src, srv.uri], check=True,
                   capture_output=True, timeout=300)
    wall = time.time() - t0
    return {"MBps": args.size / wall / 1e6, "ops": 1, "bytes": args.size}


def run_conn(args, srv, wl):
    """Connect, handshake and disconnect in a loop for --runtime seconds
    (a short burst measures the machine's hiccups more than the server),
    and on to --conn-n connections unless a slow server takes 4 times as
    long."""
    import nbd
    n, wall = 0, 0
    t0 = time.time()
    while wall < args.runtime or (n < args.conn_n and
                                  wall < 4 * args.runtime):
        for _ in range(100):
            h = nbd.NBD()
            h.connect_uri(srv.uri)
            h.shutdown()
            del h
        n += 100
        wall = time.time() - t0
    return {"conn_s": n / wall, "ops": n}


RUNNERS = {"copyin": run_copyin, "conn": run_conn}
RUNNERS.update({w: run_fio for w in FIO_WORKLOADS})
# Run before the measurement, unmeasured.
WARMERS = {w: warm_fio for w in FIO_WORKLOADS}


def measure(args, srv, wl):
    """Run workload wl on srv; the server's CPU time covers exactly the
    work that the figures count.

    fio's --ramp_time would leave the ramp out of fio's figures but not
    out of a CPU sample taken around the fio process, and from outside
    the bench cannot tell when fio's ramp ends (fio starts, connects, and
    only then starts its clock).  So the ramp is a separate fio run
    before the sample (the same job, --ramp seconds: the server's caches
    and the export's pages warm up as before), and the measured run has
    no ramp: its total I/O count is every request the server answered
    while its CPU was sampled, but for one handshake.
    """
    if wl in WARMERS:
        WARMERS[wl](args, srv, wl)
        time.sleep(0.2)  # let the warm-up connection end
    c0 = cpu_ticks(srv.pid)
    res = RUNNERS[wl](args, srv, wl)
    time.sleep(0.2)  # let forking servers reap their children
    cpu = (cpu_ticks(srv.pid) - c0) / HZ
    res["cpu_s"] = cpu
    if res.get("ops"):
        res["cpu_us_op"] = cpu / res["ops"] * 1e6
    if res.get("bytes"):
        res["cpu_s_GB"] = cpu / (res["bytes"] / 1e9)
    return res


def memory_checks(args, results):
    """nbdx only: RAM held per GiB written, and 1000 idle connections."""
    import nbd
    srv = Server("nbdx", "mem", "unix", args, args.work)
    srv.start()
    try:
        before = rss_bytes(srv.pid)
        subprocess.run(["nbdcopy", args.src, srv.uri], check=True,
                       capture_output=True, timeout=300)
        grown = rss_bytes(srv.pid) - before
        results["mem_overhead_pct"] = (grown - args.size) / args.size * 100
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = args.idle_n + 64
        if soft < want:
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))
        before = rss_bytes(srv.pid)
        handles = []
        for _ in range(args.idle_n):
            h = nbd.NBD()
            h.connect_uri(srv.uri)
            handles.append(h)
        time.sleep(0.5)
        results["idle_MiB"] = (rss_bytes(srv.pid) - before) / 2**20
        for h in handles:
            h.shutdown()
        del handles
    finally:
        srv.stop()


def copyin_ceiling(args, results):
    """nbdcopy into nbdx's null plugin, which stores nothing: how fast
    nbdcopy itself can go here, the ceiling of every copyin row.  The
    median of 3 runs, and nbdcopy's own CPU time per GB."""
    srv = Server("nbdx", "null", "unix", args, args.work)
    srv.start()
    runs = []
    try:
        for _ in range(3):
            c0 = resource.getrusage(resource.RUSAGE_CHILDREN)
            r = run_copyin(args, srv, "copyin")
            c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = (c1.ru_utime - c0.ru_utime) + (c1.ru_stime - c0.ru_stime)
            runs.append((r["MBps"], cpu / (args.size / 1e9)))
    finally:
        srv.stop()
    runs.sort()
    results["copyin_ceiling_MBps"], results["nbdcopy_cpu_s_GB"] = runs[1]


# ---- tables ----

def is_peer(args, name):
    """Another NBD server, not a build of nbdx nor nbdx with a filter."""
    return (name != "nbdx" and name not in args.variants
            and name not in args.filtered and name not in args.stacks)


def cpu_figure(wl, med):
    """The server CPU of a row in the unit of its main figure."""
    if main_figure(wl) == "MBps":
        return f"{fmt(med.get('cpu_s_GB'), 2)} s/GB"
    return f"{fmt(med.get('cpu_us_op'), 1)} us/op"


def main_figure(wl):
    return {"copyin": "MBps", "conn": "conn_s", "sr1m8": "MBps",
            "sw1m8": "MBps"}.get(wl, "iops")


def medians(rows):
    """(backend, transport, workload, server) -> median of each field."""
    groups = {}
    for r in rows:
        key = (r["backend"], r["transport"], r["workload"], r["server"])
        groups.setdefault(key, []).append(r)
    out = {}
    for key, rs in groups.items():
        fields = set().union(*(r.keys() for r in rs))
        med = {}
        for f in fields:
            vals = [r[f] for r in rs if isinstance(r.get(f), (int, float))]
            if vals:
                med[f] = statistics.median(vals)
        fig = [r[main_figure(key[2])] for r in rs]
        med["spread"] = ((max(fig) - min(fig)) / med[main_figure(key[2])]
                         if med[main_figure(key[2])] else 0)
        med["n"] = len(rs)
        out[key] = med
    return out


def fmt(x, nd=0):
    return "-" if x is None else f"{x:,.{nd}f}"


def cpu_verdict(wl, med):
    if wl in CPU_US_PER_OP and "cpu_us_op" in med:
        lim = CPU_US_PER_OP[wl]
        return f"{med['cpu_us_op']:.1f} us/op (<= {lim:g})", \
            med["cpu_us_op"] <= lim
    if wl in CPU_S_PER_GB and "cpu_s_GB" in med:
        lim = CPU_S_PER_GB[wl]
        return f"{med['cpu_s_GB']:.2f} s/GB (<= {lim:g})", \
            med["cpu_s_GB"] <= lim
    return "", True


def print_copyin_ceiling(args, med, extra):
    """The ceiling against the fastest peer copyin of any backend and
    transport: the least a 3x target would need."""
    ceiling = extra["copyin_ceiling_MBps"]
    peers = [(m["MBps"], f"{sv} {b}/{t}")
             for (b, t, w, sv), m in med.items()
             if w == "copyin" and is_peer(args, sv) and "MBps" in m]
    print(f"\ncopyin ceiling: nbdcopy into nbdx's null plugin (which stores "
          f"nothing) ran at {ceiling:,.0f} MB/s, using "
          f"{extra['nbdcopy_cpu_s_GB']:.2f} CPU-s per GB of its own", end="")
    if peers:
        top, name = max(peers)
        print(f"; that is {ceiling / top:.2f}x the fastest peer copyin "
              f"({name}, {top:,.0f} MB/s)", end="")
    print(".")


def paired_ratio(rows, combo, name, fig):
    """The median over passes of (nbdx with filter NAME) / (nbdx without)
    for one backend, transport and workload, each ratio taken within one
    pass, where both ran one after the other: drift of the machine
    between passes then cancels out of the ratio."""
    by_pass = {}
    for r in rows:
        if (r["backend"], r["transport"], r["workload"]) != combo:
            continue
        if r["server"] in (name, "nbdx") and r.get(fig):
            by_pass.setdefault(r["ps"], {})[r["server"]] = r[fig]
    ratios = [v[name] / v["nbdx"] for v in by_pass.values()
              if name in v and "nbdx" in v]
    return statistics.median(ratios) if ratios else None


def print_filter_table(args, med, combos, rows):
    """Each row of nbdx with a filter against the same row of nbdx
    without one, as the median of the ratios within each pass; returns
    the rows below target."""
    pairs = [(combo, name) for combo in combos for name in args.filtered
             if combo + (name,) in med]
    if not pairs:
        return 0
    print("\n## nbdx with a filter against nbdx without\n")
    print("| backend | transport | workload | unit | filter | nbdx | "
          "with filter | ratio | target | server CPU | verdict |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    failures = 0
    for combo, name in pairs:
        flt, plain = med[combo + (name,)], med.get(combo + ("nbdx",))
        fig = main_figure(combo[2])
        head = (f"| {combo[0]} | {combo[1]} | {combo[2]} | {fig} | "
                f"{args.filtered[name]} | ")
        if not plain or not plain.get(fig) or fig not in flt:
            print(head + f"- | {fmt(flt.get(fig))} | - | - | - | - |")
            continue
        ratio = paired_ratio(rows, combo, name, fig)
        if ratio is None:
            ratio = flt[fig] / plain[fig]
        ok = ratio >= FILTER_TARGET
        failures += not ok
        print(head + f"{fmt(plain[fig])} | {fmt(flt[fig])} | "
              f"{ratio:.2f}x | >= {FILTER_TARGET:g}x | "
              f"{cpu_figure(combo[2], plain)} -> "
              f"{cpu_figure(combo[2], flt)} | "
              f"{'PASS' if ok else 'FAIL'} |")
    return failures


def print_stack_table(args, med, combos):
    """nbdx against nbdkit, each with the same filter stack, row by row;
    returns the rows below target."""
    names = sorted({f for _, f in args.stacks.values()})
    pairs = [(combo, f) for combo in combos for f in names
             if combo + ("nbdx+" + f,) in med]
    if not pairs:
        return 0
    print("\n## nbdx against nbdkit, each with the same filter\n")
    print("| backend | transport | workload | unit | filter | nbdx | "
          "nbdkit | ratio | target | verdict |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    failures = 0
    for combo, f in pairs:
        ours, peer = med[combo + ("nbdx+" + f,)], \
            med.get(combo + ("nbdkit+" + f,))
        fig = main_figure(combo[2])
        head = f"| {combo[0]} | {combo[1]} | {combo[2]} | {fig} | {f} | "
        if not peer or not peer.get(fig) or fig not in ours:
            print(head + f"{fmt(ours.get(fig))} | - | - | - | - |")
            continue
        ratio = ours[fig] / peer[fig]
        ok = ratio >= STACK_TARGET
        failures += not ok
        print(head + f"{fmt(ours[fig])} | {fmt(peer[fig])} | {ratio:.2f}x "
              f"| >= {STACK_TARGET:g}x | {'PASS' if ok else 'FAIL'} |")
    return failures


def print_tables(args, rows, extra):
    med = medians(rows)
    combos = sorted({k[:3] for k in med},
                    key=lambda k: (k[0], k[1], ALL_WORKLOADS.index(k[2])))
    servers = sorted({k[3] for k in med})
    print("\n## All servers (median over %d pass(es); main figure, "
          "server CPU us/op, spread%%)\n" % args.passes)
    print("| backend | transport | workload | " +
          " | ".join(servers) + " |")
    print("|---|---|---|" + "---|" * len(servers))
    for combo in combos:
        cells = []
        for s in servers:
            m = med.get(combo + (s,))
            if m is None:
                cells.append("-")
                continue
            fig = main_figure(combo[2])
            cells.append("%s (%s us, %d%%)" % (
                fmt(m.get(fig)), fmt(m.get("cpu_us_op"), 1),
                round(m["spread"] * 100)))
        print(f"| {combo[0]} | {combo[1]} | {combo[2]} | " +
              " | ".join(cells) + " |")

    print("\n## nbdx against the best peer\n")
    print("| backend | transport | workload | unit | nbdx | best peer | "
          "ratio | target | server CPU | verdict |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    failures = 0
    for combo in combos:
        ours = med.get(combo + ("nbdx",))
        if ours is None:
            continue
        fig = main_figure(combo[2])
        peers = {s: m for (b, t, w, s), m in med.items()
                 if (b, t, w) == combo and is_peer(args, s) and fig in m}
        if combo[2] == "conn" and "qemu-nbd" in peers:
            peers = {"qemu-nbd": peers["qemu-nbd"]}
        # The CPU ceilings are set for the mem and file backends.
        cpu_text, cpu_ok = (("", True)
                            if combo[0] in VMDK_BACKENDS or
                            combo[0] == "python"
                            else cpu_verdict(combo[2], ours))
        if not peers or fig not in ours:
            print(f"| {combo[0]} | {combo[1]} | {combo[2]} | {fig} | "
                  f"{fmt(ours.get(fig))} | - | - | - | {cpu_text} | - |")
            continue
        best = max(peers, key=lambda s: peers[s][fig])
        ratio = ours[fig] / peers[best][fig] if peers[best][fig] else 0
        target = (VMDK_TARGET if combo[0] in VMDK_BACKENDS
                  else PYTHON_TARGET if combo[0] == "python"
                  else TARGETS[combo[2]])
        ok = ratio >= target and cpu_ok
        failures += not ok
        print(f"| {combo[0]} | {combo[1]} | {combo[2]} | {fig} | "
              f"{fmt(ours[fig])} | {best} {fmt(peers[best][fig])} | "
              f"{ratio:.2f}x | >= {target:g}x | {cpu_text} | "
              f"{'PASS' if ok else 'FAIL'} |")
    if "mem_overhead_pct" in extra:
        ok = extra["mem_overhead_pct"] < 1.0
        failures += not ok
        print(f"| mem | unix | RAM per GiB written | % over data | "
              f"{extra['mem_overhead_pct']:.2f}% | - | - | < 1% | | "
              f"{'PASS' if ok else 'FAIL'} |")
    if "idle_MiB" in extra:
        ok = extra["idle_MiB"] < 100
        failures += not ok
        print(f"| mem | unix | {args.idle_n} idle connections | MiB | "
              f"{extra['idle_MiB']:.1f} | - | - | < 100 MiB | | "
              f"{'PASS' if ok else 'FAIL'} |")
    failures += print_filter_table(args, med, combos, rows)
    failures += print_stack_table(args, med, combos)
    print(f"\n{failures} row(s) below target.")
    if "copyin_ceiling_MBps" in extra:
        print_copyin_ceiling(args, med, extra)


# ---- main ----

def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--build", required=True, help="nbdx build directory")
    p.add_argument("--quick", action="store_true",
                   help="1 pass, 2 s per fio job, 256 MiB, mem and file, "
                   "unix only")
    p.add_argument("--passes", type=int, default=3)
    p.add_argument("--runtime", type=float, default=5)
    p.add_argument("--ramp", type=float, default=1,
                   help="seconds of the same fio job before each fio "
                   "measurement, not measured")
    p.add_argument("--size", type=int, default=1 << 30)
    p.add_argument("--servers", default="nbdx,nbdkit,qemu-nbd,nbd-server")
    p.add_argument("--filters", default=",".join(FILTERS),
                   help="also run nbdx with each of these filters, as "
                   "server nbdx+FILTER, over the mem and file backends "
                   "(\"\" for none; default %(default)s)")
    p.add_argument("--stacks", default=",".join(STACKS),
                   help="when nbdkit runs, also run nbdx and nbdkit with "
                   "each of these filters, as servers nbdx+FILTER and "
                   "nbdkit+FILTER, each over its own backend (\"\" for "
                   "none; default %(default)s)")
    p.add_argument("--backends",
                   default="mem,file,null,vmdk,vmdk-stream,xz,python",
                   help="mem, file, null, and the VMDK disks: vmdk "
                   "(monolithicSparse), vmdk-stream (streamOptimized), "
                   "read workloads only, against qemu-nbd; xz: an xz "
                   "file, for the xz stack only; python: the python "
                   "plugin running bench/python-bytearray.py, sr1m8 "
                   "only, against nbdkit's")
    p.add_argument("--transports", default="unix,tcp")
    p.add_argument("--workloads", default=",".join(ALL_WORKLOADS))
    p.add_argument("--conn-n", type=int, default=1000,
                   help="conn: at least this many connections, and at "
                   "least --runtime seconds")
    p.add_argument("--idle-n", type=int, default=1000)
    p.add_argument("--no-memory-checks", action="store_true")
    p.add_argument("--variant", action="append", default=[],
                   metavar="NAME=BUILDDIR",
                   help="also run another nbdx build, as server NAME "
                   "(add NAME to --servers)")
    p.add_argument("--out", help="results directory (default: a new one)")
    a = p.parse_args()
    a.variants = dict(v.split("=", 1) for v in a.variant)
    names = [f for f in a.filters.split(",") if f]
    for f in names:
        if f not in FILTERS:
            p.error(f"--filters: {f}: not one of {','.join(FILTERS)}")
    a.filtered = {"nbdx+" + f: f for f in names}
    stacks = [f for f in a.stacks.split(",") if f]
    for f in stacks:
        if f not in STACKS:
            p.error(f"--stacks: {f}: not one of {','.join(STACKS)}")
    a.stacks = {}
    if "nbdkit" in a.servers.split(",") and shutil.which("nbdkit"):
        a.stacks = {k + "+" + f: (k, f) for f in stacks
                    for k in ("nbdx", "nbdkit")}
    if a.quick:
        a.runtime, a.ramp, a.size = 2, 0.5, 256 << 20
        if "--passes" not in sys.argv:
            a.passes = 1
        a.conn_n = 300
        if a.backends == "mem,file,null,vmdk,vmdk-stream,xz,python":
            a.backends = "mem,file,xz,python"
        if a.transports == "unix,tcp":
            a.transports = "unix"
    return a


def make_vmdks(args):
    """The VMDK disks of the chosen backends, in args.diskdir."""
    args.vmdks = {}
    wanted = [b for b in args.backends.split(",") if b in VMDK_BACKENDS]
    if not wanted:
        return
    raw = os.path.join(args.diskdir, "vmdk-src.img")
    with open(raw, "wb") as f:
        for _ in range(args.size // (1 << 24)):
            chunk = bytearray(1 << 24)
            noise = os.urandom(1 << 23)
            for i in range(0, 1 << 24, 4096):
                chunk[i:i + 2048] = noise[i // 2:i // 2 + 2048]
            f.write(chunk)
    for be in wanted:
        out = os.path.join(args.diskdir, be + ".vmdk")
        log(f"making the {be} disk ({VMDK_BACKENDS[be]})")
        subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", "vmdk",
                        "-o", "subformat=" + VMDK_BACKENDS[be], raw, out],
                       check=True)
        args.vmdks[be] = out
    os.unlink(raw)


def make_xz(args):
    """The xz stack's disk, in args.diskdir, if it runs."""
    args.xzfile = None
    if "xz" not in args.backends.split(",") or not any(
            f == "xz" for _, f in args.stacks.values()):
        return
    size = min(args.size, XZ_MAX_SIZE)
    raw = os.path.join(args.diskdir, "xz-src.img")
    with open(raw, "wb") as f:
        for _ in range(max(size // (1 << 22), 1)):
            chunk = bytearray(1 << 22)
            noise = os.urandom(1 << 21)
            for i in range(0, 1 << 22, 4096):
                chunk[i:i + 2048] = noise[i // 2:i // 2 + 2048]
            f.write(chunk)
    log("making the xz disk")
    subprocess.run(["xz", "-0", "-T2", "--block-size=1MiB", raw], check=True)
    args.xzfile = raw + ".xz"


def skipped(be, wl):
    """Workloads that do not run on a backend: the VMDK and xz disks are
    read-only; the python backend measures 1 MiB reads alone."""
    return ((be in VMDK_BACKENDS and wl not in VMDK_WORKLOADS) or
            (be == "xz" and wl not in READ_WORKLOADS) or
            (be == "python" and wl not in PYTHON_WORKLOADS))


def main():
    args = parse_args()
    args.out = args.out or tempfile.mkdtemp(prefix="nbdbench-")
    os.makedirs(os.path.join(args.out, "logs"), exist_ok=True)
    os.makedirs(os.path.join(args.out, "fio"), exist_ok=True)
    args.work = tempfile.mkdtemp(prefix="nbdbench-work-")
    args.shm = tempfile.mkdtemp(prefix="nbdbench-", dir="/dev/shm")
    args.diskdir = tempfile.mkdtemp(prefix="nbdbench-", dir="/var/tmp")
    args.src = os.path.join(args.shm, "src.img")
    # The filter stacks are servers of their own, in the rotation with
    # the others so that they share the machine's drift with nbdx.
    wanted = dict.fromkeys(args.servers.split(",") + list(args.filtered) +
                           list(args.stacks))
    servers = installed_servers(list(wanted), {
        **args.variants, **args.filtered, **args.stacks})
    workloads = [w for w in args.workloads.split(",") if w]
    log(f"servers: {' '.join(servers)}; results in {args.out}")
    with open(args.src, "wb") as f:
        left = args.size
        while left:
            n = min(left, 1 << 24)
            f.write(os.urandom(n))
            left -= n
    make_vmdks(args)
    make_xz(args)
    rows, extra, running = [], {}, []
    try:
        for p in range(args.passes):
            order = servers[p % len(servers):] + servers[:p % len(servers)]
            for be in args.backends.split(","):
                for tr in args.transports.split(","):
                    running = []
                    for name in order:
                        s = Server(name, be, tr, args, args.work)
                        if s.start():
                            running.append(s)
                    for wl in workloads:
                        if skipped(be, wl):
                            continue
                        for s in running:
                            r = measure(args, s, wl)
                            r.update(server=s.name, backend=be, transport=tr,
                                     workload=wl, ps=p)
                            rows.append(r)
                            fig = main_figure(wl)
                            log(f"{s.name:11} {be:4} {tr:4} {wl:7} "
                                f"{fig}={r[fig]:,.0f} "
                                f"cpu={r.get('cpu_us_op', 0):.1f}us/op")
                        if be == "file" and wl == "copyin":
                            os.sync()
                    for s in running:
                        s.stop()
                    running = []
        if not args.no_memory_checks:
            memory_checks(args, extra)
        if "copyin" in workloads:
            copyin_ceiling(args, extra)
    finally:
        for s in running:
            s.stop()
        for d in (args.work, args.shm, args.diskdir):
            shutil.rmtree(d, ignore_errors=True)
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump({"rows": rows, "extra": extra}, f, indent=1)
    info = subprocess.run(["uname", "-r"], capture_output=True, text=True)
    print(f"# nbdx benchmark: {os.cpu_count()} CPUs, kernel "
          f"{info.stdout.strip()}, {args.passes} pass(es), "
          f"{args.runtime:g} s per fio job, export {args.size >> 20} MiB")
    print_tables(args, rows, extra)
    log(f"results: {args.out}")


if __name__ == "__main__":
    main()
