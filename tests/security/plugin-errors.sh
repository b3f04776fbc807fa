#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# plugin-errors.sh: when the plugin fails, every operation (READ, WRITE,
# FLUSH, TRIM, WRITE_ZEROES, BLOCK_STATUS, CACHE, and FUA writes) reaches
# the client as an NBD error with the mapped errno, never as success;
# so does a READ the plugin answers short.  Simple and structured
# replies; the connection stays usable after each error.  The plugin
# is Debian's nbdkit sh plugin, failing with the errno named in a file.
. "$SRCDIR/tests/lib.sh"
requires nbdsh
shplugin=/usr/lib/x86_64-linux-gnu/nbdkit/plugins/nbdkit-sh-plugin.so
[ -f "$shplugin" ] || { echo "SKIP: $shplugin not installed"; exit 77; }
set -x

cat >"$tmp/fail.sh" <<EOT
#!/bin/sh
err=\$(cat "$tmp/errno")
case "\$1" in
    get_size) echo 1048576 ;;
    can_write|can_flush|can_trim|can_zero|can_extents) exit 0 ;;
    can_fua|can_cache) echo native ;;
    pread)
        if [ "\$err" = short ]; then head -c 100 /dev/zero; exit 0; fi
        if [ "\$err" = none ]; then head -c "\$3" /dev/zero; exit 0; fi
        echo "\$err injected" >&2; exit 1 ;;
    pwrite|flush|trim|zero|extents|cache)
        [ "\$1" = pwrite ] && cat >/dev/null
        if [ "\$err" = none ]; then
            [ "\$1" = extents ] && echo "0 \$3 0"
            exit 0
        fi
        echo "\$err injected" >&2; exit 1 ;;
    *) exit 2 ;;
esac
EOT
chmod +x "$tmp/fail.sh"
echo none >"$tmp/errno"
start_server -U "$sock" "$shplugin" "$tmp/fail.sh"

python3 - "$sock" "$tmp/errno" <<'EOT'
import errno, sys, nbd
sock, errfile = sys.argv[1:3]

def set_err(name):
    with open(errfile, "w") as f:
        f.write(name + "\n")

def ops(h):
    yield "pread", lambda: h.pread(4096, 0)
    yield "pwrite", lambda: h.pwrite(b"x" * 4096, 0)
    yield "pwrite-fua", lambda: h.pwrite(b"x" * 4096, 0, nbd.CMD_FLAG_FUA)
    yield "flush", lambda: h.flush()
    yield "trim", lambda: h.trim(4096, 0)
    yield "zero", lambda: h.zero(4096, 0)
    yield "cache", lambda: h.cache(4096, 0)
    if h.can_meta_context("base:allocation"):
        yield "block-status", lambda: h.block_status(4096, 0,
                                                     lambda *a: 0)

# Plugin errno -> what the client must see (NBD has a small errno set).
cases = [("EIO", "EIO"), ("ENOSPC", "ENOSPC"), ("EPERM", "EPERM"),
         ("EROFS", "EPERM"), ("EDQUOT", "ENOSPC"), ("ENOMEM", "ENOMEM"),
         ("EINVAL", "EINVAL"), ("ESHUTDOWN", "ESHUTDOWN")]
for structured in (True, False):
    h = nbd.NBD()
    h.set_request_structured_replies(structured)
    h.add_meta_context("base:allocation")
    h.connect_unix(sock)
    n = 0
    for plugin_err, want in cases:
        set_err(plugin_err)
        for name, op in ops(h):
            # ESHUTDOWN makes a compliant client stop sending: test it last.
            try:
                op()
            except nbd.Error as e:
                got = e.errno
                assert got in (want, getattr(errno, want)), \
                    "%s with %s: client saw %s, want %s" % (name, plugin_err, got, want)
                n += 1
            else:
                raise AssertionError("%s with %s: reported success" % (name, plugin_err))
        set_err("none")
        h.pread(4096, 0)        # the connection still works
        if plugin_err == "ESHUTDOWN":
            break
    set_err("short")
    try:
        h.pread(4096, 0)
    except nbd.Error as e:
        print("short read ->", e)
    else:
        raise AssertionError("a short plugin read reported success")
    set_err("none")
    print("structured=%s: %d errors all reported" % (structured, n))
EOT
kill -0 "$pid"
