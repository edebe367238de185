/* SPDX-License-Identifier: Apache-2.0
 *
 * Helpers shared by the subcommands: one-line errors, size/number parsing,
 * password masking, opening a volume with a clear message for each way it
 * can fail, and mount-table lookups.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"

void cli_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "tidefs %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

int cli_bad_option(const char *cmd, int opt, char **argv)
{
    extern int optind, optopt;
    const char *arg = argv[optind - 1];
    if (opt == ':')
        cli_error(cmd, "option '%s' needs a value (see tidefs %s --help)", arg, cmd);
    else if (optopt)
        cli_error(cmd, "unknown option '-%c' (see tidefs %s --help)", optopt, cmd);
    else
        cli_error(cmd, "unknown option '%s' (see tidefs %s --help)", arg, cmd);
    return CLI_EXIT_USAGE;
}

const char *cli_option_name(const struct option *table, int code)
{
    static __thread char shortname[3];
    for (const struct option *o = table; o->name; o++)
        if (o->val == code && !o->flag) {
            static __thread char longname[64];
            snprintf(longname, sizeof(longname), "--%s", o->name);
            return longname;
        }
    snprintf(shortname, sizeof(shortname), "-%c", code);
    return shortname;
}

static int suffix_shift(char c, int *shift)
{
    static const char units[] = "BKMGTP";
    const char *p = strchr(units, toupper((unsigned char)c));
    if (!p || !c)
        return -EINVAL;
    *shift = 10 * (int)(p - units);
    return 0;
}

int cli_parse_size(const char *s, uint64_t unit, uint64_t *out)
{
    if (!s || !*s || *s == '-' || isspace((unsigned char)*s))
        return -EINVAL;
    errno = 0;
    char *end;
    double v = strtod(s, &end);
    if (errno || end == s || !isfinite(v) || v < 0)
        return -EINVAL;
    double mult = (double)unit;
    if (*end) {
        int shift;
        if (suffix_shift(*end, &shift))
            return -EINVAL;
        end++;
        if (*end == 'i' || *end == 'I')
            end++;
        if (*end == 'B' || *end == 'b')
            end++;
        if (*end)
            return -EINVAL;
        mult = ldexp(1.0, shift);
    }
    double bytes = v * mult;
    if (bytes >= 18446744073709551615.0 || bytes != floor(bytes))
        return -EINVAL;
    *out = (uint64_t)bytes;
    return 0;
}

int cli_parse_uint(const char *s, uint64_t max, uint64_t *out)
{
    if (!s || !isdigit((unsigned char)*s))
        return -EINVAL;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v > max)
        return -EINVAL;
    *out = v;
    return 0;
}

int cli_parse_seconds(const char *s, double *out)
{
    if (!s || !*s || *s == '-')
        return -EINVAL;
    errno = 0;
    char *end;
    double v = strtod(s, &end);
    if (errno || end == s || !isfinite(v) || v < 0 || v > 86400.0 * 365)
        return -EINVAL;
    if (*end == 's' && end[1] == '\0')
        end++;
    if (*end)
        return -EINVAL;
    *out = v;
    return 0;
}

char *cli_mask_url(const char *url)
{
    char *copy = strdup(url ? url : "");
    if (!copy)
        abort();
    char *scheme = strstr(copy, "://");
    char *at = scheme ? strchr(scheme + 3, '@') : NULL;
    char *colon = at ? memchr(scheme + 3, ':', (size_t)(at - scheme - 3)) : NULL;
    if (!colon)
        return copy;
    char *masked = NULL;
    if (asprintf(&masked, "%.*s:****%s", (int)(colon - copy), copy, at) < 0)
        abort();
    free(copy);
    return masked;
}

char *cli_hide_password(char *arg)
{
    char *scheme = strstr(arg, "://");
    char *at = scheme ? strchr(scheme + 3, '@') : NULL;
    char *colon = at ? memchr(scheme + 3, ':', (size_t)(at - scheme - 3)) : NULL;
    char *out = NULL;
    if (!colon) {
        out = strdup(arg);
    } else {
        char *pw = strndup(colon + 1, (size_t)(at - colon - 1));
        if (!pw || setenv("META_PASSWORD", pw, 1) != 0)
            abort();
        free(pw);
        /* "user:pw@" becomes "user@"; a bare ":pw@" disappears */
        bool user = colon > scheme + 3;
        if (asprintf(&out, "%.*s%s", (int)((user ? colon : scheme + 3) - arg), arg, user ? at : at + 1) < 0)
            out = NULL;
        memset(colon + 1, '*', (size_t)(at - colon - 1));
    }
    if (!out)
        abort();
    return out;
}

