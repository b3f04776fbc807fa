/* SPDX-License-Identifier: BSD-3-Clause */
/* log.c: not written yet. */
