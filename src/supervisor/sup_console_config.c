/*
 * sup_console_config.c - keysupd.conf keys of the operator console:
 * where its files are, how long a session lives, and the sign-in lock.
 */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <string.h>
#include <sys/stat.h>

#include "sup_console.h"

#ifndef KS_WEB_DIR_INSTALLED
#define KS_WEB_DIR_INSTALLED "/usr/share/keysup/web"
#endif
#ifndef KS_WEB_DIR_SOURCE
#define KS_WEB_DIR_SOURCE ""
#endif

void sup_console_config_defaults(sup_config *c)
{
    c->console.web_dir[0] = '\0';
    c->console.idle = 15 * 60;
    c->console.session_max = 12 * 3600;
    c->console.deny = 5;
    c->console.deny_global = 25;
    c->console.fail_interval = 15 * 60;
    c->console.unlock_time = 10 * 60;
    c->console.trusted_proxy_set = 0;
}

/* An IPv4 or IPv6 address as sup_client holds it (IPv4 mapped); "" is off. */
static int proxy_address(sup_config *c, const char *v)
{
    struct in_addr a4;
    memset(c->console.trusted_proxy, 0, sizeof c->console.trusted_proxy);
    c->console.trusted_proxy_set = 0;
    if (!*v)
        return 0;
    if (inet_pton(AF_INET, v, &a4) == 1) {
        c->console.trusted_proxy[10] = c->console.trusted_proxy[11] = 0xff;
        memcpy(c->console.trusted_proxy + 12, &a4, 4);
    } else if (inet_pton(AF_INET6, v, c->console.trusted_proxy) != 1) {
        return -1;
    }
    c->console.trusted_proxy_set = 1;
    return 0;
}

int sup_console_config_key(sup_config *c, const char *k, const char *v)
{
    uint64_t x;
    if (strcmp(k, "web_dir") == 0) {
        if (strlen(v) >= sizeof c->console.web_dir)
            return -1;
        snprintf(c->console.web_dir, sizeof c->console.web_dir, "%s", v);
        return 0;
    }
    if (strcmp(k, "console_trusted_proxy") == 0)
        return proxy_address(c, v);
#define NUM(name, lo, hi, field)                                                         \
    if (strcmp(k, name) == 0) {                                                          \
        if (sup_config_uint(v, lo, hi, &x))                                              \
            return -1;                                                                   \
        c->console.field = (uint32_t)x;                                                  \
        return 0;                                                                        \
    }
    NUM("console_idle", 2, 7 * 86400, idle)
    NUM("console_session_max", 2, 30 * 86400, session_max)
    NUM("console_deny", 1, 1000, deny)
    NUM("console_deny_global", 1, 100000, deny_global)
    NUM("console_fail_interval", 1, 86400, fail_interval)
    NUM("console_unlock_time", 1, 30 * 86400, unlock_time)
#undef NUM
    return -2;
}

void sup_console_config_write(const sup_config *c, FILE *f)
{
    fprintf(f,
            "\n# Operator console (docs/console.md), served at / on the API's port.\n"
            "# Directory of its files; unset: the installed one (share/keysup/web).\n"
            "%sweb_dir = %s\n"
            "# Seconds a signed-in session may sit idle, and its longest life.\n"
            "console_idle = %u\n"
            "console_session_max = %u\n"
            "# Failed sign-ins within console_fail_interval seconds that lock an\n"
            "# operator out from one address (console_deny) and from every address\n"
            "# but those it signed in from (console_deny_global), and the seconds\n"
            "# the lock lasts (`keysup operator unlock`).\n"
            "console_deny = %u\n"
            "console_deny_global = %u\n"
            "console_fail_interval = %u\n"
            "console_unlock_time = %u\n",
            c->console.web_dir[0] ? "" : "# ", c->console.web_dir, c->console.idle,
            c->console.session_max, c->console.deny, c->console.deny_global, c->console.fail_interval,
            c->console.unlock_time);
    {
        /* Commented out unless set, so an older keysupd still reads the file. */
        char a[INET6_ADDRSTRLEN] = "";
        static const uint8_t v4[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        if (c->console.trusted_proxy_set) {
            if (memcmp(c->console.trusted_proxy, v4, sizeof v4) == 0)
                inet_ntop(AF_INET, c->console.trusted_proxy + 12, a, sizeof a);
            else
                inet_ntop(AF_INET6, c->console.trusted_proxy, a, sizeof a);
        }
        fprintf(f,
                "# Behind a reverse proxy every sign-in comes from the proxy's address:\n"
                "# name it here, and only from it X-Forwarded-For's last hop is taken\n"
                "# as the console client's address (off when unset).\n"
                "%sconsole_trusted_proxy = %s\n",
                a[0] ? "" : "# ", a);
    }
}

static int has_index(const char *dir)
{
    char p[PATH_MAX + 16];
    struct stat st;
    snprintf(p, sizeof p, "%s/index.html", dir);
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* The configured directory; else the installed one; else (a build tree
 * running its tests) the source tree's web/. */
void sup_console_web_dir(const sup_ctx *s, char *out, size_t n)
{
    if (s->cfg.console.web_dir[0]) {
        sup_path(s, s->cfg.console.web_dir, out, n);
        return;
    }
    if (has_index(KS_WEB_DIR_INSTALLED)) {
        snprintf(out, n, "%s", KS_WEB_DIR_INSTALLED);
        return;
    }
    /* The Debian package installs under /usr whatever the build's prefix. */
    if (has_index("/usr/share/keysup/web") || !KS_WEB_DIR_SOURCE[0]) {
        snprintf(out, n, "%s", "/usr/share/keysup/web");
        return;
    }
    snprintf(out, n, "%s", KS_WEB_DIR_SOURCE);
}
