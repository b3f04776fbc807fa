/* SPDX-License-Identifier: BSD-3-Clause */
/* backend.c: not written yet. */
