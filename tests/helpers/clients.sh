# SPDX-License-Identifier: BSD-3-Clause
# shellcheck shell=bash
# clients.sh: helpers shared by tests/clients/ and tests/abi/, sourced after
# tests/lib.sh.

# sha256 FILE: print the hex digest only.
sha256() { sha256sum "$1" | cut -d' ' -f1; }

# random_file PATH SIZE_IN_KIB: create a file of random bytes.
random_file() {
    head -c "$(($2 * 1024))" /dev/urandom >"$1"
}

# same_files A B: compare two files by content, printing both digests.
same_files() {
    local a b
    a=$(sha256 "$1")
    b=$(sha256 "$2")
    echo "sha256 $1: $a"
    echo "sha256 $2: $b"
    [ "$a" = "$b" ] || { echo "FAIL: $1 and $2 differ" >&2; return 1; }
}

# free_port ADDR: a TCP port free on ADDR; exit 77 if ADDR is unusable.
free_port() {
    local p
    p=$(python3 "$SRCDIR/tests/helpers/free-port.py" "$1") || {
        echo "SKIP: cannot bind $1 on this machine" >&2
        exit 77
    }
    echo "$p"
}

# expect_eq WHAT EXPECTED ACTUAL
expect_eq() {
    if [ "$2" != "$3" ]; then
        echo "FAIL: $1: expected '$2', got '$3'" >&2
        return 1
    fi
    echo "ok: $1 = '$3'"
}
