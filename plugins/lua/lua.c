/* SPDX-License-Identifier: BSD-3-Clause */
/* lua: a plugin written as a Lua script, run by an embedded Lua 5.4
 * interpreter (see nbdx-lua-plugin(1)).
 *
 * Functions here are named lua_plugin_verb, not lua_verb, because the
 * lua_ prefix belongs to the Lua API itself.
 */

#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

/* The interpreter: created by load, closed by unload.  The thread model
 * serializes every callback, so one thread at a time uses it.
 */
static lua_State *L;
static char *script; /* script=FILE as given, owned; NULL before it */

/* A connection's handle: a registry reference to the Lua value that
 * the script's open returned.  Allocated by open, freed by close.
 */
struct lua_handle {
    int ref;
};

/* ---- calling the script ---- */

static bool
lua_plugin_defined(const char *name)
{
    bool r;

    lua_getglobal(L, name);
    r = lua_isfunction(L, -1);
    lua_pop(L, 1);
    return r;
}

/* The error object on top of the stack as text; valid until it is
 * popped.  error("msg") has prefixed it with the script's file and line.
 */
static const char *
lua_plugin_message(void)
{
    const char *msg = lua_tostring(L, -1);

    return msg ? msg : "(the error object is not a string)";
}

/* Push the script's function NAME, then the value of handle h unless h
 * is NULL; the caller pushes the other arguments.
 */
static void
lua_plugin_push(const char *name, struct lua_handle *h)
{
    lua_getglobal(L, name);
    if (h)
        lua_rawgeti(L, LUA_REGISTRYINDEX, h->ref);
}

/* Call what was pushed, nargs arguments after the function, leaving
 * nresults on the stack.  An error is logged as "NAME: message" and
 * reaches the client as EIO.
 */
static int
lua_plugin_call(const char *name, int nargs, int nresults)
{
    if (lua_pcall(L, nargs, nresults, 0) == LUA_OK)
        return 0;
    nbdkit_error("%s: %s", name, lua_plugin_message());
    lua_pop(L, 1);
    nbdkit_set_error(EIO);
    return -1;
}

/* A method without arguments or results, skipped if not defined. */
static int
lua_plugin_call_optional(const char *name)
{
    if (!lua_plugin_defined(name))
        return 0;
    lua_plugin_push(name, NULL);
    return lua_plugin_call(name, 0, 0);
}

/* A can_* method: the script's boolean, or dflt if it has none. */
static int
lua_plugin_bool(const char *name, struct lua_handle *h, int dflt)
{
    int r;

    if (!lua_plugin_defined(name))
        return dflt;
    lua_plugin_push(name, h);
    if (lua_plugin_call(name, 1, 1) == -1)
        return -1;
    if (!lua_isboolean(L, -1)) {
        nbdkit_error("%s: return value is not a boolean", name);
        lua_pop(L, 1);
        return -1;
    }
    r = lua_toboolean(L, -1);
    lua_pop(L, 1);
    return r;
}

/* ---- configuration ---- */

static void
lua_plugin_load(void)
{
    L = luaL_newstate();
    if (L == NULL) {
        nbdkit_error("could not create the Lua interpreter: %m");
        exit(EXIT_FAILURE);
    }
    luaL_openlibs(L);
}

static void
lua_plugin_unload(void)
{
    if (L)
        lua_close(L);
    free(script);
}

/* script=FILE, always first: compile it and run its top level, which
 * defines the methods.  A syntax error names the file and line.
 */
static int
lua_plugin_config_script(const char *value)
{
    script = strdup(value);
    if (script == NULL) {
        nbdkit_error("strdup: %m");
        return -1;
    }
    if (luaL_loadfile(L, script) != LUA_OK) {
        nbdkit_error("could not load Lua script: %s", lua_plugin_message());
        lua_pop(L, 1);
        return -1;
    }
    if (lua_pcall(L, 0, 0, 0) != LUA_OK) {
        nbdkit_error("could not run Lua script: %s", lua_plugin_message());
        lua_pop(L, 1);
        return -1;
    }
    return 0;
}

