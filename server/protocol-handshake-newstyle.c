/* SPDX-License-Identifier: BSD-3-Clause */
/* protocol-handshake-newstyle.c: not written yet. */
