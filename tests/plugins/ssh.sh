#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# ssh.sh: the ssh plugin serves a file of a private sshd on 127.0.0.1
# over SFTP: nbdcopy and qemu-img read the same bytes as the file, writes
# reach the file, -r refuses them, password= logs in to an sshd that
# takes only passwords, and a missing file, a refused key, a wrong
# password, an unknown host key and a closed port each fail the
# connection at once with one error line.  Debian's nbdkit ssh plugin, when installed, reads
# the same bytes from the same sshd.
. "$SRCDIR/tests/lib.sh"
. "$SRCDIR/tests/helpers/clients.sh"
requires nbdcopy nbdinfo nbdsh qemu-img ssh-keygen
[ -e "$BUILDDIR/plugins/ssh/nbdkit-ssh-plugin.so" ] ||
    { echo "SKIP: the ssh plugin was not built"; exit 77; }
[ -x /usr/sbin/sshd ] || { echo "SKIP: /usr/sbin/sshd is missing"; exit 77; }
set -x
unset SSH_AUTH_SOCK # only the keys given here
export tmp

# sshd's privilege separation directory (made by its service normally).
if [ ! -d /run/sshd ]; then
    [ "$(id -u)" = 0 ] || { echo "SKIP: no /run/sshd"; exit 77; }
    mkdir -p -m 0755 /run/sshd
fi

ssh-keygen -q -t ed25519 -N '' -f "$tmp/host_key"
ssh-keygen -q -t ed25519 -N '' -f "$tmp/client_key"
ssh-keygen -q -t ed25519 -N '' -f "$tmp/other_key"
cp "$tmp/client_key.pub" "$tmp/authorized_keys"
port=$(free_port 127.0.0.1)
me=$(id -un)
cat >"$tmp/sshd_config" <<EOF
ListenAddress 127.0.0.1
HostKey $tmp/host_key
AuthorizedKeysFile $tmp/authorized_keys
PidFile $tmp/sshd.pid
UsePAM no
StrictModes no
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
Subsystem sftp internal-sftp
EOF
echo "[127.0.0.1]:$port $(cut -d' ' -f1,2 "$tmp/host_key.pub")" \
    >"$tmp/known_hosts"
# A known hosts file naming another key for the same server.
echo "[127.0.0.1]:$port $(cut -d' ' -f1,2 "$tmp/other_key.pub")" \
    >"$tmp/wrong_known_hosts"

