#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""gen-corpus.py: write the seed corpora in corpus/NAME/.

Each seed is a short valid client transcript (or, for the framed
harnesses, its framed form) that reaches deep into the server: random
mutation rarely finds magic numbers on its own.  Run it again after
changing a harness's input layout; the files are committed.
"""
import io
import os
import lzma
import struct
import tarfile
import zlib
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

IHAVEOPT = 0x49484156454F5054
REQ = 0x25609513
EXT_REQ = 0x21E41C71
CFLAGS = struct.pack(">I", 3)

OPT_EXPORT_NAME, OPT_ABORT, OPT_LIST, OPT_STARTTLS = 1, 2, 3, 5
OPT_INFO, OPT_GO, OPT_SR, OPT_LIST_META, OPT_SET_META, OPT_EXT = 6, 7, 8, 9, 10, 11
READ, WRITE, DISC, FLUSH, TRIM, CACHE, ZERO, BLOCK_STATUS = range(8)
FUA, NO_HOLE, DF, REQ_ONE, FAST_ZERO, PAYLOAD_LEN = 1, 2, 4, 8, 16, 32


def opt(code, data=b""):
    return struct.pack(">QII", IHAVEOPT, code, len(data)) + data


def name_and_infos(name=b"", infos=()):
    return (struct.pack(">I", len(name)) + name + struct.pack(">H", len(infos))
            + b"".join(struct.pack(">H", i) for i in infos))


def meta(name=b"", queries=(b"base:allocation",)):
    return (struct.pack(">I", len(name)) + name + struct.pack(">I", len(queries))
            + b"".join(struct.pack(">I", len(q)) + q for q in queries))


def req(typ, offset=0, count=0, flags=0, cookie=1, ext=False):
    if ext:
        return struct.pack(">IHHQQQ", EXT_REQ, flags, typ, cookie, offset, count)
    return struct.pack(">IHHQQI", REQ, flags, typ, cookie, offset, count)


def go(name=b"", infos=()):
    return opt(OPT_GO, name_and_infos(name, infos))


def connection_seeds():
    data = bytes(range(256)) * 16
    s = {}
    s["abort"] = CFLAGS + opt(OPT_ABORT)
    s["export-name"] = CFLAGS + opt(OPT_EXPORT_NAME) + req(READ, 0, 512)
    s["export-name-nonfixed"] = struct.pack(">I", 0) + opt(OPT_EXPORT_NAME)
    s["go"] = CFLAGS + go()
    s["go-read"] = CFLAGS + go() + req(READ, 0, 4096) + req(DISC)
    s["go-write-read"] = (CFLAGS + go() + req(WRITE, 512, 4096) + data +
                          req(READ, 0, 8192, cookie=2) + req(DISC, cookie=3))
    s["go-fua-flush"] = (CFLAGS + go() + req(WRITE, 0, 16, FUA) + data[:16] +
                         req(FLUSH, cookie=2) + req(DISC, cookie=3))
    s["go-trim-zero-cache"] = (CFLAGS + go() + req(TRIM, 0, 65536) +
                               req(ZERO, 65536, 65536, NO_HOLE, 2) +
                               req(ZERO, 0, 4096, FAST_ZERO, 3) +
                               req(CACHE, 0, 1 << 20, cookie=4) + req(DISC, cookie=5))
    s["go-infos"] = CFLAGS + go(b"", (0, 1, 2, 3)) + req(DISC)
    s["info-then-go"] = CFLAGS + opt(OPT_INFO, name_and_infos(b"second", (3,))) + go()
    s["list"] = CFLAGS + opt(OPT_LIST) + opt(OPT_ABORT)
    s["unknown-option"] = CFLAGS + opt(42, b"xyz") + go()
    s["list-meta"] = (CFLAGS + opt(OPT_SR) + opt(OPT_LIST_META, meta(queries=(b"base:",)))
                      + opt(OPT_ABORT))
    s["sr-block-status"] = (CFLAGS + opt(OPT_SR) + opt(OPT_SET_META, meta()) + go() +
                            req(BLOCK_STATUS, 0, 1 << 20) +
                            req(BLOCK_STATUS, 4096, 65536, REQ_ONE, 2) + req(DISC, cookie=3))
    s["sr-sparse-read"] = (CFLAGS + opt(OPT_SR) + go() + req(READ, 0, 1 << 20, DF) +
                           req(DISC, cookie=2))
    s["ext-headers"] = (CFLAGS + opt(OPT_EXT) + opt(OPT_SET_META, meta()) + go() +
                        req(WRITE, 0, 32, PAYLOAD_LEN, 1, True) + data[:32] +
                        req(READ, 0, 4096, 0, 2, True) +
                        req(BLOCK_STATUS, 0, 1 << 20, 0, 3, True) +
                        req(DISC, 0, 0, 0, 4, True))
    s["starttls"] = CFLAGS + opt(OPT_STARTTLS) + go() + req(DISC)
    s["starttls-with-data"] = CFLAGS + opt(OPT_STARTTLS, b"x") + opt(OPT_ABORT)
    s["starttls-twice"] = CFLAGS + opt(OPT_STARTTLS) + opt(OPT_STARTTLS)
    s["starttls-after-sr"] = (CFLAGS + opt(OPT_SR) + opt(OPT_SET_META, meta()) +
                              opt(OPT_STARTTLS) + go() + req(READ, 0, 512))
    s["bad-request-magic"] = CFLAGS + go() + b"\xde\xad\xbe\xef" + bytes(24)
    s["bad-ranges"] = (CFLAGS + go() + req(READ, (1 << 20) - 1, 2) +
                       req(WRITE, 1 << 63, 1, cookie=2) + b"x" +
                       req(TRIM, 0, 0, cookie=3) + req(99, cookie=4) + req(DISC, cookie=5))
    s["long-option"] = CFLAGS + struct.pack(">QII", IHAVEOPT, OPT_GO, 0x7FFFFFFF)
    return s


def frame_option(code, data):
    return struct.pack(">BH", code, len(data)) + data


def options_seeds():
    s = {}
    s["go"] = b"\x03" + frame_option(OPT_GO, name_and_infos())
    s["export-name"] = b"\x03" + frame_option(OPT_EXPORT_NAME, b"")
    s["nonfixed-export-name"] = b"\x00" + frame_option(OPT_EXPORT_NAME, b"second")
    s["info-all"] = b"\x03" + frame_option(OPT_INFO, name_and_infos(b"", (0, 1, 2, 3, 9)))
    s["list"] = b"\x03" + frame_option(OPT_LIST, b"") + frame_option(OPT_LIST, b"x")
    s["meta"] = (b"\x03" + frame_option(OPT_SR, b"") +
                 frame_option(OPT_LIST_META, meta(queries=(b"base:", b"other:x"))) +
                 frame_option(OPT_SET_META, meta(b"second")) +
                 frame_option(OPT_GO, name_and_infos(b"second")))
    s["meta-without-sr"] = b"\x03" + frame_option(OPT_SET_META, meta())
    s["ext-headers"] = (b"\x03" + frame_option(OPT_EXT, b"") + frame_option(OPT_SR, b"") +
                        frame_option(OPT_EXT, b"x") + frame_option(OPT_GO, name_and_infos()))
    s["starttls"] = (b"\x03" + frame_option(OPT_STARTTLS, b"") +
                     frame_option(OPT_STARTTLS, b"") + frame_option(OPT_GO, name_and_infos()))
    s["abort"] = b"\x03" + frame_option(OPT_ABORT, b"")
    s["unknown"] = b"\x03" + frame_option(4, b"peek") + frame_option(15, b"")
    s["short-option"] = b"\x03" + b"\x87" + struct.pack(">I", 100) + b"abc"
    return s


def frame_request(typ, flags, offset, count, payload=b"", ext=False):
    return (struct.pack(">BHQ", typ, flags, offset) +
            struct.pack(">Q" if ext else ">I", count) +
            struct.pack(">H", len(payload)) + payload)


def requests_seeds():
    s = {}
    MODE_SR, MODE_EXT, MODE_META, MODE_FRAMED = 1, 2, 4, 8
    data = bytes(range(256)) * 2
    plain = [frame_request(WRITE, FUA, 0, 512, data), frame_request(READ, 0, 0, 512),
             frame_request(FLUSH, 0, 0, 0), frame_request(TRIM, 0, 4096, 4096),
             frame_request(ZERO, NO_HOLE | FAST_ZERO, 8192, 4096),
             frame_request(CACHE, 0, 0, 65536), frame_request(DISC, 0, 0, 0)]
    s["framed-simple"] = bytes([MODE_FRAMED, 2, 0]) + b"".join(plain)
    s["framed-sr"] = bytes([MODE_FRAMED | MODE_SR | MODE_META, 1, 1]) + b"".join(
        plain[:2] + [frame_request(BLOCK_STATUS, REQ_ONE, 0, 65536),
                     frame_request(READ, DF, 0, 1 << 20)])
    s["framed-ext"] = bytes([MODE_FRAMED | MODE_EXT | MODE_META, 2, 3]) + b"".join([
        frame_request(WRITE, PAYLOAD_LEN, 1 << 32, 512, data, True),
        frame_request(BLOCK_STATUS, 0, 0, 1 << 33, b"", True),
        frame_request(READ, 0, (1 << 32) - 256, 512, b"", True),
        frame_request(WRITE, 0, 0, 16, data[:16], True)])
    s["framed-short-payload"] = bytes([MODE_FRAMED, 0, 0]) + frame_request(WRITE, 0, 0, 4096, data)
    s["framed-limits"] = bytes([MODE_FRAMED | MODE_SR, 3, 4]) + b"".join([
        frame_request(READ, 0, (1 << 63) - 2, 1), frame_request(READ, 0, 0, 1 << 25),
        frame_request(WRITE, 0, 0, 1 << 26, data), frame_request(ZERO, FAST_ZERO, 0, 4096)])
    s["raw-simple"] = bytes([0, 0, 0]) + req(WRITE, 0, 16) + data[:16] + req(READ, 0, 16, cookie=2)
    s["raw-ext"] = bytes([MODE_EXT | MODE_META, 1, 0]) + req(BLOCK_STATUS, 0, 4096, 0, 1, True)
    return s


def ext_record(ctl, length):
    return struct.pack(">BI", ctl, length)


def block_status_seeds():
    s = {}
    HOLE, ZERO_T = 1, 2
    RAWTYPE, GAP, FAIL, IGNORE, BACK, STOP = 4, 8, 16, 32, 64, 128

    def bs(mode, bsize, size, reqs, script):
        out = bytes([mode, bsize]) + struct.pack(">Q", size) + bytes([len(reqs) - 1])
        for flags, offset, count in reqs:
            out += struct.pack(">HQQ", flags, offset, count)
        return out + b"".join(ext_record(c, n) for c, n in script)

    mixed = [(0, 4096), (ZERO_T, 8192), (HOLE | ZERO_T, 65536), (0, 1 << 20)]
    s["sr-mixed"] = bs(0, 0, 1 << 20, [(0, 0, 1 << 20), (REQ_ONE, 4096, 8192)], mixed)
    s["ext-mixed"] = bs(1, 2, 1 << 34, [(0, 0, 1 << 33), (REQ_ONE, 0, 1 << 20)],
                        mixed + [(HOLE | ZERO_T, 0xFFFFFFFF)] * 4)
    s["gap"] = bs(0, 0, 1 << 20, [(0, 0, 65536)], [(0, 4096), (GAP, 4096), (0, 4096)])
    s["overlap"] = bs(1, 0, 1 << 20, [(0, 0, 65536)], [(0, 8192), (BACK, 4096), (HOLE, 8192)])
    s["ignored-error"] = bs(0, 0, 1 << 20, [(0, 0, 65536)],
                            [(0, 4096), (GAP, 4096), (IGNORE, 4096), (ZERO_T, 65536)])
    s["raw-type"] = bs(0, 0, 1 << 20, [(0, 0, 4096)], [(RAWTYPE | (7 << 3), 4096)])
    s["fail"] = bs(1, 0, 1 << 20, [(0, 0, 4096)], [(FAIL, 0)])
    s["empty"] = bs(0, 0, 1 << 20, [(0, 512, 4096)], [(STOP, 0)])
    s["zero-lengths"] = bs(0, 1, 1 << 20, [(0, 100, 4096)], [(0, 0)] * 8 + [(HOLE, 100000)])
    s["no-meta"] = bs(2, 0, 1 << 20, [(0, 0, 4096)], mixed)
    s["many-small"] = bs(1, 0, 1 << 20, [(0, 0, 1 << 20)],
                         [(i % 4 & 3, 512) for i in range(200)])
    s["unaligned-size"] = bs(0, 3, (1 << 20) + 1, [(0, 1 << 20, 1)], [(HOLE, 1 << 21)])
    return s


def vmdk_header(capacity, gd, rgd=0, flags=3, grain=1, gtes=4, desc=1):
    h = struct.pack("<IIIQQQQIQQQB4sH", 0x564D444B, 1, flags, capacity,
                    grain, 1, desc, gtes, rgd, gd, 12, 0, b"\n \r\n", 0)
    return h.ljust(512, b"\0")


def vmdk_desc(kind, extent):
    text = ('# Disk DescriptorFile\nversion=1\nCID=1\nparentCID=ffffffff\n'
            'createType="%s"\n%s\n' % (kind, extent))
    return text.encode().ljust(512, b"\0")


def vmdk_seeds():
    """Small VMDK files: 1-sector grains, 4 entries per grain table."""
    s = {}
    # monolithicSparse: 16 sectors; sectors 0 header, 1 descriptor,
    # 2 redundant directory, 3 directory, 4-7 redundant tables, 8-11
    # tables, 12.. grains.  Grain 0 and 5 allocated, grain 2 zero.
    gd = struct.pack("<4I", 8, 9, 10, 11).ljust(512, b"\0")
    rgd = struct.pack("<4I", 4, 5, 6, 7).ljust(512, b"\0")
    gts = [struct.pack("<4I", 12, 0, 1, 0), struct.pack("<4I", 0, 13, 0, 0),
           bytes(16), bytes(16)]
    tables = b"".join(t.ljust(512, b"\0") for t in gts)
    body = (vmdk_desc("monolithicSparse", 'RW 16 SPARSE "d.vmdk"') + rgd + gd
            + tables + tables + b"A" * 512 + b"B" * 512)
    s["sparse"] = vmdk_header(16, 3, 2) + body
    s["sparse-no-rgd"] = vmdk_header(16, 3, 0, flags=1) + body
    # streamOptimized: compressed grains with markers, directory at the
    # end, found through the footer.
    z = zlib.compress(b"C" * 512)
    grain = struct.pack("<QI", 0, len(z)) + z
    grain = grain.ljust(-(-len(grain) // 512) * 512, b"\0")
    gsec = 2 + len(grain) // 512  # the table's marker, then the table
    stream = (vmdk_header(8, 0xFFFFFFFFFFFFFFFF, 0, flags=0x30001, gtes=4)
              + vmdk_desc("streamOptimized", 'RW 8 SPARSE "d.vmdk"') + grain
              + struct.pack("<QII", 1, 0, 1).ljust(512, b"\0")
              + struct.pack("<4I", 2, 0, 1, 0).ljust(512, b"\0")
              + struct.pack("<QII", 1, 0, 2).ljust(512, b"\0")
              + struct.pack("<2I", gsec + 1, 0).ljust(512, b"\0")
              + struct.pack("<QII", 1, 0, 3).ljust(512, b"\0")
              + vmdk_header(8, gsec + 3, 0, flags=0x30001, gtes=4)
              + bytes(512))
    s["stream"] = stream
    # Text descriptors: flat extents in the file itself, a zero extent,
    # a parent that is the file itself.
    pad = ("#" * 63 + "\n") * 16
    s["flat"] = (vmdk_desc("monolithicFlat", 'RW 2 FLAT "d.vmdk" 0\n'
                           'RDONLY 1 VMFS "d.vmdk" 1\nRW 4 ZERO')
                 .rstrip(b"\0") + pad.encode())
    s["parent-loop"] = (b"parentCID=1\nparentFileNameHint=\"d.vmdk\"\n"
                        b"RW 4 ZERO\n")
    return s


def mbr_entry(kind, start, size):
    return struct.pack("<B3sB3sII", 0, b"", kind, b"", start, size)


def partition_seeds():
    """Disks made of their first sectors: MBR, EBR chains, GPT."""
    s = {}
    sig = b"\x55\xaa"
    mbr = (bytes(446) + mbr_entry(0x83, 2048, 4096) + mbr_entry(0x05, 4, 100)
           + bytes(32) + sig)
    # The extended partition at sector 4: logical 5 at 4+1, the next
    # EBR at 4+20 with logical 6 at 24+1.
    ebr1 = (bytes(446) + mbr_entry(0x83, 1, 10) + mbr_entry(0x05, 20, 30)
            + bytes(32) + sig)
    ebr2 = bytes(446) + mbr_entry(0x83, 1, 10) + bytes(48) + sig
    disk = bytearray(25 * 512)
    disk[0:512] = mbr
    disk[4 * 512:5 * 512] = ebr1
    disk[24 * 512:25 * 512] = ebr2
    s["mbr-logical"] = bytes(disk)
    s["mbr-primary"] = mbr
    pmbr = bytes(446) + mbr_entry(0xee, 1, 0xffffffff) + bytes(48) + sig
    hdr = (b"EFI PART" + struct.pack("<IIIIQQQQ16sQII", 0x10000, 92, 0, 0, 1,
                                     0, 34, 0, bytes(16), 2, 128, 128))
    entry = (b"\x11" * 16 + b"\x22" * 16 + struct.pack("<QQQ", 2048, 6143, 0)
             + bytes(72))
    s["gpt"] = pmbr + hdr.ljust(512, b"\0") + entry + entry
    return s


def xz_seeds():
    """xz files: one stream or several, padding, checks, a BCJ filter."""
    data = bytes(range(256)) * 64 + b"nbdx" * 4096
    lz = [{"id": lzma.FILTER_LZMA2, "preset": 1, "dict_size": 1 << 16}]
    one = lzma.compress(data, check=lzma.CHECK_CRC64, filters=lz)
    s = {"one-stream": one,
         "empty": lzma.compress(b"", filters=lz),
         "crc32": lzma.compress(data[:5000], check=lzma.CHECK_CRC32,
                                filters=lz),
         "sha256-bcj": lzma.compress(data, check=lzma.CHECK_SHA256,
                                     filters=[{"id": lzma.FILTER_X86}] + lz),
         "streams-padding": one + bytes(8) + lzma.compress(
             data[:1000], check=lzma.CHECK_NONE, filters=lz) + bytes(4)}
    return s


def luks_header(cipher, mode, hash_, key_bytes, slots, payload=4096):
    """A LUKSv1 phdr; slots: (material sector, stripes) of enabled slots."""
    h = b"LUKS\xba\xbe" + struct.pack(">H", 1)
    for f in (cipher, mode, hash_):
        h += f.encode().ljust(32, b"\0")
    h += struct.pack(">II", payload, key_bytes) + bytes(range(20))
    h += bytes(range(32, 64)) + struct.pack(">I", 1000)
    h += b"01234567-89ab-cdef-0123-456789abcdef".ljust(40, b"\0")
    for i in range(8):
        if i < len(slots):
            sector, stripes = slots[i]
            h += struct.pack(">II", 0x00AC71F3, 2000) + bytes([i]) * 32
            h += struct.pack(">II", sector, stripes)
        else:
            h += struct.pack(">II", 0xDEAD, 0) + bytes(32)
            h += struct.pack(">II", 8 + i * 512, 4000)
    return h


def luks_seeds():
    """LUKSv1 headers as qemu-img and cryptsetup write them, then a
    little key material (the rest reads as zeros)."""
    material = bytes(range(256)) * 4
    return {
        "xts-plain64": luks_header("aes", "xts-plain64", "sha256", 64,
                                   [(8, 4000)]) + material,
        "cbc-essiv": luks_header("aes", "cbc-essiv:sha256", "sha1", 32,
                                 [(8, 4000), (512, 4000)]) + material,
        "cbc-plain": luks_header("aes", "cbc-plain", "sha512", 16,
                                 [(8, 1)], payload=16) + material,
        "xts-essiv-md5": luks_header("aes", "xts-essiv:md5", "sha224", 32,
                                     [(2, 3)], payload=2048) + material,
        "cbc192-plain64": luks_header("aes", "cbc-plain64", "sha384", 24,
                                      [(8, 4000)] * 8, payload=2048)}


def tar_archive(fmt, members):
    """A tar archive of (name, bytes) members; bytes None is a directory."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=fmt) as t:
        for name, data in members:
            ti = tarfile.TarInfo(name)
            ti.mtime = 0
            if data is None:
                ti.type = tarfile.DIRTYPE
                t.addfile(ti)
            else:
                ti.size = len(data)
                t.addfile(ti, io.BytesIO(data))
    return out.getvalue()


