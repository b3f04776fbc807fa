/* SPDX-License-Identifier: BSD-3-Clause */
/* connection.c: not written yet. */
