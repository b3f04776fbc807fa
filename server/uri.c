/* SPDX-License-Identifier: BSD-3-Clause */
/* uri.c: not written yet. */
