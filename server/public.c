/* SPDX-License-Identifier: BSD-3-Clause */
/* public.c: not written yet. */
