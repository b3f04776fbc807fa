/* SPDX-License-Identifier: BSD-3-Clause */
/* ssh: a remote file served over SFTP through libssh
 * (see nbdx-ssh-plugin(1)).
 *
 * Each NBD connection has its own SSH session and SFTP channel, opened
 * by .open and closed by .close.  libssh sessions are not safe to use
 * from several threads at once, so requests are serialized per
 * connection (SERIALIZE_REQUESTS, as nbdkit's plugin does).
 *
 * libssh's own names all start with ssh_, so the helpers here keep
 * clear of the ones it exports (ssh_connect, ssh_init, ...).
 */

#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <libssh/callbacks.h>
#include <libssh/libssh.h>
#include <libssh/sftp.h>

#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

#include "cleanup.h"
#include "vector.h"

DEFINE_VECTOR_TYPE(string_vector, const char *)

/* -D ssh.log=N: libssh's log level (1 to 4), its messages as debug. */
NBDKIT_DLL_PUBLIC int ssh_debug_log = 0;

/* The configuration.  The strings belong to the server (they are the
 * command line's), except password, which is ours.
 */
static const char *host = NULL;                  /* host=, required */
static const char *path = NULL;                  /* [path=], required */
static const char *port = NULL;                  /* port=, libssh's default */
static const char *user = NULL;                  /* user=, the local user */
static char *password = NULL;                    /* password=, malloc'd */
static const char *config_file = NULL;           /* config=, see config_set */
static bool config_set = false;                  /* config= was given */
static string_vector identities = empty_vector;  /* identity=, repeatable */
static string_vector known_hosts = empty_vector; /* known-hosts=, max 2 */
static bool verify_remote_host = true;           /* verify-remote-host= */
static bool compression = false;                 /* compression= */
static long timeout = 0;                         /* timeout=, 0: libssh's */
static bool create = false;                      /* create= */
static int64_t create_size = -1;                 /* create-size= */
static unsigned create_mode = 0600;              /* create-mode= */

/* create=true makes the file on the first connection only. */
static pthread_mutex_t create_lock = PTHREAD_MUTEX_INITIALIZER;
static bool created = false; /* guarded by create_lock */

static int
ssh_parse_flag(const char *value, bool *flag)
{
    int r = nbdkit_parse_bool(value);

    if (r == -1)
        return -1;
    *flag = r;
    return 0;
}

static int
ssh_config_more(const char *key, const char *value)
{
    if (strcmp(key, "timeout") == 0) {
        int t;
        if (nbdkit_parse_int("timeout", value, &t) == -1)
            return -1;
        if (t < 0) {
            nbdkit_error("timeout must be >= 0");
            return -1;
        }
        timeout = t;
        return 0;
    }
    if (strcmp(key, "create") == 0)
        return ssh_parse_flag(value, &create);
    if (strcmp(key, "create-size") == 0) {
        create_size = nbdkit_parse_size(value);
        return create_size == -1 ? -1 : 0;
    }
    if (strcmp(key, "create-mode") == 0)
        return nbdkit_parse_unsigned("create-mode", value, &create_mode);
    nbdkit_error("unknown parameter '%s'", key);
    return -1;
}

static int
ssh_config(const char *key, const char *value)
{
    if (strcmp(key, "host") == 0)
        host = value;
    else if (strcmp(key, "path") == 0)
        path = value;
    else if (strcmp(key, "port") == 0)
        port = value;
    else if (strcmp(key, "user") == 0)
        user = value;
    else if (strcmp(key, "password") == 0) {
        free(password);
        return nbdkit_read_password(value, &password);
    } else if (strcmp(key, "config") == 0) {
        config_file = value[0] ? value : NULL;
        config_set = true;
    } else if (strcmp(key, "identity") == 0) {
        if (string_vector_append(&identities, value) == -1) {
            nbdkit_error("realloc: %m");
            return -1;
        }
    } else if (strcmp(key, "known-hosts") == 0) {
        if (known_hosts.len == 2) {
            nbdkit_error("known-hosts= may be given at most twice");
            return -1;
        }
        if (string_vector_append(&known_hosts, value) == -1) {
            nbdkit_error("realloc: %m");
            return -1;
        }
    } else if (strcmp(key, "verify-remote-host") == 0)
        return ssh_parse_flag(value, &verify_remote_host);
    else if (strcmp(key, "compression") == 0)
        return ssh_parse_flag(value, &compression);
    else
        return ssh_config_more(key, value);
    return 0;
}

static int
ssh_config_complete(void)
{
    if (host == NULL || path == NULL) {
        nbdkit_error("host= and path= are required");
        return -1;
    }
    if (create && create_size == -1) {
        nbdkit_error("create=true needs create-size=");
        return -1;
    }
    return 0;
}