def tar_seeds():
    """Archives: GNU long names, pax path= and size=, ustar prefixes."""
    small = [("a", b"tiny"), ("dir/", None), ("disk.img", bytes(range(256)) * 8)]
    longname = "d" * 60 + "/" + "x" * 150
    s = {"gnu": tar_archive(tarfile.GNU_FORMAT, small + [(longname, b"L")]),
         "pax": tar_archive(tarfile.PAX_FORMAT, small + [(longname, b"P")]),
         "ustar": tar_archive(tarfile.USTAR_FORMAT,
                              [("p" * 120 + "/" + "s" * 90, b"U")] + small)}
    # 9 GiB entries: the headers and the start of the data only.
    for fmt, name in ((tarfile.GNU_FORMAT, "big-gnu"),
                      (tarfile.PAX_FORMAT, "big-pax")):
        ti = tarfile.TarInfo("big.img")
        ti.size = 9 << 30
        s[name] = ti.tobuf(fmt) + b"HEAD" + bytes(508)
    return s


def data_seeds():
    """data= expressions using every part of the format."""
    exprs = {
        "bytes": '0 1 2 3 @0x1fe 0x55 0xaa 010 0x1F',
        "offsets": '1 @+5 2 @-3 3 @^16 4 @0x20 @^0x200',
        "words": 'le16:1 be16:0x0102 le32:0xdeadbeef be64:0x0102030405060708',
        "strings": '"Hello\\n" "\\x41\\"\\\\" "q\\q"',
        "groups": '( 0x55 0xAA )*2048 ((1 2)*3 @+1)*2 ()*5',
        "slices": '(1 2 3 4)[1:3] "abc"[1:] ("xyz")[:2]*3[1:]',
        "names": '( 0x55 0xAA ) -> \\sig ( @0x1fe \\sig ) -> \\s \\s \\s',
        "vars": '$v*2 $w ($v)[2:] # comment\n 1',
        "mbr": '@0x1be 0 0 2 0 0x83 0x20 0x20 0 le32:1 le32:0x7ff\n'
               '@0x1fe 0x55 0xaa',
        "sparse": '1 @0x7000000000 2 @0x10 (3 @+0x100000000 4)*3 @0 (@+0x20)',
        "big": '0xff*1000000 (1 2 3)*10000000 (1 @+1000)*5000',
    }
    return {k: v.encode() for k, v in exprs.items()}


def main():
    targets = {"connection": connection_seeds(), "options": options_seeds(),
               "requests": requests_seeds(), "block-status": block_status_seeds(),
               "vmdk": vmdk_seeds(), "partition": partition_seeds(),
               "xz": xz_seeds(), "luks": luks_seeds(),
               "tar": tar_seeds(), "data": data_seeds()}
    for target, seeds in targets.items():
        d = os.path.join(HERE, "corpus", target)
        os.makedirs(d, exist_ok=True)
        for name, data in seeds.items():
            with open(os.path.join(d, name), "wb") as f:
                f.write(data)
        print("%s: %d seeds" % (d, len(seeds)), file=sys.stderr)


if __name__ == "__main__":
    main()
