/* SPDX-License-Identifier: BSD-3-Clause */
/* uri.c: the NBD URI of the listening endpoint, for --run and
 * --print-uri.  Forms (NBD URI spec, preferred spellings):
 *
 *   nbd://localhost[:PORT][/EXPORT]      TCP
 *   nbd+unix://[/EXPORT]?socket=PATH     unix socket
 *
 * with nbds when TLS is required.  There is none for -s or socket
 * activation: the server does not know how clients reach it.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "options.h"
#include "percent.h"

/* Write s percent-encoded, keeping unreserved characters and '/'. */
static void
uri_quote(FILE *fp, const char *s)
{
    percent_encode_fp(fp, s, "/");
}

static void
uri_export(FILE *fp)
{
    if (opts->exportname && *opts->exportname) {
        fputc('/', fp);
        uri_quote(fp, opts->exportname);
    }
}

/* With --tls=require, where the client finds its credentials. */
static void
uri_tls_params(FILE *fp, char sep)
{
    if (opts->tls != 2)
        return;
    if (opts->tls_psk) {
        fprintf(fp, "%ctls-psk-file=", sep);
        uri_quote(fp, opts->tls_psk);
    } else if (opts->tls_certificates_dir) {
        fprintf(fp, "%ctls-certificates=", sep);
        uri_quote(fp, opts->tls_certificates_dir);
    }
}

static void
uri_write_tcp(FILE *fp)
{
    fputs(opts->tls == 2 ? "nbds://" : "nbd://", fp);
    if (opts->ipaddr == NULL)
        fputs("localhost", fp);
    else if (strchr(opts->ipaddr, ':'))
        fprintf(fp, "[%s]", opts->ipaddr);
    else
        fputs(opts->ipaddr, fp);
    if (opts->port && strcmp(opts->port, "10809") != 0)
        fprintf(fp, ":%s", opts->port);
    uri_export(fp);
    uri_tls_params(fp, '?');
}

static void
uri_write_unix(FILE *fp)
{
    fputs(opts->tls == 2 ? "nbds+unix://" : "nbd+unix://", fp);
    uri_export(fp);
    fputs("?socket=", fp);
    uri_quote(fp, opts->unixsocket);
    uri_tls_params(fp, '&');
}

char *
uri_make(void)
{
    char *s = NULL;
    size_t len = 0;
    FILE *fp;

    if (opts->listen_stdin || socket_activation)
        return NULL;
    fp = open_memstream(&s, &len);
    if (fp == NULL) {
        nbdkit_error("open_memstream: %m");
        return NULL;
    }
    if (opts->unixsocket)
        uri_write_unix(fp);
    else
        uri_write_tcp(fp);
    if (fclose(fp) == EOF) {
        nbdkit_error("open_memstream: %m");
        free(s);
        return NULL;
    }
    return s;
}

void
uri_print(void)
{
    CLEANUP_FREE char *uri = uri_make();

    if (uri == NULL)
        return;
    printf("%s\n", uri);
    fflush(stdout);
}
