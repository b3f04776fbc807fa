/* SPDX-License-Identifier: BSD-3-Clause */
/* curl-script.c: header-script= and cookie-script= (see curl-script.h
 * and "HEADER AND COOKIE SCRIPTS" in nbdx-curl-plugin(1)).
 *
 * A script runs under /bin/sh with $iteration (0 the first time) and
 * $url set.  The header script prints one header a line; the cookie
 * script one line, the cookie.  Each output is kept with a generation
 * number; a handle that has seen an older generation is given the new
 * output before its next request.
 */

#include <config.h>

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include <curl/curl.h>

#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

#include "call.h"
#include "curl-script.h"

/* One script and what it printed last. */
struct script {
    const char *name;   /* "header-script" or "cookie-script" */
    char *text;         /* the parameter; NULL: not given */
    long renew;         /* -renew= seconds; 0: run once */
    unsigned iteration; /* runs so far */
    time_t last;        /* when it last ran (CLOCK_MONOTONIC seconds) */
    char *out;          /* its last output, owned here */
};

static struct script header_script = {.name = "header-script"};
static struct script cookie_script = {.name = "cookie-script"};

/* Guards the scripts' runs and outputs, and generation.  Held while a
 * script runs: the requests that need its output wait for it.
 */
static pthread_mutex_t script_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned generation = 0; /* bumped by every run */

static int
script_set_renew(struct script *s, const char *key, const char *value)
{
    int32_t n;

    if (nbdkit_parse_int32_t(key, value, &n) == -1)
        return -1;
    if (n < 0) {
        nbdkit_error("%s: must not be negative", key);
        return -1;
    }
    s->renew = n;
    return 0;
}

static int
script_set_text(struct script *s, const char *value)
{
    free(s->text);
    s->text = strdup(value);
    if (s->text == NULL) {
        nbdkit_error("strdup: %m");
        return -1;
    }
    return 0;
}

int
script_config(const char *key, const char *value)
{
    if (strcmp(key, "header-script") == 0)
        return script_set_text(&header_script, value);
    if (strcmp(key, "cookie-script") == 0)
        return script_set_text(&cookie_script, value);
    if (strcmp(key, "header-script-renew") == 0)
        return script_set_renew(&header_script, key, value);
    if (strcmp(key, "cookie-script-renew") == 0)
        return script_set_renew(&cookie_script, key, value);
    return 1;
}

int
script_config_complete(bool have_headers, bool have_cookie)
{
    if (have_headers && header_script.text != NULL) {
        nbdkit_error("header-script cannot be used with header");
        return -1;
    }
    if (have_cookie && cookie_script.text != NULL) {
        nbdkit_error("cookie-script cannot be used with cookie");
        return -1;
    }
    if (header_script.renew > 0 && header_script.text == NULL) {
        nbdkit_error("header-script-renew needs header-script");
        return -1;
    }
    if (cookie_script.renew > 0 && cookie_script.text == NULL) {
        nbdkit_error("cookie-script-renew needs cookie-script");
        return -1;
    }
    return 0;
}

bool
script_in_use(void)
{
    return header_script.text != NULL || cookie_script.text != NULL;
}

static time_t
script_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec;
}

/* Has S not run yet, or run more than its renew seconds ago? */
static bool
script_due(const struct script *s, time_t now)
{
    if (s->text == NULL)
        return false;
    if (s->iteration == 0)
        return true;
    return s->renew > 0 && now - s->last >= s->renew;
}

/* Say why S failed: its exit status and the end of its stderr. */
static void
script_report(const struct script *s, const struct call_output *o)
{
    const char *err = o->err;
    size_t len = o->errlen;

    while (len > 0 && err[len - 1] == '\n')
        len--;
    if (WIFEXITED(o->wstatus))
        nbdkit_error("%s failed with exit status %d%s%.*s", s->name,
                     WEXITSTATUS(o->wstatus), len ? ": " : "", (int)len, err);
    else
        nbdkit_error("%s was killed by signal %d%s%.*s", s->name,
                     WTERMSIG(o->wstatus), len ? ": " : "", (int)len, err);
}

