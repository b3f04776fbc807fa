/* SPDX-License-Identifier: BSD-3-Clause */
/* captive.c: not written yet. */
