/* SPDX-License-Identifier: BSD-3-Clause */
/* threadlocal.c: not written yet. */
