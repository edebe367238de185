/* SPDX-License-Identifier: Apache-2.0
 *
 * The reference store: one JSON file per shared mount (<key>.json) in a
 * 0700 directory, written with the temporary-file + fsync + rename + fsync
 * of the directory sequence, so a crash at any point leaves the previous or
 * the next record. Damaged records are reported, never guessed at.
 */
#include "refs/refs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#define SUFFIX ".json"
#define TMP_SUFFIX ".tmp"
#define RECORD_MAX (4u << 20)

void refs_mount_init(struct refs_mount *m)
{
    memset(m, 0, sizeof(*m));
}

void refs_mount_clear(struct refs_mount *m)
{
    for (size_t i = 0; i < m->n_targets; i++) {
        free(m->targets[i].target);
        free(m->targets[i].volume_id);
        free(m->targets[i].subdir);
    }
    free(m->targets);
    json_decref(m->settings);
    refs_mount_init(m);
}

static bool valid_key(const char *key)
{
    size_t n = strlen(key);

    return n >= 8 && n <= REFS_KEY_MAX && strspn(key, "0123456789abcdef") == n;
}

int refs_open(const char *dir)
{
    struct stat st;
    DIR *d;
    struct dirent *e;

    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return -errno;
    if (lstat(dir, &st) != 0)
        return -errno;
    if (!S_ISDIR(st.st_mode))
        return -ENOTDIR;
    d = opendir(dir);
    if (!d)
        return -errno;
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);

        if (n > strlen(TMP_SUFFIX) && strcmp(e->d_name + n - strlen(TMP_SUFFIX), TMP_SUFFIX) == 0)
            unlinkat(dirfd(d), e->d_name, 0); /* a save cut short by a crash */
    }
    closedir(d);
    return 0;
}

/* ---- encoding ---- */

static json_t *targets_to_json(const struct refs_mount *m)
{
    json_t *arr = json_array();

    for (size_t i = 0; arr && i < m->n_targets; i++) {
        const struct refs_target *t = &m->targets[i];

        if (json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:b}", "target", t->target, "volume_id",
                                                 t->volume_id, "subdir", t->subdir, "readonly", t->readonly)) != 0) {
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}

static json_t *encode(const struct refs_mount *m)
{
    json_t *j = json_pack("{s:i, s:s, s:I, s:s, s:s, s:s, s:s, s:I, s:I, s:o}", "v", 1, "key", m->key, "generation",
                          (json_int_t)m->generation, "pod", m->pod, "pod_uid", m->pod_uid, "namespace", m->ns,
                          "source", m->source, "daemon_pid", (json_int_t)m->daemon_pid, "daemon_start",
                          (json_int_t)m->daemon_start, "targets", targets_to_json(m));

    if (j && m->settings)
        json_object_set(j, "settings", m->settings);
    if (j && m->has_init)
        json_object_set_new(j, "init", handoff_init_to_json(&m->init));
    return j;
}

static int decode_targets(const json_t *arr, struct refs_mount *m, char *why, size_t whylen)
{
    size_t i;
    json_t *e;

    json_array_foreach(arr, i, e) {
        const char *t, *v, *s;
        int ro;

        if (json_unpack(e, "{s:s, s:s, s:s, s:b}", "target", &t, "volume_id", &v, "subdir", &s, "readonly", &ro) != 0 ||
            t[0] != '/') {
            snprintf(why, whylen, "target %zu is malformed", i);
            return -EBADMSG;
        }
        int rc = refs_add_target(m, t, v, s, ro);

        if (rc) {
            snprintf(why, whylen, "target %zu: %s", i, rc == -EEXIST ? "listed twice" : strerror(-rc));
            return rc == -ENOMEM ? rc : -EBADMSG;
        }
    }
    return 0;
}

