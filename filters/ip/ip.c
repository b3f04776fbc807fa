/* SPDX-License-Identifier: BSD-3-Clause */
/* ip.c: allow or deny clients by address, or by the process, user,
 * group or security label at the other end of a Unix socket.
 *
 * allow= and deny= are comma-separated lists of rules (each parameter
 * may be given more than once, adding to its list).  At preconnect a
 * client that matches a rule of the allow list is let in; otherwise one
 * that matches a rule of the deny list is disconnected; anyone else is
 * let in.  An IPv4 client on an IPv6 socket (::ffff:A.B.C.D) counts as
 * IPv4.
 */

#include <arpa/inet.h>
#include <linux/vm_sockets.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <nbdkit-filter.h>

enum rule_kind {
    RULE_ANY,
    RULE_ANY_IPV4,
    RULE_ANY_IPV6,
    RULE_ANY_UNIX,
    RULE_ANY_VSOCK,
    RULE_IPV4,
    RULE_IPV6,
    RULE_PID,
    RULE_UID,
    RULE_GID,
    RULE_VSOCK_CID,
    RULE_VSOCK_PORT,
    RULE_SECURITY,
};

struct rule {
    enum rule_kind kind;
    unsigned prefix;   /* RULE_IPV4, RULE_IPV6: bits that must match */
    uint8_t addr[16];  /* RULE_IPV4 (4 bytes), RULE_IPV6 (16 bytes) */
    int64_t id;        /* pid, uid, gid, cid or port */
    const char *label; /* RULE_SECURITY; points into text */
    char *text;        /* the rule as written, owned */
};

struct rules {
    struct rule *v; /* owned, n entries */
    size_t n;
};

/* Written by config only, then read-only; freed by unload. */
static struct rules allow, deny;

/* The client as preconnect sees it. */
struct peer {
    int family;            /* AF_INET for an IPv4-mapped IPv6 address */
    uint8_t addr[16];      /* AF_INET (4 bytes), AF_INET6 */
    struct sockaddr_vm vm; /* AF_VSOCK */
};

static const struct {
    const char *word;
    enum rule_kind kind;
} keywords[] = {
    {"all", RULE_ANY},
    {"any", RULE_ANY},
    {"allipv4", RULE_ANY_IPV4},
    {"anyipv4", RULE_ANY_IPV4},
    {"allipv6", RULE_ANY_IPV6},
    {"anyipv6", RULE_ANY_IPV6},
    {"allunix", RULE_ANY_UNIX},
    {"anyunix", RULE_ANY_UNIX},
    {"allvsock", RULE_ANY_VSOCK},
    {"anyvsock", RULE_ANY_VSOCK},
};

static const struct {
    const char *prefix; /* with its colon */
    enum rule_kind kind;
    int64_t min, max;
} id_rules[] = {
    {"pid:", RULE_PID, 1, INT32_MAX},
    {"uid:", RULE_UID, 0, UINT32_MAX - 1},
    {"gid:", RULE_GID, 0, UINT32_MAX - 1},
    {"vsock-cid:", RULE_VSOCK_CID, 0, UINT32_MAX},
    {"vsock-port:", RULE_VSOCK_PORT, 0, UINT32_MAX},
};

/* R->text, after KEY=, is "PREFIX:NUMBER" for id_rules[I]: parse the
 * number.
 */
static int
rule_parse_id(struct rule *r, const char *key, size_t i)
{
    const char *num = r->text + strlen(id_rules[i].prefix);

    if (nbdkit_parse_int64_t(key, num, &r->id) == -1)
        return -1;
    if (r->id < id_rules[i].min || r->id > id_rules[i].max) {
        nbdkit_error("%s: %s: out of range", key, r->text);
        return -1;
    }
    r->kind = id_rules[i].kind;
    return 0;
}

/* R->text is an address, with /PREFIX or not.  Returns 0, 1 when it is
 * no address at all, or -1 after nbdkit_error for a bad prefix.
 */
