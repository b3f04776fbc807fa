/* SPDX-License-Identifier: BSD-3-Clause */
/* protocol-handshake-oldstyle.c: not written yet. */
