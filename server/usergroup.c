/* SPDX-License-Identifier: BSD-3-Clause */
/* usergroup.c: not written yet. */