static int
rule_parse_address(struct rule *r, const char *key)
{
    char addr[INET6_ADDRSTRLEN + 1];
    const char *slash = strchr(r->text, '/');
    size_t len = slash ? (size_t)(slash - r->text) : strlen(r->text);
    unsigned max;

    if (len >= sizeof addr)
        return 1;
    memcpy(addr, r->text, len);
    addr[len] = '\0';
    if (inet_pton(AF_INET, addr, r->addr) == 1)
        r->kind = RULE_IPV4;
    else if (inet_pton(AF_INET6, addr, r->addr) == 1)
        r->kind = RULE_IPV6;
    else
        return 1;
    max = r->kind == RULE_IPV4 ? 32 : 128;
    r->prefix = max;
    if (slash == NULL)
        return 0;
    if (nbdkit_parse_unsigned(key, slash + 1, &r->prefix) == -1)
        return -1;
    if (r->prefix > max) {
        nbdkit_error("%s: %s: the prefix length is more than %u", key, r->text,
                     max);
        return -1;
    }
    return 0;
}

/* Fill R from its text, the rule as written after KEY=. */
static int
rule_parse(struct rule *r, const char *key)
{
    size_t i;
    int ret;

    for (i = 0; i < sizeof keywords / sizeof keywords[0]; i++)
        if (strcmp(r->text, keywords[i].word) == 0) {
            r->kind = keywords[i].kind;
            return 0;
        }
    for (i = 0; i < sizeof id_rules / sizeof id_rules[0]; i++)
        if (strncmp(r->text, id_rules[i].prefix, strlen(id_rules[i].prefix)) ==
            0)
            return rule_parse_id(r, key, i);
    if (strncmp(r->text, "security:", 9) == 0 && r->text[9] != '\0') {
        r->kind = RULE_SECURITY;
        r->label = r->text + 9;
        return 0;
    }
    ret = rule_parse_address(r, key);
    if (ret == 1)
        nbdkit_error("%s: don't know how to parse rule: \"%s\"", key, r->text);
    return ret == 0 ? 0 : -1;
}

/* Append the rule [S, S+LEN) to LIST. */
static int
rules_add(struct rules *list, const char *key, const char *s, size_t len)
{
    struct rule *v, *r;

    v = realloc(list->v, (list->n + 1) * sizeof *v);
    if (v == NULL) {
        nbdkit_error("realloc: %m");
        return -1;
    }
    list->v = v;
    r = &v[list->n];
    memset(r, 0, sizeof *r);
    r->text = strndup(s, len);
    if (r->text == NULL) {
        nbdkit_error("strndup: %m");
        return -1;
    }
    if (rule_parse(r, key) == -1) {
        free(r->text);
        return -1;
    }
    list->n++;
    return 0;
}

/* Add every rule of the comma-separated VALUE to LIST; an empty VALUE
 * adds none.
 */
static int
rules_parse(struct rules *list, const char *key, const char *value)
{
    const char *p = value, *comma;

    if (*value == '\0')
        return 0;
    for (;;) {
        comma = strchr(p, ',');
        if (rules_add(list, key, p, comma ? (size_t)(comma - p) : strlen(p)) ==
            -1)
            return -1;
        if (comma == NULL)
            return 0;
        p = comma + 1;
    }
}

static void
rules_free(struct rules *list)
{
    size_t i;

    for (i = 0; i < list->n; i++)
        free(list->v[i].text);
    free(list->v);
    list->v = NULL;
    list->n = 0;
}

static int
ip_config(nbdkit_next_config *next, nbdkit_backend *nxdata, const char *key,
          const char *value)
{
    if (strcmp(key, "allow") == 0)
        return rules_parse(&allow, key, value);
    if (strcmp(key, "deny") == 0)
        return rules_parse(&deny, key, value);
    return next(nxdata, key, value);
}

#define ip_config_help                                                         \
    "allow=addr[,addr...]      Clients to let in.\n"                           \
    "deny=addr[,addr...]       Clients to turn away (when not allowed)."

static void
ip_unload(void)
{
    rules_free(&allow);
    rules_free(&deny);
}

/* The first BITS bits of A and B are the same. */
static bool
prefix_equal(const uint8_t *a, const uint8_t *b, unsigned bits)
{
    unsigned whole = bits / 8, rest = bits % 8;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));

    if (memcmp(a, b, whole) != 0)
        return false;
    return rest == 0 || ((a[whole] ^ b[whole]) & mask) == 0;
}

/* The Unix socket credential that rule R names matches the peer's;
 * failures to get it (logged by the server) are no match.
 */
