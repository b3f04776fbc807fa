#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# ip.sh: clients over a Unix socket, 127.0.0.1 and [::1] (skipped with
# a message when there is no IPv6 loopback) are let in or disconnected
# before the handshake by allow= and deny= rules: addresses, networks,
# any*, uid:, gid: and pid: of the current user and process,
# security:; the allow list wins wherever it stands; a denial is logged
# with its rule; bad rules are refused at startup, naming them.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/filters/filters-lib.sh"
. "$SRCDIR/tests/helpers/clients.sh"
requires nbdinfo
set -x
log="$tmp/server.log"

# serve URI-KIND ARGS...: a server on a unix socket (unix), 127.0.0.1
# (4) or [::1] (6) with the ip filter and ARGS; sets $uri.
serve() {
    local kind=$1 port
    shift
    case $kind in
    unix) start_server -U "$sock" --filter=ip "$memory" size=1M "$@"
        uri="nbd+unix:///?socket=$sock" ;;
    4) port=$(free_port 127.0.0.1)
        start_server -i 127.0.0.1 -p "$port" --filter=ip "$memory" \
            size=1M "$@"
        uri="nbd://127.0.0.1:$port" ;;
    6) port=$(free_port ::1)
        start_server -i ::1 -p "$port" --filter=ip "$memory" size=1M "$@"
        uri="nbd://[::1]:$port" ;;
    esac
}
# let_in KIND ARGS...: a client is served (and reads the size).
let_in() {
    serve "$@"
    expect_eq "let in by $*" 1048576 "$(nbdinfo --size "$uri")"
    stop_server
}
# turned_away KIND RULE ARGS...: the client is disconnected and the log
# names deny=RULE.
turned_away() {
    local kind=$1 rule=$2 before
    shift 2
    serve "$kind" "$@"
    before=$(grep -c "not permitted" "$log" || true)
    fails nbdinfo --size "$uri"
    stop_server
    [ "$(grep -c "not permitted" "$log")" -gt "$before" ]
    grep -q "because of rule deny=$rule\$" "$log"
}

uid=$(id -u) gid=$(id -g)
other_uid=$((uid + 4242)) other_gid=$((gid + 4242))

# Unix socket: uid:/gid: of the current user, the allow list first even
# when deny= comes first on the command line, default allow.
let_in unix deny=all allow=uid:"$uid"
let_in unix allow=gid:"$gid" deny=all
let_in unix allow=anyunix deny=all
let_in unix deny=uid:"$other_uid",gid:"$other_gid"
let_in unix deny=anyipv4,anyipv6,127.0.0.1
let_in unix allow=
turned_away unix all allow=uid:"$other_uid" deny=all
turned_away unix gid:"$gid" deny=gid:"$gid"
turned_away unix uid:"$uid" deny=uid:"$other_uid" deny=uid:"$uid"
turned_away unix anyunix allow=127.0.0.1,::1 deny=anyunix
# No security module labels these sockets here, so a label matches
# nothing.
turned_away unix any allow=security:no_such_label_t deny=any

# pid: the client is this very python process.
/usr/bin/python3 - "$NBDX" "$memory" "$tmp" <<'PY'
import nbd, os, subprocess, sys, time
nbdx, memory, tmp = sys.argv[1:]
def run(*rules):
    sock = os.path.join(tmp, "pid.sock")
    pidfile = os.path.join(tmp, "pid.pid")
    for f in (sock, pidfile):
        if os.path.exists(f):
            os.unlink(f)
    p = subprocess.Popen([nbdx, "-f", "-P", pidfile, "-U", sock,
                          "--filter=ip", memory, "size=1M"] + list(rules))
    for _ in range(100):
        if os.path.exists(pidfile) and os.path.getsize(pidfile) > 0:
            break
        time.sleep(0.1)
    h = nbd.NBD()
    try:
        h.connect_unix(sock)
        return h.get_size() == 1048576
    except nbd.Error:
        return False
    finally:
        p.terminate()
        p.wait()
me = "pid:%d" % os.getpid()
assert run("allow=" + me, "deny=all")
assert not run("deny=" + me)
assert run("deny=pid:1")
assert not run("allow=pid:1", "deny=all")
print("pid rules ok")
PY

# 127.0.0.1.
let_in 4 allow=127.0.0.1 deny=all
let_in 4 allow=127.0.0.0/8 deny=all
let_in 4 allow=anyipv4 deny=all
let_in 4 deny=anyipv6,anyunix,uid:"$uid",::1,10.0.0.0/8
turned_away 4 127.0.0.0/8 deny=127.0.0.0/8
turned_away 4 all allow=127.0.0.2,10.0.0.0/8,uid:"$uid" deny=all
turned_away 4 anyipv4 deny=::ffff:0:0/96,anyipv4
turned_away 4 0.0.0.0/0 deny=0.0.0.0/0

# [::1].
if python3 "$SRCDIR/tests/helpers/free-port.py" ::1 >/dev/null; then
    let_in 6 allow=::1 deny=all
    let_in 6 allow=0:0::1/128 deny=all
    let_in 6 allow=anyipv6 deny=all
    let_in 6 deny=anyipv4,127.0.0.1,fe80::/10
    turned_away 6 ::/64 deny=::/64
    turned_away 6 anyipv6 allow=::2 deny=anyipv6
else
    echo "SKIP: no IPv6 loopback, the [::1] cases are not run"
fi

# Bad rules stop the server, naming the parameter.
for a in allow=foo deny=1.2.3 allow=01.2.3.4 allow=1.2.3.4/33 \
    deny=::1/129 allow=1.2.3.4/ allow=1.2.3.4/x allow=1.2.3.4,,5.6.7.8 \
    allow=, deny=uid:x deny=uid:-1 allow=gid: allow=pid:0 \
    allow=security:; do
    fails "$NBDX" --filter=ip "$memory" size=1M "$a" --run true 2>"$tmp/err"
    cat "$tmp/err"
    grep -q "^nbdx: ip: ${a%%=*}: " "$tmp/err"
done
