/* SPDX-License-Identifier: BSD-3-Clause */
/* debug-flags.c: not written yet. */