static bool
match_cred(const struct rule *r)
{
    int64_t v;

    if (r->kind == RULE_PID)
        v = nbdkit_peer_pid();
    else if (r->kind == RULE_UID)
        v = nbdkit_peer_uid();
    else
        v = nbdkit_peer_gid();
    return v != -1 && v == r->id;
}

static bool
match_security(const struct rule *r)
{
    char *label = nbdkit_peer_security_context();
    bool ret = label != NULL && strcmp(label, r->label) == 0;

    free(label);
    return ret;
}

static bool
rule_matches(const struct rule *r, const struct peer *p)
{
    switch (r->kind) {
    case RULE_ANY:
        return true;
    case RULE_ANY_IPV4:
        return p->family == AF_INET;
    case RULE_ANY_IPV6:
        return p->family == AF_INET6;
    case RULE_ANY_UNIX:
        return p->family == AF_UNIX;
    case RULE_ANY_VSOCK:
        return p->family == AF_VSOCK;
    case RULE_IPV4:
        return p->family == AF_INET &&
               prefix_equal(p->addr, r->addr, r->prefix);
    case RULE_IPV6:
        return p->family == AF_INET6 &&
               prefix_equal(p->addr, r->addr, r->prefix);
    case RULE_PID:
    case RULE_UID:
    case RULE_GID:
        return p->family == AF_UNIX && match_cred(r);
    case RULE_VSOCK_CID:
        return p->family == AF_VSOCK && p->vm.svm_cid == r->id;
    case RULE_VSOCK_PORT:
        return p->family == AF_VSOCK && p->vm.svm_port == r->id;
    case RULE_SECURITY:
        return match_security(r);
    }
    return false;
}

/* The first rule of LIST that P matches, or NULL. */
static const struct rule *
rules_match(const struct rules *list, const struct peer *p)
{
    size_t i;

    for (i = 0; i < list->n; i++)
        if (rule_matches(&list->v[i], p))
            return &list->v[i];
    return NULL;
}

/* Who is at the other end of this connection. */
static int
peer_get(struct peer *p)
{
    static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0,    0,
                                         0, 0, 0, 0, 0xff, 0xff};
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&ss;

    memset(&ss, 0, sizeof ss);
    if (nbdkit_peer_name((struct sockaddr *)&ss, &len) == -1)
        return -1;
    p->family = ss.ss_family;
    if (ss.ss_family == AF_INET)
        memcpy(p->addr, &((const struct sockaddr_in *)&ss)->sin_addr, 4);
    else if (ss.ss_family == AF_INET6 &&
             memcmp(sin6->sin6_addr.s6_addr, v4mapped, 12) == 0) {
        p->family = AF_INET;
        memcpy(p->addr, sin6->sin6_addr.s6_addr + 12, 4);
    } else if (ss.ss_family == AF_INET6)
        memcpy(p->addr, sin6->sin6_addr.s6_addr, 16);
    else if (ss.ss_family == AF_VSOCK)
        memcpy(&p->vm, &ss, sizeof p->vm);
    return 0;
}

static int
ip_preconnect(nbdkit_next_preconnect *next, nbdkit_backend *nxdata,
              int readonly)
{
    const struct rule *r;
    struct peer p;

    if (allow.n == 0 && deny.n == 0)
        return next(nxdata, readonly);
    memset(&p, 0, sizeof p);
    if (peer_get(&p) == -1)
        return -1;
    r = rules_match(&allow, &p);
    if (r != NULL) {
        nbdkit_debug("ip: client allowed by rule allow=%s", r->text);
        return next(nxdata, readonly);
    }
    r = rules_match(&deny, &p);
    if (r != NULL) {
        nbdkit_error("client not permitted to connect because of rule "
                     "deny=%s",
                     r->text);
        return -1;
    }
    nbdkit_debug("ip: client allowed by default (no rule matched)");
    return next(nxdata, readonly);
}

static struct nbdkit_filter filter = {
    .name = "ip",
    .longname = "nbdx ip filter",
    .config = ip_config,
    .config_help = ip_config_help,
    .unload = ip_unload,
    .preconnect = ip_preconnect,
};

NBDKIT_REGISTER_FILTER(filter)