/* Every later parameter goes to the script's config (key, value). */
static int
lua_plugin_config(const char *key, const char *value)
{
    if (script == NULL) {
        if (strcmp(key, "script") != 0) {
            nbdkit_error("the first parameter must be script=FILE");
            return -1;
        }
        return lua_plugin_config_script(value);
    }
    if (!lua_plugin_defined("config")) {
        nbdkit_error("%s: this plugin does not need command line "
                     "configuration",
                     script);
        return -1;
    }
    lua_plugin_push("config", NULL);
    lua_pushstring(L, key);
    lua_pushstring(L, value);
    return lua_plugin_call("config", 2, 0);
}

static int
lua_plugin_config_complete(void)
{
    if (script == NULL) {
        nbdkit_error("the script parameter is required (script=FILE)");
        return -1;
    }
    if (!lua_plugin_defined("open") || !lua_plugin_defined("get_size") ||
        !lua_plugin_defined("pread")) {
        nbdkit_error("%s: the script must define the functions open, "
                     "get_size and pread",
                     script);
        return -1;
    }
    return lua_plugin_call_optional("config_complete");
}

static void
lua_plugin_dump_plugin(void)
{
    printf("lua_version=%s.%s.%s\n", LUA_VERSION_MAJOR, LUA_VERSION_MINOR,
           LUA_VERSION_RELEASE);
    fflush(stdout);
    if (script)
        lua_plugin_call_optional("dump_plugin");
    fflush(stdout);
}

/* ---- connections ---- */

static void *
lua_plugin_open(int readonly)
{
    struct lua_handle *h = malloc(sizeof *h);

    if (h == NULL) {
        nbdkit_error("malloc: %m");
        return NULL;
    }
    lua_plugin_push("open", NULL);
    lua_pushboolean(L, readonly);
    if (lua_plugin_call("open", 1, 1) == -1) {
        free(h);
        return NULL;
    }
    h->ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return h;
}

/* Dropping the reference lets Lua collect the handle's value. */
static void
lua_plugin_close(void *handle)
{
    struct lua_handle *h = handle;

    if (lua_plugin_defined("close")) {
        lua_plugin_push("close", h);
        lua_plugin_call("close", 1, 0);
    }
    luaL_unref(L, LUA_REGISTRYINDEX, h->ref);
    free(h);
}

static int64_t
lua_plugin_get_size(void *handle)
{
    lua_Integer size;
    int isnum;

    lua_plugin_push("get_size", handle);
    if (lua_plugin_call("get_size", 1, 1) == -1)
        return -1;
    size = lua_tointegerx(L, -1, &isnum);
    lua_pop(L, 1);
    if (!isnum) {
        nbdkit_error("get_size: the return value is not an integer");
        return -1;
    }
    return size;
}

static int
lua_plugin_can_write(void *handle)
{
    return lua_plugin_bool("can_write", handle, lua_plugin_defined("pwrite"));
}

static int
lua_plugin_can_flush(void *handle)
{
    return lua_plugin_bool("can_flush", handle, lua_plugin_defined("flush"));
}

static int
lua_plugin_can_trim(void *handle)
{
    return lua_plugin_bool("can_trim", handle, lua_plugin_defined("trim"));
}

/* Without a zero function, zeroes are written with pwrite. */
static int
lua_plugin_can_zero(void *handle)
{
    return lua_plugin_bool("can_zero", handle, 1);
}

static int
lua_plugin_is_rotational(void *handle)
{
    return lua_plugin_bool("is_rotational", handle, 0);
}

/* ---- data path ---- */