/* Run S with $iteration and $url, keeping its stdout in s->out. */
static int
script_run(struct script *s, const char *url)
{
    static const char prologue[] =
        "iteration=$1 url=$2; export iteration url; shift 2\n";
    char iter[16];
    char *cmd;
    struct call_output o;
    const char *argv[] = {"/bin/sh", "-c", NULL, "sh", iter, url, NULL};

    snprintf(iter, sizeof iter, "%u", s->iteration);
    if (asprintf(&cmd, "%s%s", prologue, s->text) == -1) {
        nbdkit_error("asprintf: %m");
        return -1;
    }
    argv[2] = cmd;
    if (call_run(argv, NULL, 0, &o) == -1) {
        nbdkit_error("%s: cannot run /bin/sh: %m", s->name);
        free(cmd);
        return -1;
    }
    free(cmd);
    if (!WIFEXITED(o.wstatus) || WEXITSTATUS(o.wstatus) != 0) {
        script_report(s, &o);
        call_output_free(&o);
        return -1;
    }
    free(s->out);
    s->out = o.out; /* taken over */
    o.out = NULL;
    call_output_free(&o);
    s->iteration++;
    s->last = script_now();
    nbdkit_debug("curl: %s run (iteration %u)", s->name, s->iteration - 1);
    return 0;
}

/* The header script's output as a list, one header a line, no empty
 * lines.  NULL with *ERR false for no headers; NULL and *ERR after an
 * error.
 */
static struct curl_slist *
script_lines(const char *text, bool *err)
{
    struct curl_slist *l = NULL, *l2;
    char *copy = strdup(text), *line, *save = NULL;

    *err = copy == NULL;
    for (line = copy ? strtok_r(copy, "\r\n", &save) : NULL; line != NULL;
         line = strtok_r(NULL, "\r\n", &save)) {
        l2 = curl_slist_append(l, line);
        if (l2 == NULL) {
            *err = true;
            break;
        }
        l = l2;
    }
    free(copy);
    if (*err) {
        curl_slist_free_all(l);
        nbdkit_error("%s: out of memory", header_script.name);
        return NULL;
    }
    return l;
}

/* Run the scripts that are due.  Called with script_lock held. */
static int
script_refresh(const char *url)
{
    time_t now = script_now();

    if (script_due(&cookie_script, now)) {
        if (script_run(&cookie_script, url) == -1)
            return -1;
        cookie_script.out[strcspn(cookie_script.out, "\r\n")] = '\0';
        generation++;
    }
    if (script_due(&header_script, now)) {
        if (script_run(&header_script, url) == -1)
            return -1;
        generation++;
    }
    return 0;
}

/* Give handle C the current output.  Called with script_lock held. */
static int
script_give(CURL *c, struct script_seen *seen)
{
    CURLcode r = CURLE_OK;
    struct curl_slist *l;
    bool err;

    if (header_script.text != NULL) {
        l = script_lines(header_script.out, &err);
        if (err)
            return -1;
        r = curl_easy_setopt(c, CURLOPT_HTTPHEADER, l);
        curl_slist_free_all(seen->headers); /* libcurl now holds l */
        seen->headers = l;
    }
    if (r == CURLE_OK && cookie_script.text != NULL)
        r = curl_easy_setopt(c, CURLOPT_COOKIE, cookie_script.out);
    if (r != CURLE_OK) {
        nbdkit_error("curl_easy_setopt: %s", curl_easy_strerror(r));
        return -1;
    }
    seen->generation = generation;
    return 0;
}

int
script_apply(CURL *c, struct script_seen *seen, const char *url)
{
    int r;

    if (!script_in_use())
        return 0;
    /* Scripts without -renew= run once, all together: a handle that got
     * their output has it for good.
     */
    if (seen->generation != 0 && header_script.renew == 0 &&
        cookie_script.renew == 0)
        return 0;
    pthread_mutex_lock(&script_lock);
    r = script_refresh(url);
    if (r == 0 && seen->generation != generation)
        r = script_give(c, seen);
    pthread_mutex_unlock(&script_lock);
    if (r == -1)
        nbdkit_set_error(EIO);
    return r;
}

void
script_seen_free(struct script_seen *seen)
{
    curl_slist_free_all(seen->headers);
    seen->headers = NULL;
    seen->generation = 0;
}

void
script_unload(void)
{
    free(header_script.text);
    free(header_script.out);
    free(cookie_script.text);
    free(cookie_script.out);
}