#define ssh_config_help                                                        \
    "host=<HOST>     (required) SSH server hostname.\n"                        \
    "[path=]<PATH>   (required) SSH remote path.\n"                            \
    "port=<PORT>                SSH protocol port number.\n"                   \
    "user=<USER>                SSH user name.\n"                              \
    "password=<PASSWORD>        SSH password (or -, -FD, +FILE).\n"            \
    "config=<CONFIG>            Alternate local SSH configuration file.\n"     \
    "known-hosts=<FILENAME>     Set location of known_hosts file.\n"           \
    "identity=<FILENAME>        Prepend private key (identity) file.\n"        \
    "timeout=SECS               Set SSH connection timeout.\n"                 \
    "verify-remote-host=false   Ignore known_hosts.\n"                         \
    "compression=true           Enable compression.\n"                         \
    "create=true                Create the remote file.\n"                     \
    "create-mode=MODE           Set the permissions of the remote file.\n"     \
    "create-size=SIZE           Set the size of the remote file."

/* libssh's messages, as debug messages of the plugin. */
static void
ssh_log_message(int priority, const char *function, const char *message,
                void *userdata)
{
    nbdkit_debug("libssh: %s: %s", function, message);
}

static void
ssh_load(void)
{
    ssh_init();
}

/* libssh keeps its log level and callback per thread, so every
 * callback that calls libssh sets them first in its own thread.
 */
static void
ssh_log_here(void)
{
    if (ssh_debug_log > 0) {
        ssh_set_log_level(ssh_debug_log);
        ssh_set_log_callback(ssh_log_message);
    }
}

static void
ssh_unload(void)
{
    free(password);
    free(identities.ptr);
    free(known_hosts.ptr);
    ssh_finalize();
}

/* The state of one connection, allocated by .open and freed by .close:
 * the SSH session, its SFTP channel and the open remote file.  Used by
 * one request at a time (SERIALIZE_REQUESTS).
 */
struct ssh_handle {
    ssh_session session;
    sftp_session sftp;
    sftp_file file;
    bool can_fsync; /* the server has fsync@openssh.com */
};

/* Set one libssh option, saying which on failure. */
static int
ssh_set_option(ssh_session s, enum ssh_options_e opt, const void *value,
               const char *what)
{
    if (ssh_options_set(s, opt, value) != SSH_OK) {
        nbdkit_error("cannot set SSH option %s: %s", what, ssh_get_error(s));
        return -1;
    }
    return 0;
}

/* The local configuration first (it may match on the host), then the
 * command line, which wins over it.
 */
static int
ssh_set_options(ssh_session s)
{
    bool no = false;
    size_t i;

    if (ssh_set_option(s, SSH_OPTIONS_HOST, host, "host") == -1 ||
        ssh_set_option(s, SSH_OPTIONS_PROCESS_CONFIG, &no, "config") == -1)
        return -1;
    if ((!config_set || config_file) &&
        ssh_options_parse_config(s, config_file) != SSH_OK) {
        nbdkit_error("cannot read SSH config %s: %s",
                     config_file ? config_file : "(default)", ssh_get_error(s));
        return -1;
    }
    if ((port && ssh_set_option(s, SSH_OPTIONS_PORT_STR, port, "port")) ||
        (user && ssh_set_option(s, SSH_OPTIONS_USER, user, "user")) ||
        (compression &&
         ssh_set_option(s, SSH_OPTIONS_COMPRESSION, "yes", "compression")) ||
        (timeout &&
         ssh_set_option(s, SSH_OPTIONS_TIMEOUT, &timeout, "timeout")))
        return -1;
    for (i = 0; i < identities.len; i++)
        if (ssh_set_option(s, SSH_OPTIONS_ADD_IDENTITY, identities.ptr[i],
                           "identity") == -1)
            return -1;
    if (known_hosts.len >= 1 &&
        ssh_set_option(s, SSH_OPTIONS_KNOWNHOSTS, known_hosts.ptr[0],
                       "known-hosts") == -1)
        return -1;
    if (known_hosts.len == 2 &&
        ssh_set_option(s, SSH_OPTIONS_GLOBAL_KNOWNHOSTS, known_hosts.ptr[1],
                       "known-hosts") == -1)
        return -1;
    return 0;
}