static int
lua_plugin_pread(void *handle, void *buf, uint32_t count, uint64_t offset,
                 uint32_t flags)
{
    const char *data;
    size_t len;

    lua_plugin_push("pread", handle);
    lua_pushinteger(L, count);
    lua_pushinteger(L, offset);
    if (lua_plugin_call("pread", 3, 1) == -1)
        return -1;
    if (lua_type(L, -1) != LUA_TSTRING) {
        nbdkit_error("pread: the return value is not a string");
        lua_pop(L, 1);
        return -1;
    }
    data = lua_tolstring(L, -1, &len);
    if (len < count) {
        nbdkit_error("pread: the returned string is shorter than count "
                     "(%zu < %" PRIu32 ")",
                     len, count);
        lua_pop(L, 1);
        return -1;
    }
    memcpy(buf, data, count);
    lua_pop(L, 1);
    return 0;
}

/* pwrite, flush and trim are only called when can_write, can_flush or
 * can_trim said yes, which by default means the function exists.
 */
static int
lua_plugin_pwrite(void *handle, const void *buf, uint32_t count,
                  uint64_t offset, uint32_t flags)
{
    if (!lua_plugin_defined("pwrite")) {
        nbdkit_error("pwrite: the script has no pwrite function");
        nbdkit_set_error(EROFS);
        return -1;
    }
    lua_plugin_push("pwrite", handle);
    lua_pushlstring(L, buf, count);
    lua_pushinteger(L, offset);
    return lua_plugin_call("pwrite", 3, 0);
}

static int
lua_plugin_flush(void *handle, uint32_t flags)
{
    if (!lua_plugin_defined("flush")) {
        nbdkit_error("flush: the script has no flush function");
        nbdkit_set_error(EINVAL);
        return -1;
    }
    lua_plugin_push("flush", handle);
    return lua_plugin_call("flush", 1, 0);
}

static int
lua_plugin_trim(void *handle, uint32_t count, uint64_t offset, uint32_t flags)
{
    if (!lua_plugin_defined("trim")) {
        nbdkit_error("trim: the script has no trim function");
        nbdkit_set_error(EINVAL);
        return -1;
    }
    lua_plugin_push("trim", handle);
    lua_pushinteger(L, count);
    lua_pushinteger(L, offset);
    return lua_plugin_call("trim", 3, 0);
}

/* Without a zero function, EOPNOTSUPP makes the server write zeroes. */
static int
lua_plugin_zero(void *handle, uint32_t count, uint64_t offset, uint32_t flags)
{
    if (!lua_plugin_defined("zero")) {
        nbdkit_debug("zero: no zero function, falling back to pwrite");
        nbdkit_set_error(EOPNOTSUPP);
        return -1;
    }
    lua_plugin_push("zero", handle);
    lua_pushinteger(L, count);
    lua_pushinteger(L, offset);
    lua_pushboolean(L, (flags & NBDKIT_FLAG_MAY_TRIM) != 0);
    return lua_plugin_call("zero", 4, 0);
}

/* The interpreter is not thread safe. */
#define THREAD_MODEL NBDKIT_THREAD_MODEL_SERIALIZE_ALL_REQUESTS

static struct nbdkit_plugin plugin = {
    .name = "lua",
    .longname = "nbdx lua plugin",
    .version = PACKAGE_VERSION,
    .description = "A plugin written as a Lua script.",
    .load = lua_plugin_load,
    .unload = lua_plugin_unload,
    .dump_plugin = lua_plugin_dump_plugin,
    .magic_config_key = "script",
    .config = lua_plugin_config,
    .config_complete = lua_plugin_config_complete,
    .config_help = "script=<FILENAME>  (required) The Lua script to run.\n"
                   "[other parameters go to the script's config function]",
    .open = lua_plugin_open,
    .close = lua_plugin_close,
    .get_size = lua_plugin_get_size,
    .can_write = lua_plugin_can_write,
    .can_flush = lua_plugin_can_flush,
    .can_trim = lua_plugin_can_trim,
    .can_zero = lua_plugin_can_zero,
    .is_rotational = lua_plugin_is_rotational,
    .pread = lua_plugin_pread,
    .pwrite = lua_plugin_pwrite,
    .flush = lua_plugin_flush,
    .trim = lua_plugin_trim,
    .zero = lua_plugin_zero,
};

NBDKIT_REGISTER_PLUGIN(plugin)
