/* SPDX-License-Identifier: BSD-3-Clause */
/* filters.c: not written yet. */
