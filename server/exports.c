/* SPDX-License-Identifier: BSD-3-Clause */
/* exports.c: not written yet. */