/* The server's host key must be in a known hosts file, unchanged. */
static int
ssh_check_host(ssh_session s)
{
    const char *why;

    if (!verify_remote_host)
        return 0;
    switch (ssh_session_is_known_server(s)) {
    case SSH_KNOWN_HOSTS_OK:
        return 0;
    case SSH_KNOWN_HOSTS_CHANGED:
        why = "its host key has changed (possible man-in-the-middle attack)";
        break;
    case SSH_KNOWN_HOSTS_OTHER:
        why = "it sent a host key of another type than the known one";
        break;
    case SSH_KNOWN_HOSTS_NOT_FOUND:
        why = "there is no known hosts file";
        break;
    case SSH_KNOWN_HOSTS_UNKNOWN:
        why = "its host key is not in the known hosts file";
        break;
    default:
        why = ssh_get_error(s);
        break;
    }
    nbdkit_error("cannot verify SSH server %s: %s "
                 "(see known-hosts= and verify-remote-host=)",
                 host, why);
    return -1;
}

/* Log in with none, then the keys (agent and identity files), then the
 * password.  keyboard-interactive is not supported.
 */
static int
ssh_login(ssh_session s)
{
    int methods, r;

    r = ssh_userauth_none(s, NULL);
    if (r == SSH_AUTH_SUCCESS)
        return 0;
    if (r == SSH_AUTH_ERROR)
        goto error;
    methods = ssh_userauth_list(s, NULL);
    if (methods & SSH_AUTH_METHOD_PUBLICKEY) {
        r = ssh_userauth_publickey_auto(s, NULL, NULL);
        if (r == SSH_AUTH_SUCCESS)
            return 0;
        if (r == SSH_AUTH_ERROR)
            goto error;
    }
    if (password && (methods & SSH_AUTH_METHOD_PASSWORD)) {
        r = ssh_userauth_password(s, NULL, password);
        if (r == SSH_AUTH_SUCCESS)
            return 0;
        if (r == SSH_AUTH_ERROR)
            goto error;
    }
    nbdkit_error("SSH authentication to %s failed: no key%s was accepted", host,
                 password ? " or password" : "");
    return -1;
error:
    nbdkit_error("SSH authentication to %s failed: %s", host, ssh_get_error(s));
    return -1;
}

/* A new session, connected, verified and logged in; NULL on error. */
static ssh_session
ssh_start_session(void)
{
    ssh_session s = ssh_new();

    if (s == NULL) {
        nbdkit_error("ssh_new: cannot make an SSH session");
        return NULL;
    }
    if (ssh_set_options(s) == -1)
        goto free;
    if (ssh_connect(s) != SSH_OK) {
        nbdkit_error("cannot connect to SSH server %s: %s", host,
                     ssh_get_error(s));
        goto free;
    }
    if (ssh_check_host(s) == -1 || ssh_login(s) == -1)
        goto disconnect;
    return s;
disconnect:
    ssh_disconnect(s);
free:
    ssh_free(s);
    return NULL;
}

/* create=true: a new empty file of create-size bytes, replacing any. */
static int
ssh_make_file(struct ssh_handle *h)
{
    struct sftp_attributes_struct attrs = {
        .flags = SSH_FILEXFER_ATTR_SIZE,
        .size = create_size,
    };
    sftp_file f;

    f = sftp_open(h->sftp, path, O_WRONLY | O_CREAT | O_TRUNC, create_mode);
    if (f == NULL) {
        nbdkit_error("cannot create %s on %s: %s", path, host,
                     ssh_get_error(h->session));
        return -1;
    }
    sftp_close(f);
    if (sftp_setstat(h->sftp, path, &attrs) != SSH_OK) {
        nbdkit_error("cannot set the size of %s on %s: %s", path, host,
                     ssh_get_error(h->session));
        return -1;
    }
    return 0;
}

static int
ssh_make_file_once(struct ssh_handle *h)
{
    ACQUIRE_LOCK_FOR_CURRENT_SCOPE(&create_lock);

    if (!create || created)
        return 0;
    if (ssh_make_file(h) == -1)
        return -1;
    created = true;
    return 0;
}

/* The SFTP channel and the remote file, opened on h->session. */
static int
ssh_open_file(struct ssh_handle *h, int readonly)
{
    h->sftp = sftp_new(h->session);
    if (h->sftp == NULL) {
        nbdkit_error("cannot start SFTP on %s: %s", host,
                     ssh_get_error(h->session));
        return -1;
    }
    if (sftp_init(h->sftp) != SSH_OK) {
        nbdkit_error("cannot start SFTP on %s: %s (error %d)", host,
                     ssh_get_error(h->session), sftp_get_error(h->sftp));
        return -1;
    }
    if (ssh_make_file_once(h) == -1)
        return -1;
    h->file = sftp_open(h->sftp, path, readonly ? O_RDONLY : O_RDWR, 0);
    if (h->file == NULL) {
        nbdkit_error("cannot open %s on %s: %s", path, host,
                     ssh_get_error(h->session));
        return -1;
    }
    h->can_fsync = sftp_extension_supported(h->sftp, "fsync@openssh.com", "1");
    return 0;
}

