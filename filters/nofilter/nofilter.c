/* SPDX-License-Identifier: BSD-3-Clause */
/* nofilter.c: a filter that changes nothing.
 *
 * Every call goes to the layer below as it is, zero-copy calls included;
 * useful to measure the cost of a layer, or to keep a --filter= slot in
 * a script.
 */

#include <nbdkit-filter.h>

static struct nbdkit_filter filter = {
    .name = "nofilter",
    .longname = "nbdx nofilter filter",
};

NBDKIT_REGISTER_FILTER(filter)