static int decode(const json_t *j, const char *key, struct refs_mount *m, char *why, size_t whylen)
{
    const char *k, *pod, *uid, *ns, *src;
    json_int_t gen, pid, start;
    json_t *targets, *settings = NULL, *init = NULL;
    int v;

    if (json_unpack((json_t *)j, "{s:i, s:s, s:I, s:s, s:s, s:s, s:s, s:I, s:I, s:o, s?o, s?o}", "v", &v, "key", &k,
                    "generation", &gen, "pod", &pod, "pod_uid", &uid, "namespace", &ns, "source", &src, "daemon_pid",
                    &pid, "daemon_start", &start, "targets", &targets, "settings", &settings, "init", &init) != 0 ||
        v != 1 || !json_is_array(targets) || gen < 0 || gen > UINT32_MAX || pid < 0 || pid > INT32_MAX ||
        start < 0) {
        snprintf(why, whylen, "missing or ill-typed fields");
        return -EBADMSG;
    }
    if (strcmp(k, key) != 0 || strlen(pod) >= sizeof(m->pod) || strlen(uid) >= sizeof(m->pod_uid) ||
        strlen(ns) >= sizeof(m->ns) || strlen(src) >= sizeof(m->source)) {
        snprintf(why, whylen, "key or field lengths do not match the record's name");
        return -EBADMSG;
    }
    snprintf(m->key, sizeof(m->key), "%s", k);
    m->generation = (uint32_t)gen;
    snprintf(m->pod, sizeof(m->pod), "%s", pod);
    snprintf(m->pod_uid, sizeof(m->pod_uid), "%s", uid);
    snprintf(m->ns, sizeof(m->ns), "%s", ns);
    snprintf(m->source, sizeof(m->source), "%s", src);
    m->daemon_pid = (int32_t)pid;
    m->daemon_start = (uint64_t)start;
    if (settings)
        m->settings = json_incref(settings);
    if (init) {
        char w[128] = "";

        if (handoff_init_from_json(init, &m->init, w, sizeof(w)) != 0) {
            snprintf(why, whylen, "init: %s", w);
            return -EBADMSG;
        }
        m->has_init = true;
    }
    return decode_targets(targets, m, why, whylen);
}

/* ---- files ---- */

static int write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

static int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc = 0;

    if (fd < 0)
        return -errno;
    if (fsync(fd) != 0)
        rc = -errno;
    close(fd);
    return rc;
}

/* path <- text, atomically and durably */
static int replace_file(const char *dir, const char *name, const char *text, size_t len, mode_t mode)
{
    char path[PATH_MAX], tmp[PATH_MAX];
    int fd, rc;

    if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path) ||
        snprintf(tmp, sizeof(tmp), "%s/.%s.%d" TMP_SUFFIX, dir, name, (int)getpid()) >= (int)sizeof(tmp))
        return -ENAMETOOLONG;
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd < 0)
        return -errno;
    rc = write_all(fd, text, len);
    if (rc == 0 && fsync(fd) != 0)
        rc = -errno;
    if (close(fd) != 0 && rc == 0)
        rc = -errno;
    if (rc == 0 && rename(tmp, path) != 0)
        rc = -errno;
    if (rc) {
        unlink(tmp);
        return rc;
    }
    return fsync_dir(dir);
}

int refs_save(const char *dir, const struct refs_mount *m)
{
    char name[REFS_KEY_MAX + 8];
    json_t *j;
    char *text;
    int rc;

    if (!valid_key(m->key))
        return -EINVAL;
    j = encode(m);
    text = j ? json_dumps(j, JSON_INDENT(1) | JSON_SORT_KEYS) : NULL;
    json_decref(j);
    if (!text)
        return -ENOMEM;
    snprintf(name, sizeof(name), "%s" SUFFIX, m->key);
    rc = strlen(text) > RECORD_MAX ? -EFBIG : replace_file(dir, name, text, strlen(text), 0600);
    free(text);
    return rc;
}

int refs_load(const char *dir, const char *key, struct refs_mount *m, char *why, size_t whylen)
{
    char path[PATH_MAX];
    json_error_t je;
    json_t *j;
    int rc;

    refs_mount_clear(m);
    if (!valid_key(key)) {
        snprintf(why, whylen, "bad key");
        return -EINVAL;
    }
    snprintf(path, sizeof(path), "%s/%s" SUFFIX, dir, key);
    if (access(path, F_OK) != 0)
        return -errno;
    j = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!j) {
        snprintf(why, whylen, "%s: line %d: %s", path, je.line, je.text);
        return -EBADMSG;
    }
    rc = decode(j, key, m, why, whylen);
    json_decref(j);
    if (rc)
        refs_mount_clear(m);
    return rc;
}

