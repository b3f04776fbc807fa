/* SPDX-License-Identifier: BSD-3-Clause */
/* main.c: not written yet. */