static void
ssh_close(void *handle)
{
    struct ssh_handle *h = handle;

    ssh_log_here();
    if (h->file)
        sftp_close(h->file);
    if (h->sftp)
        sftp_free(h->sftp);
    if (h->session) {
        ssh_disconnect(h->session);
        ssh_free(h->session);
    }
    free(h);
}

static void *
ssh_open(int readonly)
{
    struct ssh_handle *h = calloc(1, sizeof *h);

    ssh_log_here();
    if (h == NULL) {
        nbdkit_error("calloc: %m");
        return NULL;
    }
    h->session = ssh_start_session();
    if (h->session == NULL || ssh_open_file(h, readonly) == -1) {
        ssh_close(h);
        return NULL;
    }
    return h;
}

static int64_t
ssh_get_size(void *handle)
{
    struct ssh_handle *h = handle;
    sftp_attributes attrs;
    int64_t size;

    ssh_log_here();
    attrs = sftp_fstat(h->file);
    if (attrs == NULL) {
        nbdkit_error("cannot stat %s: %s", path, ssh_get_error(h->session));
        return -1;
    }
    if (!(attrs->flags & SSH_FILEXFER_ATTR_SIZE)) {
        nbdkit_error("the SFTP server did not say the size of %s", path);
        sftp_attributes_free(attrs);
        return -1;
    }
    size = attrs->size;
    sftp_attributes_free(attrs);
    return size;
}

static int
ssh_can_flush(void *handle)
{
    struct ssh_handle *h = handle;

    return h->can_fsync;
}

static int
ssh_seek(struct ssh_handle *h, uint64_t offset)
{
    if (sftp_seek64(h->file, offset) != 0) {
        nbdkit_error("seek: %s: %s", path, ssh_get_error(h->session));
        errno = EIO;
        return -1;
    }
    return 0;
}

/* A server may return fewer bytes than sftp_read asks for (OpenSSH caps
 * a read near 256 KiB), and refuses a write packet larger than its
 * limit (256 KiB for OpenSSH), which libssh 0.10 does not split: so
 * reads loop, and writes go in pieces of at most WRITE_MAX bytes.
 */
#define WRITE_MAX (64 * 1024)

static int
ssh_pread(void *handle, void *buf, uint32_t count, uint64_t offset,
          uint32_t flags)
{
    struct ssh_handle *h = handle;
    char *p = buf;
    ssize_t r;

    ssh_log_here();
    if (ssh_seek(h, offset) == -1)
        return -1;
    while (count > 0) {
        r = sftp_read(h->file, p, count);
        if (r <= 0) {
            nbdkit_error("read: %s: %s", path,
                         r == 0 ? "unexpected end of file"
                                : ssh_get_error(h->session));
            errno = EIO;
            return -1;
        }
        p += r;
        count -= r;
    }
    return 0;
}

static int
ssh_flush(void *handle, uint32_t flags)
{
    struct ssh_handle *h = handle;

    ssh_log_here();
    if (sftp_fsync(h->file) != 0) {
        nbdkit_error("fsync: %s: %s", path, ssh_get_error(h->session));
        errno = EIO;
        return -1;
    }
    return 0;
}

static int
ssh_pwrite(void *handle, const void *buf, uint32_t count, uint64_t offset,
           uint32_t flags)
{
    struct ssh_handle *h = handle;
    const char *p = buf;
    ssize_t r;

    ssh_log_here();
    if (ssh_seek(h, offset) == -1)
        return -1;
    while (count > 0) {
        r = sftp_write(h->file, p, count < WRITE_MAX ? count : WRITE_MAX);
        if (r <= 0) {
            nbdkit_error("write: %s: %s", path, ssh_get_error(h->session));
            errno = EIO;
            return -1;
        }
        p += r;
        count -= r;
    }
    return 0;
}

#define THREAD_MODEL NBDKIT_THREAD_MODEL_SERIALIZE_REQUESTS

static struct nbdkit_plugin plugin = {
    .name = "ssh",
    .longname = "nbdx ssh plugin (SFTP through libssh)",
    .version = PACKAGE_VERSION,
    .load = ssh_load,
    .unload = ssh_unload,
    .config = ssh_config,
    .config_complete = ssh_config_complete,
    .config_help = ssh_config_help,
    .magic_config_key = "path",
    .open = ssh_open,
    .close = ssh_close,
    .get_size = ssh_get_size,
    .can_flush = ssh_can_flush,
    .pread = ssh_pread,
    .pwrite = ssh_pwrite,
    .flush = ssh_flush,
};

NBDKIT_REGISTER_PLUGIN(plugin)
