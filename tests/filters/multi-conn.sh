#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# multi-conn.sh: can_multi_conn as nbdsh sees it in every mode, over a
# plugin with multi-conn (memory) and one without (eval), the same as
# under nbdkit; in emulate mode a flush on one connection flushes the
# other, dirty one (seen by a log filter below), and a clean server
# skips the flush; emulate refuses a plugin that cannot flush.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/filters/filters-lib.sh"
set -x
eval_plugin="${memory%/*}/nbdkit-eval-plugin.so"
[ -f "$eval_plugin" ] || { echo "SKIP: nbdkit's eval plugin not installed"; exit 77; }
pread='dd if=/dev/zero count=$3 iflag=count_bytes status=none'

flags() { nbdsh -u "$uri" -c 'print(h.can_multi_conn(), h.can_flush())'; }
for m in auto emulate plugin disable unsafe; do
    for p in memory eval; do
        if [ $p = memory ]; then args=("$memory" size=1M)
        else args=("$eval_plugin" get_size='echo 1M' pread="$pread" flush=true)
        fi
        ours=$("$NBDX" -U - --filter=multi-conn "${args[@]}" \
                   multi-conn-mode=$m --run "$(declare -f flags); flags")
        theirs=$(nbdkit -U - --filter=multi-conn "${args[@]}" \
                     multi-conn-mode=$m --run "$(declare -f flags); flags")
        [ "$ours" = "$theirs" ]
        case $m-$p in
            disable-*|plugin-eval) [ "$ours" = "False True" ] ;;
            *) [ "$ours" = "True True" ] ;;
        esac
    done
done

# Emulate: write on connection 1, flush on connection 2; the log below
# the filter sees the flush on connection 1, which was dirty, and none
# on the clean connection 2.  Then a second flush, with nothing dirty,
# reaches nobody.
start_server -U "$sock" --filter=multi-conn --filter=log "$memory" size=1M \
    multi-conn-mode=emulate logfile="$tmp/log"
/usr/bin/python3 -c '
import nbd, sys
a = nbd.NBD(); a.connect_uri(sys.argv[1])
b = nbd.NBD(); b.connect_uri(sys.argv[1])
assert a.can_multi_conn() and b.can_multi_conn()
a.pwrite(b"x" * 512, 0)
b.flush()
b.flush()
assert b.pread(1, 0) == b"x"
a.shutdown(); b.shutdown()
' "$uri"
cat "$tmp/log"
grep -q 'connection=1 Write' "$tmp/log"
[ "$(grep -c 'connection=1 Flush' "$tmp/log")" = 1 ]
[ "$(grep -c 'connection=2 Flush' "$tmp/log")" = 0 ]
stop_server

# track-dirty=off: both connections are flushed, every time.
start_server -U "$sock" --filter=multi-conn --filter=log "$memory" size=1M \
    multi-conn-mode=emulate multi-conn-track-dirty=off logfile="$tmp/log2"
/usr/bin/python3 -c '
import nbd, sys
a = nbd.NBD(); a.connect_uri(sys.argv[1])
b = nbd.NBD(); b.connect_uri(sys.argv[1])
b.flush(); b.flush()
a.shutdown(); b.shutdown()
' "$uri"
[ "$(grep -c 'connection=1 Flush' "$tmp/log2")" = 2 ]
[ "$(grep -c 'connection=2 Flush' "$tmp/log2")" = 2 ]
stop_server

# plugin mode does not repeat flushes on other connections.
start_server -U "$sock" --filter=multi-conn --filter=log "$memory" size=1M \
    multi-conn-mode=plugin multi-conn-track-dirty=off logfile="$tmp/log3"
/usr/bin/python3 -c '
import nbd, sys
a = nbd.NBD(); a.connect_uri(sys.argv[1])
b = nbd.NBD(); b.connect_uri(sys.argv[1])
b.flush()
a.shutdown(); b.shutdown()
' "$uri"
[ "$(grep -c 'connection=1 Flush' "$tmp/log3")" = 0 ]
[ "$(grep -c 'connection=2 Flush' "$tmp/log3")" = 1 ]
stop_server

# Emulate over a plugin without flush: the client is refused.
start_server -U "$sock" --filter=multi-conn "$eval_plugin" get_size='echo 1M' \
    pread="$pread" multi-conn-mode=emulate
fails nbdsh -u "$uri" -c 'pass'
grep -q 'emulating multi-conn requires working flush' "$tmp/server.log"
stop_server

fails "$NBDX" --filter=multi-conn "$memory" size=1M multi-conn-mode=bogus \
    --run true 2> "$tmp/err"
grep -q multi-conn-mode "$tmp/err"
fails "$NBDX" --filter=multi-conn "$memory" size=1M \
    multi-conn-track-dirty=bogus --run true 2> "$tmp/err"
grep -q multi-conn-track-dirty "$tmp/err"
