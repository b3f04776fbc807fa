/* SPDX-License-Identifier: BSD-3-Clause */
/* test-shebang.c: unit tests of shebang.h. */

#include <string.h>

#include "shebang.h"
#include "unit.h"

/* Whether LINE names the server with plugin WANT. */
static bool
names(const char *line, const char *want)
{
    char plugin[8] = "unset";

    return shebang_names_server(line, plugin, sizeof plugin) &&
           strcmp(plugin, want) == 0;
}

int
main(void)
{
    unit_group("the server by path, directly or through env");
    CHECK(names("#!/usr/sbin/nbdx perl\n", "perl"));
    CHECK(names("#!/usr/bin/nbdkit sh", "sh"));
    CHECK(names("#! /opt/bin/nbdx\tpython\r\n", "python"));
    CHECK(names("#!nbdx lua\n", "lua"));
    CHECK(names("#!/usr/bin/env -S nbdx tcl\n", "tcl"));
    CHECK(names("#!/usr/bin/env nbdkit perl\n", "perl"));

    unit_group("no plugin after it, or one cut to the buffer");
    CHECK(names("#!/usr/sbin/nbdx\n", ""));
    CHECK(names("#!/usr/sbin/nbdx   \n", ""));
    CHECK(names("#!/usr/sbin/nbdx averylongname\n", "averylo"));
    CHECK(shebang_names_server("#!/usr/sbin/nbdx perl", NULL, 0));

    unit_group("other interpreters and lines");
    CHECK(!names("#!/bin/sh\n", ""));
    CHECK(!names("#!/usr/bin/env perl\n", ""));
    CHECK(!names("#!/usr/bin/env -S\n", ""));
    CHECK(!names("#!/usr/bin/nbdxx sh\n", ""));
    CHECK(!names("#!/usr/bin/mynbdx sh\n", ""));
    CHECK(!names("/usr/sbin/nbdx perl\n", ""));
    CHECK(!names("#!\n", ""));
    CHECK(!names("", ""));
    return unit_finish();
}
