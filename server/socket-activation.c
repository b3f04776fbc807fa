/* SPDX-License-Identifier: BSD-3-Clause */
/* socket-activation.c: not written yet. */
