/* SPDX-License-Identifier: BSD-3-Clause */
/* quit.c: not written yet. */
