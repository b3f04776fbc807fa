/* SPDX-License-Identifier: BSD-3-Clause */
/* sockets.c: not written yet. */
