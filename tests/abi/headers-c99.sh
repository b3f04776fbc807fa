#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# headers-c99.sh: each public header compiles on its own as strict C99
# (-std=c99 -pedantic -Werror), with API version 1 and 2, including a full
# plugin/filter registration; nbdkit-common.h alone is refused; and
# struct nbdkit_plugin keeps nbdkit's size and field offsets on LP64.
. "$SRCDIR/tests/lib.sh"
requires cc
set -x

CC=${CC:-cc}
flags=(-std=c99 -pedantic -Werror -Wall -Wextra -Wno-unused-parameter
       -I"$SRCDIR/include" -I"$BUILDDIR")

compile() { # NAME: compile $tmp/NAME.c and check which headers were used
    "$CC" "${flags[@]}" -H -c "$tmp/$1.c" -o "$tmp/$1.o" 2>"$tmp/$1.h.log" ||
        { cat "$tmp/$1.h.log" >&2; echo "FAIL: $1" >&2; exit 1; }
    # The nbdkit headers must be ours, not an installed copy.
    if grep -E '^\.+ .*nbdkit-[a-z]+\.h' "$tmp/$1.h.log" |
        grep -vE "^\.+ ($SRCDIR/include|$BUILDDIR)/"; then
        echo "FAIL: $1 used nbdkit headers from outside the tree" >&2
        exit 1
    fi
    echo "ok: $1"
}

for api in 1 2; do
    cat >"$tmp/plugin$api.c" <<EOF2
#define NBDKIT_API_VERSION $api
#include <nbdkit-plugin.h>
#define THREAD_MODEL NBDKIT_THREAD_MODEL_PARALLEL
static void *p_open(int readonly) { return NBDKIT_HANDLE_NOT_NEEDED; }
static int64_t p_get_size(void *h) { return 0; }
#if NBDKIT_API_VERSION == 1
static int p_pread(void *h, void *b, uint32_t n, uint64_t o) { return 0; }
#else
static int p_pread(void *h, void *b, uint32_t n, uint64_t o, uint32_t f)
{ return 0; }
#endif
static struct nbdkit_plugin plugin = {
    .name = "c99", .open = p_open, .get_size = p_get_size, .pread = p_pread,
};
NBDKIT_REGISTER_PLUGIN(plugin)
/* Use a few declarations so they are type-checked. */
void use(void);
void use(void)
{
    nbdkit_error("%s %d", "x", 1);
    nbdkit_debug("%u", 1u);
    nbdkit_set_error(EIO);
    (void)nbdkit_parse_size("1M");
}
EOF2
    compile "plugin$api"
done

cat >"$tmp/filter.c" <<'EOF2'
#include <nbdkit-filter.h>
static struct nbdkit_filter filter = { .name = "c99" };
NBDKIT_REGISTER_FILTER(filter)
EOF2
compile filter

cat >"$tmp/extensions.c" <<'EOF2'
#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>
#include <nbdx-extensions.h>
int extensions = NBDX_EXTENSION_VERSION;
EOF2
compile extensions

cat >"$tmp/both.c" <<'EOF2'
#include <nbdkit-plugin.h>
#include <nbdkit-filter.h>
#include <nbdkit-plugin.h>
int both;
EOF2
compile both

# The plugin struct is nbdkit's: 384 bytes on LP64 (append-only ABI).
cat >"$tmp/size.c" <<'EOF2'
#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>
#include <stddef.h>
typedef char size_check[sizeof(void *) != 8 ||
                        sizeof(struct nbdkit_plugin) == 384 ? 1 : -1];
#define AT(field, off) \
    (sizeof(void *) != 8 || offsetof(struct nbdkit_plugin, field) == (off))
typedef char offset_check[AT(pread, 216) && AT(magic_config_key, 256) &&
                          AT(thread_model, 304) && AT(block_size, 376)
                          ? 1 : -1];
EOF2
compile size

# nbdkit-common.h is not for direct inclusion.
printf '#include <nbdkit-common.h>\n' >"$tmp/common.c"
fails "$CC" "${flags[@]}" -c "$tmp/common.c" -o "$tmp/common.o"
