#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# headers-cxx.sh: the public headers compile as C++11 (-Werror), and a C++
# plugin built with them registers plugin_init with C linkage.
. "$SRCDIR/tests/lib.sh"
requires c++ nm
set -x

CXX=${CXX:-c++}
flags=(-std=c++11 -Werror -Wall -Wno-unused-parameter -fPIC
       -I"$SRCDIR/include" -I"$BUILDDIR")

cat >"$tmp/plugin.cpp" <<'EOF2'
#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>
#include <nbdkit-filter.h>
#include <nbdx-extensions.h>
#include <cstring>
#define THREAD_MODEL NBDKIT_THREAD_MODEL_PARALLEL
namespace {
void *cxx_open(int) { return NBDKIT_HANDLE_NOT_NEEDED; }
int64_t cxx_get_size(void *) { return 512; }
int cxx_pread(void *, void *buf, uint32_t n, uint64_t, uint32_t)
{
    std::memset(buf, 'x', n);
    return 0;
}
struct nbdkit_plugin make_plugin()
{
    struct nbdkit_plugin p = nbdkit_plugin();
    p.name = "cxx";
    p.open = cxx_open;
    p.get_size = cxx_get_size;
    p.pread = cxx_pread;
    return p;
}
struct nbdkit_plugin plugin = make_plugin();
} // namespace
NBDKIT_REGISTER_PLUGIN(plugin)
EOF2
"$CXX" "${flags[@]}" -shared -o "$tmp/plugin.so" "$tmp/plugin.cpp"
nm -D --defined-only "$tmp/plugin.so" | tee "$tmp/syms"
grep -qE ' T plugin_init$' "$tmp/syms" ||
    { echo "FAIL: plugin_init not exported with C linkage" >&2; exit 1; }

# And it serves, when the server is there to load it.
requires nbdsh
start_server -U "$sock" "$tmp/plugin.so"
nbdsh_u -c 'assert h.get_size() == 512; assert h.pread(512, 0) == b"x" * 512'
