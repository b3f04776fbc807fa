# SPDX-License-Identifier: BSD-3-Clause
# python-bytearray.py: the disk of the bench's python backend, a RAM disk
# in a bytearray, served by nbdx's python plugin and by nbdkit's with
# this same script: nbdx python python-bytearray.py size=SIZE.
API_VERSION = 2
import nbdkit

disk = bytearray(0)


def config(key, value):
    global disk
    if key != "size":
        raise RuntimeError("unknown parameter " + key)
    disk = bytearray(nbdkit.parse_size(value))


def thread_model():
    return nbdkit.THREAD_MODEL_PARALLEL


def open(readonly):
    return 1


def get_size(h):
    return len(disk)


def pread(h, buf, offset, flags):
    buf[:] = memoryview(disk)[offset:offset + len(buf)]


def pwrite(h, buf, offset, flags):
    disk[offset:offset + len(buf)] = buf
