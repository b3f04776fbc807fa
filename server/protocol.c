/* SPDX-License-Identifier: BSD-3-Clause */
/* protocol.c: not written yet. */
