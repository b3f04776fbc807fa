/* SPDX-License-Identifier: BSD-3-Clause */
/* plugins.c: not written yet. */
