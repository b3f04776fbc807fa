/* SPDX-License-Identifier: BSD-3-Clause */
/* protocol-handshake.c: not written yet. */