/usr/sbin/sshd -D -e -f "$tmp/sshd_config" -p "$port" 2>"$tmp/sshd.log" &
sshd_pid=$!
stop_sshd() {
    kill "$sshd_pid" 2>/dev/null
    wait "$sshd_pid" 2>/dev/null
    cat "$tmp/sshd.log"
}
cleanup_fn stop_sshd
# sshd_wait PORT PID LOG: until the sshd PID listens on PORT.
sshd_wait() {
    for _ in $(seq 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        kill -0 "$2" || { cat "$3"; exit 1; }
        sleep 0.1
    done
    echo "FAIL: sshd does not listen on port $1" >&2
    return 1
}
sshd_wait "$port" "$sshd_pid" "$tmp/sshd.log"

# A 5 MiB disk of random bytes, not a multiple of the SFTP packet size.
head -c 5242887 /dev/urandom >"$tmp/disk.img"
base=(host=127.0.0.1 port="$port" user="$me" config=
      identity="$tmp/client_key" known-hosts="$tmp/known_hosts")

start_server -U "$sock" ssh "${base[@]}" "$tmp/disk.img"
[ "$(nbdinfo --size "$uri")" = 5242887 ]
nbdcopy "$uri" "$tmp/copy"
cmp "$tmp/disk.img" "$tmp/copy"
qemu-img compare -f raw -F raw "$tmp/disk.img" "$uri"

# Writes at unaligned offsets, larger than one SFTP packet, then a flush.
cp "$tmp/disk.img" "$tmp/expect"
nbdsh_u -c '
import os
assert h.can_flush()
assert not h.is_read_only()
data = os.urandom(300001)
h.pwrite(data, 12345)
h.pwrite(b"tail", h.get_size() - 4)
h.flush()
assert h.pread(300001, 12345) == data
open(os.environ["tmp"] + "/patch", "wb").write(data)
'
python3 - "$tmp" <<'EOF'
import sys
t = sys.argv[1]
data = open(t + "/patch", "rb").read()
with open(t + "/expect", "r+b") as f:
    f.seek(12345); f.write(data)
    f.seek(-4, 2); f.write(b"tail")
EOF
cmp "$tmp/disk.img" "$tmp/expect"
# A whole new image written through nbdcopy lands in the remote file.
head -c 5242887 /dev/urandom >"$tmp/new"
nbdcopy "$tmp/new" "$uri"
cmp "$tmp/new" "$tmp/disk.img"
stop_server

# -r: read-only export, the write is refused and the file unchanged.
start_server -U "$sock" -r ssh "${base[@]}" path="$tmp/disk.img"
nbdsh_u -c '
assert h.is_read_only()
try:
    h.pwrite(b"x" * 512, 0)
    assert False, "write on a read-only export succeeded"
except nbd.Error:
    pass
'
cmp "$tmp/new" "$tmp/disk.img"
stop_server

# create=true makes a new file of create-size bytes and mode create-mode.
start_server -U "$sock" ssh "${base[@]}" "$tmp/made.img" \
    create=true create-size=1M create-mode=0640
[ "$(nbdinfo --size "$uri")" = 1048576 ]
[ "$(stat -c %a "$tmp/made.img")" = 640 ]
nbdsh_u -c 'h.pwrite(b"made", 4096); h.flush()'
[ "$(dd if="$tmp/made.img" bs=1 skip=4096 count=4 status=none)" = made ]
stop_server

# expect_open_error ERROR-PATTERN NBDX-ARGS...: the server starts, a
# client's connection fails within 20 s, and the server logs exactly one
# error line, matching the pattern.
expect_open_error() {
    local pattern=$1 start end
    shift
    : >"$tmp/server.log"
    start_server -U "$sock" "$@"
    start=$(date +%s)
    fails timeout 20 nbdinfo --size "$uri"
    end=$(date +%s)
    [ $((end - start)) -lt 15 ]
    stop_server
    cat "$tmp/server.log"
    [ "$(wc -l <"$tmp/server.log")" = 1 ]
    grep -E "$pattern" "$tmp/server.log"
}
expect_open_error "cannot open $tmp/missing.img on 127.0.0.1: .*(No such|not exist)" \
    ssh "${base[@]}" "$tmp/missing.img"
expect_open_error "SSH authentication to 127.0.0.1 failed" \
    ssh host=127.0.0.1 port="$port" user="$me" config= \
    identity="$tmp/other_key" known-hosts="$tmp/known_hosts" "$tmp/disk.img"
expect_open_error "cannot verify SSH server 127.0.0.1: .*changed" \
    ssh host=127.0.0.1 port="$port" user="$me" config= \
    identity="$tmp/client_key" known-hosts="$tmp/wrong_known_hosts" \
    "$tmp/disk.img"
: >"$tmp/empty_known_hosts"
expect_open_error "cannot verify SSH server 127.0.0.1: .*not in the known" \
    ssh host=127.0.0.1 port="$port" user="$me" config= \
    identity="$tmp/client_key" known-hosts="$tmp/empty_known_hosts" \
    "$tmp/disk.img"
closed=$(free_port 127.0.0.1)
expect_open_error "cannot connect to SSH server 127.0.0.1: " \
    ssh host=127.0.0.1 port="$closed" user="$me" config= timeout=5 \
    identity="$tmp/client_key" known-hosts="$tmp/known_hosts" "$tmp/disk.img"
# A server that accepts the TCP connection and never speaks: timeout=2
# ends the wait (libssh's default is 10 s).
silent=$(free_port 127.0.0.1)
python3 -c '
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(4)
s.settimeout(1)
held, end = [], time.time() + 60
while time.time() < end:
    try:
        held.append(s.accept())
    except OSError:
        pass
' "$silent" &
_pids="$_pids $!"
for _ in $(seq 50); do
    (exec 3<>"/dev/tcp/127.0.0.1/$silent") 2>/dev/null && break
    sleep 0.1
done
expect_open_error "cannot connect to SSH server 127.0.0.1: .*[Tt]imeout" \
    ssh host=127.0.0.1 port="$silent" user="$me" config= timeout=2 \
    identity="$tmp/client_key" known-hosts="$tmp/known_hosts" "$tmp/disk.img"

# verify-remote-host=false accepts the unknown key.
start_server -U "$sock" ssh host=127.0.0.1 port="$port" user="$me" config= \
    identity="$tmp/client_key" known-hosts="$tmp/wrong_known_hosts" \
    verify-remote-host=false "$tmp/disk.img"
nbdcopy "$uri" "$tmp/copy2"
cmp "$tmp/new" "$tmp/copy2"
stop_server

# Two connections at once, each with its own SSH session; the second
# known-hosts= file is checked too; -D ssh.log=2 logs libssh's steps.
: >"$tmp/server.log"
start_server -U "$sock" -v -D ssh.log=2 ssh host=127.0.0.1 port="$port" \
    user="$me" config= identity="$tmp/client_key" \
    known-hosts="$tmp/empty_known_hosts" known-hosts="$tmp/known_hosts" \
    "$tmp/disk.img"
nbdcopy "$uri" "$tmp/par1" & c1=$!
nbdcopy "$uri" "$tmp/par2" & c2=$!
wait "$c1"
wait "$c2"
cmp "$tmp/new" "$tmp/par1"
cmp "$tmp/new" "$tmp/par2"
stop_server
grep -q 'libssh: ' "$tmp/server.log"

# config=FILE: a host alias from an SSH config file gives the address,
# port and user; compression=true changes nothing in the data.
cat >"$tmp/ssh_config" <<EOF
Host nbdx-test-alias
  HostName 127.0.0.1
  Port $port
  User $me
EOF
start_server -U "$sock" ssh host=nbdx-test-alias config="$tmp/ssh_config" \
    identity="$tmp/client_key" known-hosts="$tmp/known_hosts" \
    compression=true "$tmp/disk.img"
nbdcopy "$uri" "$tmp/copy4"
cmp "$tmp/new" "$tmp/copy4"
stop_server

# password=: a second sshd that takes only passwords, in a mount
# namespace of its own where /etc/shadow is a copy giving this user the
# password s3cret (the machine's is not touched).  As root only.
if [ "$(id -u)" = 0 ] && command -v openssl >/dev/null &&
    unshare -m true 2>/dev/null; then
    hash=$(openssl passwd -6 s3cret)
    awk -F: -v OFS=: -v u="$me" -v h="$hash" '$1 == u { $2 = h } { print }' \
        /etc/shadow >"$tmp/shadow"
    chmod 600 "$tmp/shadow"
    pport=$(free_port 127.0.0.1)
    sed -e 's/^PermitRootLogin .*/PermitRootLogin yes/' \
        -e 's/^PasswordAuthentication .*/PasswordAuthentication yes/' \
        -e "s|^PidFile .*|PidFile $tmp/sshd2.pid|" \
        -e '$a PubkeyAuthentication no' "$tmp/sshd_config" >"$tmp/sshd2_config"
    echo "[127.0.0.1]:$pport $(cut -d' ' -f1,2 "$tmp/host_key.pub")" \
        >>"$tmp/known_hosts"
    unshare -m sh -c 'mount --bind "$1" /etc/shadow &&
        exec /usr/sbin/sshd -D -e -f "$2" -p "$3"' \
        sh "$tmp/shadow" "$tmp/sshd2_config" "$pport" 2>"$tmp/sshd2.log" &
    sshd2_pid=$!
    stop_sshd2() { kill "$sshd2_pid" 2>/dev/null; wait "$sshd2_pid" 2>/dev/null; }
    cleanup_fn stop_sshd2
    sshd_wait "$pport" "$sshd2_pid" "$tmp/sshd2.log"
    pw=(host=127.0.0.1 port="$pport" user="$me" config=
        known-hosts="$tmp/known_hosts")
    printf 's3cret\n' >"$tmp/password"
    start_server -U "$sock" ssh "${pw[@]}" password=+"$tmp/password" \
        "$tmp/disk.img"
    nbdcopy "$uri" "$tmp/copy5"
    cmp "$tmp/new" "$tmp/copy5"
    stop_server
    # A key alone is refused there; so is a wrong password: one line.
    for bad in identity="$tmp/client_key" password=wrong; do
        start_server -U "$sock" ssh "${pw[@]}" "$bad" "$tmp/disk.img"
        : >"$tmp/server.log"
        fails timeout 20 nbdinfo --size "$uri"
        stop_server
        [ "$(grep -c 'authentication to 127.0.0.1 failed' "$tmp/server.log")" = 1 ]
    done
    stop_sshd2
else
    echo "not root, or no openssl or unshare: password= not tried"
fi

# Parameters checked when the server starts.
fails "$NBDX" -f -U "$tmp/s2" ssh "$tmp/disk.img" 2>"$tmp/err"
grep 'host= and path= are required' "$tmp/err"
fails "$NBDX" -f -U "$tmp/s2" ssh host=x disk create=true 2>"$tmp/err"
grep 'create-size=' "$tmp/err"
fails "$NBDX" -f -U "$tmp/s2" ssh host=x disk password=+"$tmp/nofile" 2>"$tmp/err"
grep 'nofile' "$tmp/err"

# Debian's nbdkit ssh plugin on the same sshd reads the same bytes, and
# fails on the same missing file.
debian=/usr/lib/x86_64-linux-gnu/nbdkit/plugins/nbdkit-ssh-plugin.so
if [ -x /usr/bin/nbdkit ] && [ -e "$debian" ]; then
    NBDX=/usr/bin/nbdkit start_server -U "$sock" ssh "${base[@]}" \
        "$tmp/disk.img"
    nbdcopy "$uri" "$tmp/copy3"
    cmp "$tmp/new" "$tmp/copy3"
    stop_server
    NBDX=/usr/bin/nbdkit start_server -U "$sock" ssh "${base[@]}" \
        "$tmp/missing.img"
    fails timeout 20 nbdinfo --size "$uri"
    stop_server
fi
