/* SPDX-License-Identifier: BSD-3-Clause */
/* crypto.c: TLS with GnuTLS; being written. */
