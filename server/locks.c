/* SPDX-License-Identifier: BSD-3-Clause */
/* locks.c: not written yet. */
