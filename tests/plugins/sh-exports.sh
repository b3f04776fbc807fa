#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# sh-exports.sh: the sh plugin's list_exports in its three output forms,
# default_export and block_size, as nbdinfo sees them; with Debian's
# nbdkit installed, its sh plugin must list the same for the same script.
# eval takes the same methods as parameters.
. "$SRCDIR/tests/lib.sh"
requires nbdinfo jq
set -x

cat >"$tmp/exports.sh" <<'EOF'
#!/bin/sh
case "$1" in
  list_exports)
    case "$EXPORTS_FORM" in
      names) printf 'NAMES\na\nb\n' ;;
      bare) printf 'x\ny\nz' ;;
      inter) printf 'INTERLEAVED\na\nfirst disk\nb\nsecond disk\n' ;;
      halves) printf 'NAMES+DESCRIPTIONS\na\nb\nc\none\ntwo\nthree\n' ;;
      none) exit 2 ;;
    esac ;;
  default_export) [ "$EXPORTS_FORM" = none ] && exit 2
                  printf 'INTERLEAVED\nb' ;;
  open) echo "$3" ;;
  get_size) echo 1M ;;
  block_size) echo 512 4K 64K ;;
  *) exit 2 ;;
esac
EOF
chmod +x "$tmp/exports.sh"

# "name=description" for every export SERVER lists with FORM.
listing() {
    local form=$1 server=$2
    local sock=$tmp/list-$form-$RANDOM.sock
    EXPORTS_FORM=$form $server -U "$sock" sh "$tmp/exports.sh" \
        --run 'nbdinfo --list --json "$uri"' |
        jq -r '.exports[] | "\(."export-name")=\(.description // "")"'
}

[ "$(listing names "$NBDX" | sort | tr '\n' ' ')" = "a= b= " ]
# As in nbdkit, a last line without its newline is not listed.
[ "$(listing bare "$NBDX" | sort | tr '\n' ' ')" = "x= y= " ]
[ "$(listing inter "$NBDX" | sort | tr '\n' ,)" = \
    "a=first disk,b=second disk," ]
[ "$(listing halves "$NBDX" | sort | tr '\n' ,)" = "a=one,b=two,c=three," ]
# Without list_exports nor default_export: the one export "".
[ "$(listing none "$NBDX")" = "=" ]

# default_export: "" opens the first name of its output, which may
# lack its newline.
EXPORTS_FORM=names start_server -U "$sock" sh "$tmp/exports.sh"
nbdinfo --json "$uri" >"$tmp/info.json"
jq -e '.exports[0]."export-name" == "b"' "$tmp/info.json"
# block_size: minimum, preferred and maximum as the script printed them.
jq -e '.exports[0].block_size_minimum == 512 and
       .exports[0].block_size_preferred == 4096 and
       .exports[0].block_size_maximum == 65536' "$tmp/info.json"
# nbdinfo --list closes without reading the ack of its NBD_OPT_ABORT:
# that is no error for the server log.
nbdinfo --list "$uri" >/dev/null
stop_server
if grep "option reply" "$tmp/server.log"; then exit 1; fi

# A block_size answer that is not three sizes fails the connection.
cat >"$tmp/bad.sh" <<'EOF'
#!/bin/sh
case "$1" in
  get_size) echo 1M ;;
  block_size) echo 512 lots ;;
  *) exit 2 ;;
esac
EOF
chmod +x "$tmp/bad.sh"
start_server -U "$sock" sh "$tmp/bad.sh"
fails nbdinfo "$uri"
grep "block_size" "$tmp/server.log"
stop_server

# eval: the same methods as parameters.
"$NBDX" -U "$tmp/eval.sock" eval get_size='echo 1M' \
    list_exports='printf "INTERLEAVED\ne1\nd1\n"' \
    default_export='echo e1' block_size='echo 1 512 1M' \
    --run 'nbdinfo --list --json "$uri"' >"$tmp/eval.json"
jq -e '.exports | length == 1 and .[0]."export-name" == "e1" and
       .[0].description == "d1" and .[0].block_size_preferred == 512' \
    "$tmp/eval.json"

# Debian's nbdkit lists the same for the same script.
if command -v nbdkit >/dev/null && nbdkit sh --version >/dev/null 2>&1; then
    for form in names bare inter halves none; do
        [ "$(listing $form "$NBDX" | sort)" = \
          "$(listing $form nbdkit | sort)" ]
    done
fi
