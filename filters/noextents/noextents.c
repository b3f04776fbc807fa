/* SPDX-License-Identifier: BSD-3-Clause */
/* noextents.c: hide the layer below's block status.
 *
 * can_extents is false, so the server answers every block status
 * request with one data extent, whatever the plugin could say.  Nothing
 * else changes; the data calls (and their zero-copy paths) go straight
 * through.
 */

#include <nbdkit-filter.h>

static int
noextents_can_extents(nbdkit_next *next, void *handle)
{
    return 0;
}

static struct nbdkit_filter filter = {
    .name = "noextents",
    .longname = "nbdx noextents filter",
    .can_extents = noextents_can_extents,
};

NBDKIT_REGISTER_FILTER(filter)