int refs_remove(const char *dir, const char *key)
{
    char path[PATH_MAX];

    if (!valid_key(key))
        return -EINVAL;
    snprintf(path, sizeof(path), "%s/%s" SUFFIX, dir, key);
    if (unlink(path) != 0)
        return errno == ENOENT ? 0 : -errno;
    return fsync_dir(dir);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int refs_list(const char *dir, char ***keys, size_t *n)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    size_t cap = 0;

    *keys = NULL;
    *n = 0;
    if (!d)
        return -errno;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        char key[REFS_KEY_MAX + 1];

        if (len <= strlen(SUFFIX) || len - strlen(SUFFIX) > REFS_KEY_MAX ||
            strcmp(e->d_name + len - strlen(SUFFIX), SUFFIX) != 0)
            continue;
        memcpy(key, e->d_name, len - strlen(SUFFIX));
        key[len - strlen(SUFFIX)] = '\0';
        if (!valid_key(key))
            continue;
        if (*n == cap) {
            char **nk = realloc(*keys, (cap = cap ? cap * 2 : 8) * sizeof(*nk));

            if (!nk)
                goto nomem;
            *keys = nk;
        }
        if (!((*keys)[*n] = strdup(key)))
            goto nomem;
        (*n)++;
    }
    closedir(d);
    if (*n)
        qsort(*keys, *n, sizeof(**keys), cmp_str);
    return 0;
nomem:
    closedir(d);
    for (size_t i = 0; i < *n; i++)
        free((*keys)[i]);
    free(*keys);
    *keys = NULL;
    *n = 0;
    return -ENOMEM;
}

/* ---- targets ---- */

int refs_find_target(const struct refs_mount *m, const char *target)
{
    for (size_t i = 0; i < m->n_targets; i++)
        if (strcmp(m->targets[i].target, target) == 0)
            return (int)i;
    return -1;
}

int refs_add_target(struct refs_mount *m, const char *target, const char *volume_id, const char *subdir,
                    bool readonly)
{
    struct refs_target *nt, t = {.readonly = readonly};

    if (refs_find_target(m, target) >= 0)
        return -EEXIST;
    t.target = strdup(target);
    t.volume_id = strdup(volume_id);
    t.subdir = strdup(subdir);
    nt = realloc(m->targets, (m->n_targets + 1) * sizeof(*nt));
    if (!t.target || !t.volume_id || !t.subdir || !nt) {
        free(t.target);
        free(t.volume_id);
        free(t.subdir);
        if (nt)
            m->targets = nt;
        return -ENOMEM;
    }
    m->targets = nt;
    m->targets[m->n_targets++] = t;
    return 0;
}

bool refs_remove_target(struct refs_mount *m, const char *target)
{
    int i = refs_find_target(m, target);

    if (i < 0)
        return false;
    free(m->targets[i].target);
    free(m->targets[i].volume_id);
    free(m->targets[i].subdir);
    memmove(&m->targets[i], &m->targets[i + 1], (m->n_targets - (size_t)i - 1) * sizeof(m->targets[0]));
    m->n_targets--;
    return true;
}

/* ---- salt ---- */

int refs_salt(const char *dir, uint8_t salt[REFS_SALT_SIZE])
{
    char path[PATH_MAX];
    int fd, rc;

    snprintf(path, sizeof(path), "%s/salt", dir);
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd >= 0) {
        ssize_t n = read(fd, salt, REFS_SALT_SIZE);

        close(fd);
        if (n == REFS_SALT_SIZE)
            return 0;
        /* short: a crash before the rename cannot cause this, damage can */
        return -EBADMSG;
    }
    if (errno != ENOENT)
        return -errno;
    if (getrandom(salt, REFS_SALT_SIZE, 0) != REFS_SALT_SIZE)
        return -EIO;
    rc = replace_file(dir, "salt", (const char *)salt, REFS_SALT_SIZE, 0600);
    return rc;
}