/* The embedded engine's database must exist before anything but format
 * opens it: opening would otherwise create an empty file, changing what
 * the user pointed us at. */
static int check_sqlite_exists(const char *cmd, const char *url)
{
    const char *path = url + strlen("sqlite3://");
    struct stat st;
    if (*path == '\0') {
        cli_error(cmd, "invalid META-URL '%s': no database path after sqlite3://", url);
        return -EINVAL;
    }
    if (stat(path, &st) != 0) {
        cli_error(cmd, "%s: no such volume (database %s does not exist; run tidefs format first)", url, path);
        return -ENOENT;
    }
    return 0;
}

int cli_open_volume(const char *cmd, const char *url, const struct meta_ops **ops, struct meta **m,
                    struct format *fmt)
{
    char *shown = cli_mask_url(url);
    int rc = 0;
    memset(fmt, 0, sizeof(*fmt));
    *m = NULL;
    if (!meta_engine_for_url(url)) {
        cli_error(cmd, "invalid META-URL '%s': expected sqlite3://PATH or redis://HOST[:PORT][/DB]", shown);
        rc = -EINVAL;
        goto out;
    }
    if (strncmp(url, "sqlite3://", 10) == 0 && (rc = check_sqlite_exists(cmd, shown)) != 0)
        goto out;
    rc = meta_open_url(url, ops, m);
    if (rc) {
        cli_error(cmd, "cannot open metadata engine at %s: %s", shown, strerror(-rc));
        goto out;
    }
    char *json = NULL;
    rc = (*ops)->get_setting(*m, "format", &json);
    if (rc == 0)
        rc = format_from_json(json, fmt);
    free(json);
    if (rc == -ENOENT)
        cli_error(cmd, "%s is not a formatted tidefs volume (run tidefs format first)", shown);
    else if (rc)
        cli_error(cmd, "cannot read the volume format at %s: %s", shown, strerror(-rc));
    if (rc) {
        (*ops)->close(*m);
        *m = NULL;
    }
out:
    free(shown);
    return rc;
}

void cli_close_volume(const struct meta_ops *ops, struct meta *m, struct format *fmt)
{
    if (m)
        ops->close(m);
    if (fmt)
        format_clear(fmt);
}

/* mountinfo escapes spaces, tabs, newlines and backslashes as \ooo */
static void unescape_mountinfo(char *s)
{
    char *w = s;
    for (char *r = s; *r; r++) {
        if (r[0] == '\\' && r[1] >= '0' && r[1] <= '7' && r[2] && r[3]) {
            *w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
            r += 3;
        } else {
            *w++ = *r;
        }
    }
    *w = '\0';
}

bool cli_is_mountpoint(const char *path, char **fstype)
{
    char real[PATH_MAX];
    if (!realpath(path, real))
        snprintf(real, sizeof(real), "%s", path);
    FILE *f = fopen("/proc/self/mountinfo", "re");
    if (!f)
        return false;
    char *line = NULL;
    size_t cap = 0;
    bool found = false;
    while (!found && getline(&line, &cap, f) > 0) {
        char mp[PATH_MAX], type[256];
        /* id parent maj:min root mountpoint options ... - type source */
        if (sscanf(line, "%*s %*s %*s %*s %4095s", mp) != 1)
            continue;
        unescape_mountinfo(mp);
        char *dash = strstr(line, " - ");
        if (strcmp(mp, real) != 0 || !dash || sscanf(dash + 3, "%255s", type) != 1)
            continue;
        found = true;
        if (fstype)
            *fstype = strdup(type);
    }
    free(line);
    fclose(f);
    return found;
}
