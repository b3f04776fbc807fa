/* SPDX-License-Identifier: BSD-3-Clause */
/* extents.c: not written yet. */
