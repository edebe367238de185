/* SPDX-License-Identifier: Apache-2.0
 *
 * The mount-pod mounter (docs/mount-pod.md). For each tidefs volume with
 * one set of mount settings on this node there is one shared FUSE mount:
 * the plugin (privileged) mounts /dev/fuse itself under its state
 * directory, keeps the fd in a hand-off keeper for the mount's whole life,
 * and runs the filesystem daemon in an unprivileged "mount pod" that gets
 * the fd (and the connection's INIT state) through a socket the plugin
 * creates inside the pod's emptyDir. Each PV is a bind mount of a
 * sub-directory of the shared mount onto the kubelet's target path.
 *
 * A mount pod that crashes is restarted by the kubelet; one that is
 * deleted, evicted or fails is replaced by the watch thread; either way the
 * new daemon gets the same fd and resumes (FUSE_NOTIFY_RESEND), so
 * applications see a pause, never ENOTCONN. References (which targets use
 * which mount) are durable records (mount-pod/refs) so that a restarted
 * plugin recovers them, and takes the fd back from the serving daemon
 * (pidfd_getfd: the plugin needs hostPID and CAP_SYS_PTRACE for that).
 *
 * Locking: `mu` guards the list of mounts; each mount's `op` serialises
 * the long operations on it (publish, unpublish, replacement) and its `mu`
 * the fields its keeper thread shares.
 */
#include "csi_mounter.h"

#include "csi_log.h"
#include "csi_redact.h"

#include "handoff/handoff.h"
#include "handoff/handoff_keeper.h"
#include "handoff/handoff_mount.h"
#include "kube/kube.h"
#include "podspec/podspec.h"
#include "refs/refs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define KEY_HEX 32
#define SERVE_TIMEOUT_MS 90000
#define WATCH_INTERVAL_MS 2000
#define PROBE_TIMEOUT_MS 5000
#define POD_GRACE_S 30

struct mp_secrets {
    char *metaurl; /* without its password */
    char *password, *access_key, *secret_key;
};

struct mp_mount {
    struct mp_mount *next;
    pthread_mutex_t op;      /* publish / unpublish / replace */
    pthread_mutex_t mu;      /* the fields below shared with the keeper thread */
    pthread_cond_t cond;     /* a hand-off happened, or the keeper gave up */
    struct refs_mount rec;   /* the durable record; written under op */
    struct podspec_pod spec; /* strings point into the fields below */
    char volume_label[64], node_label[64], pod_name[64];
    struct mp_secrets sec;   /* in memory only */
    bool have_secrets;
    /* keeper thread */
    struct handoff_keeper *keeper; /* NULL: no fd (recovered without it) */
    pthread_t thread;
    bool thread_running, stop;
    int wake[2];
    char want_sock[PATH_MAX]; /* where the current pod's daemon will connect */
    uint32_t served_gen;      /* generation whose daemon reported serving; UINT32_MAX: none */
    bool conn_dead;           /* the FUSE connection ended under us */
    bool dirty;               /* rec changed by the keeper thread, not saved yet */
    /* lifetime, under mounter_pod.mu */
    int users;     /* threads holding a pointer */
    bool unlinked; /* torn down: free when users drops to 0 */
    char keeper_err[256];
};

struct mounter_pod {
    struct csi_mounter base; /* first: the interface */
    char node[254], kubelet_dir[PATH_MAX], refs_dir[PATH_MAX], mnt_dir[PATH_MAX];
    char image[512], ns[64], priority_class[254], node_label_buf[64];
    uid_t uid;
    long serve_timeout_ms;
    uint8_t salt[REFS_SALT_SIZE];
    struct kube_client *kube;
    pthread_mutex_t mu;
    struct mp_mount *mounts;
    pthread_t watcher;
    bool watcher_running;
    int watch_wake[2];
};

static void log_kube(int level, const char *what, const struct kube_err *ke)
{
    csi_log(level, "%s: %s", what, ke->text[0] ? ke->text : "failed");
}

/* ---- small helpers ---- */

static long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static void wipe_free(char *s)
{
    if (s) {
        explicit_bzero(s, strlen(s));
        free(s);
    }
}

static void secrets_clear(struct mp_secrets *s)
{
    wipe_free(s->metaurl);
    wipe_free(s->password);
    wipe_free(s->access_key);
    wipe_free(s->secret_key);
    memset(s, 0, sizeof(*s));
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* "scheme://user:pass@host/x" -> url "scheme://user@host/x" + decoded pass */
static int split_password(const char *metaurl, struct mp_secrets *s)
{
    const char *auth = strstr(metaurl, "://"), *end, *at, *colon;

    s->metaurl = strdup(metaurl);
    if (!s->metaurl)
        return -ENOMEM;
    if (!auth)
        return 0;
    auth += 3;
    end = auth + strcspn(auth, "/?#");
    at = memrchr(auth, '@', (size_t)(end - auth));
    colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
    if (!colon)
        return 0;
    s->password = calloc(1, (size_t)(at - colon));
    if (!s->password)
        return -ENOMEM;
    size_t w = 0;

    for (const char *p = colon + 1; p < at; p++) {
        if (*p == '%' && at - p > 2 && hexval(p[1]) >= 0 && hexval(p[2]) >= 0) {
            s->password[w++] = (char)(hexval(p[1]) * 16 + hexval(p[2]));
            p += 2;
        } else {
            s->password[w++] = *p;
        }
    }
    memmove(s->metaurl + (colon - metaurl), s->metaurl + (at - metaurl), strlen(at) + 1);
    return 0;
}

/* The mount's key: HMAC-SHA256 under the node's salt of everything that
 * makes two publications share a mount pod (labels are public; META-URLs
 * carry passwords). */
static int mount_key(const struct mounter_pod *mp, const struct csi_mount_req *req, const struct podspec_settings *st,
                     char out[KEY_HEX + 1])
{
    json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:o}", "node", mp->node, "metaurl", req->metaurl, "access_key",
                          req->access_key ? req->access_key : "", "secret_key", req->secret_key ? req->secret_key : "",
                          "settings", podspec_settings_to_json(st));
    char *text = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;

    json_decref(j);
    if (!text)
        return -ENOMEM;
    HMAC(EVP_sha256(), mp->salt, sizeof(mp->salt), (const unsigned char *)text, strlen(text), md, &mdlen);
    explicit_bzero(text, strlen(text));
    free(text);
    for (int i = 0; i < KEY_HEX / 2; i++)
        sprintf(out + 2 * i, "%02x", md[i]);
    return 0;
}

/* <kubelet>/pods/<uid>/volumes/kubernetes.io~empty-dir/fd/k/s (97 bytes with /var/lib/kubelet) */
static int socket_path(const struct mounter_pod *mp, const char *pod_uid, char *out, size_t len)
{
    int n = snprintf(out, len, "%s/pods/%s/volumes/kubernetes.io~empty-dir/" PODSPEC_COMM_VOLUME "/" PODSPEC_KEEPER_DIR
                     "/" PODSPEC_SOCKET_NAME, mp->kubelet_dir, pod_uid);

    return n < 0 || (size_t)n >= len || n >= 108 ? -ENAMETOOLONG : 0;
}

/* ---- the keeper thread of one mount ---- */

static uint64_t proc_starttime(pid_t pid)
{
    char path[64], buf[1024];
    unsigned long long start = 0;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    f = fopen(path, "re");
    if (f && fgets(buf, sizeof(buf), f)) {
        char *p = strrchr(buf, ')');

        if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu",
                         &start) != 1)
            start = 0;
    }
    if (f)
        fclose(f);
    return start;
}

static void keeper_record(struct mp_mount *m, const struct handoff_keeper_event *ev)
{
    uint64_t start = ev->pid > 0 ? proc_starttime(ev->pid) : 0;

    pthread_mutex_lock(&m->mu);
    m->served_gen = m->rec.generation;
    m->rec.daemon_pid = ev->pid;
    m->rec.daemon_start = start;
    m->rec.has_init = handoff_keeper_init_state(m->keeper, &m->rec.init);
    m->dirty = true; /* saved by whoever holds op next (publish or the watcher) */
    pthread_cond_broadcast(&m->cond);
    pthread_mutex_unlock(&m->mu);
}

/* Listens on want_sock once its directory (the pod's emptyDir) exists. */
static void keeper_listen(struct mp_mount *m, const char *want, char *cur, int *lfd, uid_t uid)
{
    char dir[PATH_MAX], *slash;
    struct handoff_err herr = {""};
    struct stat st;

    snprintf(dir, sizeof(dir), "%s", want);
    slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    slash = strrchr(dir, '/'); /* the comm emptyDir: made by the kubelet */
    if (slash)
        *slash = '\0';
    if (stat(dir, &st) != 0)
        return; /* not yet: the kubelet has not set the pod up */
    if (*lfd >= 0)
        close(*lfd);
    *lfd = -1;
    if (handoff_listen(want, uid, uid, lfd, &herr) != 0) {
        pthread_mutex_lock(&m->mu);
        snprintf(m->keeper_err, sizeof(m->keeper_err), "cannot listen for the mount pod: %s", herr.text);
        pthread_cond_broadcast(&m->cond);
        pthread_mutex_unlock(&m->mu);
        *lfd = -1;
    }
    snprintf(cur, PATH_MAX, "%s", want);
}

struct keeper_arg {
    struct mp_mount *m;
    uid_t uid;
};

static void *keeper_main(void *arg_)
{
    struct keeper_arg *arg = arg_;
    struct mp_mount *m = arg->m;
    uid_t uid = arg->uid;
    char cur[PATH_MAX] = "", want[PATH_MAX];
    int lfd = -1;

    free(arg);
    for (;;) {
        pthread_mutex_lock(&m->mu);
        bool stop = m->stop;

        snprintf(want, sizeof(want), "%s", m->want_sock);
        pthread_mutex_unlock(&m->mu);
        if (stop)
            break;
        if (want[0] && strcmp(want, cur) != 0)
            keeper_listen(m, want, cur, &lfd, uid);
        bool waiting = want[0] && strcmp(want, cur) != 0;
        struct pollfd p[3] = {{.fd = m->wake[0], .events = POLLIN}, {.fd = handoff_keeper_fd(m->keeper)},
                              {.fd = lfd, .events = POLLIN}};

        if (poll(p, lfd >= 0 ? 3 : 2, waiting ? 100 : 1000) < 0 && errno != EINTR)
            break;
        if (p[0].revents) {
            char buf[64];

            while (read(m->wake[0], buf, sizeof(buf)) > 0)
                ;
        }
        if (p[1].revents & (POLLERR | POLLHUP | POLLNVAL)) {
            pthread_mutex_lock(&m->mu);
            if (!m->conn_dead)
                csi_log(CSI_LOG_WARN, "mount %s: the FUSE connection ended (unmounted or aborted)", m->rec.key);
            m->conn_dead = true;
            pthread_cond_broadcast(&m->cond);
            pthread_mutex_unlock(&m->mu);
            usleep(200000);
            continue;
        }
        if (lfd >= 0 && (p[2].revents & POLLIN)) {
            struct handoff_keeper_event ev;
            struct handoff_err herr = {""};
            int rc = handoff_keeper_serve_one(m->keeper, lfd, 0, &ev, &herr);

            if (rc == 0) {
                csi_log(CSI_LOG_INFO, "mount %s: hand-off #%u to daemon pid %d of pod %s", m->rec.key, ev.generation,
                        (int)ev.pid, m->rec.pod);
                keeper_record(m, &ev);
            } else if (rc != -ETIMEDOUT && rc != -EAGAIN) {
                csi_log(CSI_LOG_WARN, "mount %s: hand-off refused or failed: %s", m->rec.key, herr.text);
            }
        }
    }
    if (lfd >= 0)
        close(lfd);
    if (cur[0])
        unlink(cur);
    return NULL;
}

static int keeper_start(struct mp_mount *m, uid_t uid)
{
    struct keeper_arg *arg = malloc(sizeof(*arg));
    int rc;

    if (!arg)
        return -ENOMEM;
    *arg = (struct keeper_arg){m, uid};
    rc = pthread_create(&m->thread, NULL, keeper_main, arg);
    if (rc) {
        free(arg);
        return -rc;
    }
    m->thread_running = true;
    return 0;
}

static void keeper_point_at(struct mp_mount *m, const char *sock)
{
    pthread_mutex_lock(&m->mu);
    snprintf(m->want_sock, sizeof(m->want_sock), "%s", sock);
    m->keeper_err[0] = '\0';
    pthread_mutex_unlock(&m->mu);
    if (write(m->wake[1], "w", 1) < 0) {
        /* the pipe is full: the thread wakes anyway */
    }
}

/* ---- mount objects ---- */

static struct mp_mount *mount_new(const char *key)
{
    struct mp_mount *m = calloc(1, sizeof(*m));

    if (!m)
        return NULL;
    if (pipe2(m->wake, O_CLOEXEC | O_NONBLOCK) != 0) {
        free(m);
        return NULL;
    }
    pthread_mutex_init(&m->op, NULL);
    pthread_mutex_init(&m->mu, NULL);
    pthread_cond_init(&m->cond, NULL);
    refs_mount_init(&m->rec);
    snprintf(m->rec.key, sizeof(m->rec.key), "%s", key);
    m->served_gen = UINT32_MAX;
    return m;
}

/* Stops the keeper thread and frees m (not linked any more). Closing the
 * keeper's fd ends the connection once no daemon holds it either. */
static void mount_free(struct mp_mount *m)
{
    if (m->thread_running) {
        pthread_mutex_lock(&m->mu);
        m->stop = true;
        pthread_mutex_unlock(&m->mu);
        if (write(m->wake[1], "s", 1) < 0) {
            /* full pipe: it wakes anyway */
        }
        pthread_join(m->thread, NULL);
    }
    handoff_keeper_free(m->keeper);
    close(m->wake[0]);
    close(m->wake[1]);
    secrets_clear(&m->sec);
    refs_mount_clear(&m->rec);
    pthread_cond_destroy(&m->cond);
    pthread_mutex_destroy(&m->mu);
    pthread_mutex_destroy(&m->op);
    free(m);
}

/* Saves m's record; the caller holds m->op (saves of one key are serial). */
static int save_record(struct mounter_pod *mp, struct mp_mount *m)
{
    int rc;

    pthread_mutex_lock(&m->mu);
    m->dirty = false;
    rc = refs_save(mp->refs_dir, &m->rec);
    if (rc)
        m->dirty = true;
    pthread_mutex_unlock(&m->mu);
    if (rc)
        csi_log(CSI_LOG_ERROR, "mount %s: cannot save its record: %s", m->rec.key, strerror(-rc));
    return rc;
}

/* Drops a thread's hold on m; frees it when it was torn down and this was
 * the last hold. */
static void mount_put(struct mounter_pod *mp, struct mp_mount *m)
{
    bool last;

    pthread_mutex_lock(&mp->mu);
    last = --m->users == 0 && m->unlinked;
    pthread_mutex_unlock(&mp->mu);
    if (last)
        mount_free(m);
}

static void mount_link(struct mounter_pod *mp, struct mp_mount *m)
{
    pthread_mutex_lock(&mp->mu);
    m->next = mp->mounts;
    mp->mounts = m;
    pthread_mutex_unlock(&mp->mu);
}

static void mount_unlink(struct mounter_pod *mp, struct mp_mount *m)
{
    pthread_mutex_lock(&mp->mu);
    for (struct mp_mount **pp = &mp->mounts; *pp; pp = &(*pp)->next) {
        if (*pp == m) {
            *pp = m->next;
            break;
        }
    }
    m->unlinked = true;
    pthread_mutex_unlock(&mp->mu);
}

static struct mp_mount *mount_find(struct mounter_pod *mp, const char *key, const char *target)
{
    struct mp_mount *found = NULL;

    pthread_mutex_lock(&mp->mu);
    for (struct mp_mount *m = mp->mounts; m && !found; m = m->next) {
        if (key && strcmp(m->rec.key, key) == 0)
            found = m;
        if (target) {
            pthread_mutex_lock(&m->mu);
            if (refs_find_target(&m->rec, target) >= 0)
                found = m;
            pthread_mutex_unlock(&m->mu);
        }
    }
    if (found)
        found->users++;
    pthread_mutex_unlock(&mp->mu);
    return found;
}

/* The pod spec fields of m from its record's settings. */
static int mount_spec(struct mounter_pod *mp, struct mp_mount *m, char *err, size_t errlen)
{
    const char *vol = json_string_value(json_object_get(m->rec.settings, "volume_label"));
    int rc = podspec_settings_from_json(json_object_get(m->rec.settings, "pod"), &m->spec.settings, err, errlen);

    if (rc)
        return rc;
    snprintf(m->volume_label, sizeof(m->volume_label), "%s", vol ? vol : "unknown");
    podspec_label_value(mp->node, m->node_label, sizeof(m->node_label));
    m->spec.ns = mp->ns;
    m->spec.node = mp->node;
    m->spec.image = mp->image;
    m->spec.priority_class = mp->priority_class;
    m->spec.uid = mp->uid;
    m->spec.mount_key = m->rec.key;
    m->spec.volume_label = m->volume_label;
    m->spec.node_label = m->node_label;
    return 0;
}

/* ---- mount pods ---- */

static void delete_pod(struct mounter_pod *mp, const char *ns, const char *name)
{
    struct kube_err ke = {0};
    int rc;

    if (!name[0])
        return;
    rc = kube_delete(mp->kube, ns, "pods", name, POD_GRACE_S, NULL, &ke);
    if (rc && rc != -ENOENT)
        log_kube(CSI_LOG_WARN, "cannot delete mount pod", &ke);
    rc = kube_delete(mp->kube, ns, "secrets", name, -1, NULL, &ke);
    if (rc && rc != -ENOENT)
        log_kube(CSI_LOG_WARN, "cannot delete the mount pod's Secret", &ke);
}

/* Creates generation gen's Secret and pod, makes the pod own the Secret,
 * and records it. Called with m->op held. */
static int create_pod(struct mounter_pod *mp, struct mp_mount *m, uint32_t gen, char *err, size_t errlen)
{
    struct podspec_secret_values sv = {m->sec.metaurl, m->sec.password, m->sec.access_key, m->sec.secret_key};
    struct kube_err ke = {0};
    json_t *pod = NULL, *secret = NULL, *created = NULL, *patch;
    char sock[PATH_MAX];
    int rc;

    if (!m->have_secrets) {
        snprintf(err, errlen, "the volume's secrets are not known on this node yet (publish the volume again)");
        return -EAGAIN;
    }
    snprintf(m->pod_name, sizeof(m->pod_name), "tidefs-%.16s-%u", m->rec.key, gen);
    m->spec.name = m->pod_name;
    m->spec.generation = gen;
    m->spec.has_password = m->sec.password != NULL;
    m->spec.has_access_key = m->sec.access_key != NULL || m->sec.secret_key != NULL;
    pod = podspec_build_pod(&m->spec, err, errlen);
    secret = pod ? podspec_build_secret(&m->spec, &sv) : NULL;
    if (!pod || !secret) {
        rc = -EINVAL;
        goto out;
    }
    rc = kube_create(mp->kube, mp->ns, "secrets", secret, NULL, &ke);
    if (rc == -EEXIST) /* left by an earlier attempt: its values may be stale */
        rc = kube_patch(mp->kube, mp->ns, "secrets", m->pod_name, KUBE_PATCH_MERGE, secret, NULL, &ke);
    if (rc == 0)
        rc = kube_create(mp->kube, mp->ns, "pods", pod, &created, &ke);
    if (rc) {
        snprintf(err, errlen, "cannot create mount pod %s: %s", m->pod_name, ke.text);
        goto out;
    }
    const char *uid = kube_str(created, "metadata.uid");

    if (!uid || socket_path(mp, uid, sock, sizeof(sock)) != 0) {
        snprintf(err, errlen, "mount pod %s: no uid in the API's answer, or its socket path is too long", m->pod_name);
        rc = -EPROTO;
        goto out;
    }
    patch = podspec_owner_patch(m->pod_name, uid);
    if (kube_patch(mp->kube, mp->ns, "secrets", m->pod_name, KUBE_PATCH_MERGE, patch, NULL, &ke) != 0)
        log_kube(CSI_LOG_WARN, "cannot make the mount pod own its Secret (it is deleted with the pod anyway)", &ke);
    json_decref(patch);
    pthread_mutex_lock(&m->mu);
    m->rec.generation = gen;
    snprintf(m->rec.pod, sizeof(m->rec.pod), "%s", m->pod_name);
    snprintf(m->rec.pod_uid, sizeof(m->rec.pod_uid), "%s", uid);
    snprintf(m->rec.ns, sizeof(m->rec.ns), "%s", mp->ns);
    m->rec.daemon_pid = 0;
    pthread_mutex_unlock(&m->mu);
    save_record(mp, m);
    csi_log(CSI_LOG_INFO, "mount %s: created mount pod %s/%s (generation %u)", m->rec.key, mp->ns, m->pod_name, gen);
    keeper_point_at(m, sock);
    rc = 0;
out:
    json_decref(pod);
    json_decref(created);
    if (secret) {
        json_t *data = json_object_get(secret, "stringData");
        const char *k;
        json_t *v;

        json_object_foreach(data, k, v) {
            const char *s = json_string_value(v);

            if (s)
                explicit_bzero((char *)s, strlen(s));
        }
        json_decref(secret);
    }
    return rc;
}

/* Why the pod cannot serve, from its status: "" while there is hope. */
static void pod_problem(const json_t *pod, char *why, size_t len)
{
    static const char *const bad_waiting[] = {"ErrImagePull", "ImagePullBackOff", "InvalidImageName",
                                              "CreateContainerConfigError", "CreateContainerError",
                                              "CrashLoopBackOff", "RunContainerError"};
    const json_t *cs = json_array_get(json_object_get(json_object_get(pod, "status"), "containerStatuses"), 0);
    const char *phase = kube_str(pod, "status.phase");
    const json_t *term = json_object_get(json_object_get(cs, "state"), "terminated");
    const json_t *last = json_object_get(json_object_get(cs, "lastState"), "terminated");
    const char *wreason = kube_str(cs, "state.waiting.reason");
    const json_t *t = term ? term : last;

    why[0] = '\0';
    if (t && json_integer_value(json_object_get(t, "exitCode")) != 0) {
        const char *msg = json_string_value(json_object_get(t, "message"));
        const char *reason = json_string_value(json_object_get(t, "reason"));

        snprintf(why, len, "the daemon exited with status %d (%s): %s",
                 (int)json_integer_value(json_object_get(t, "exitCode")), reason ? reason : "Error",
                 msg ? msg : "no message");
        /* keep the last line of a log tail */
        char *nl;

        while ((nl = strrchr(why, '\n')) && nl[1] == '\0')
            *nl = '\0';
        return;
    }
    for (size_t i = 0; wreason && i < sizeof(bad_waiting) / sizeof(bad_waiting[0]); i++) {
        if (strcmp(wreason, bad_waiting[i]) == 0) {
            const char *msg = kube_str(cs, "state.waiting.message");

            snprintf(why, len, "the mount pod's container is waiting: %s%s%s", wreason, msg ? ": " : "",
                     msg ? msg : "");
            return;
        }
    }
    if (phase && (strcmp(phase, "Failed") == 0 || strcmp(phase, "Succeeded") == 0)) {
        const char *r = kube_str(pod, "status.reason"), *msg = kube_str(pod, "status.message");

        snprintf(why, len, "the mount pod is %s%s%s%s%s", phase, r ? ": " : "", r ? r : "", msg ? ": " : "",
                 msg ? msg : "");
    }
}

/* Waits until the daemon of the current generation reports serving.
 * Meanwhile the pod's status is read every second: an error there ends the
 * wait with that error. Called with m->op held. */
static int wait_serving(struct mounter_pod *mp, struct mp_mount *m, char *err, size_t errlen)
{
    long deadline = now_ms() + mp->serve_timeout_ms, next_check = now_ms() + 500;
    const char *const secrets[] = {m->sec.password, m->sec.access_key, m->sec.secret_key, m->sec.metaurl};

    for (;;) {
        pthread_mutex_lock(&m->mu);
        bool served = m->served_gen == m->rec.generation, dead = m->conn_dead;
        char kerr[256];

        snprintf(kerr, sizeof(kerr), "%s", m->keeper_err);
        if (!served && !dead && !kerr[0]) {
            struct timespec ts;

            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 200 * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&m->cond, &m->mu, &ts);
            served = m->served_gen == m->rec.generation;
        }
        pthread_mutex_unlock(&m->mu);
        if (served)
            return 0;
        if (dead) {
            snprintf(err, errlen, "the FUSE connection of the shared mount ended");
            return -ENOTCONN;
        }
        if (kerr[0]) {
            snprintf(err, errlen, "%s", kerr);
            return -EIO;
        }
        if (now_ms() >= next_check) {
            struct kube_err ke = {0};
            json_t *pod = NULL;
            char why[768];
            int rc = kube_get(mp->kube, m->rec.ns, "pods", m->rec.pod, &pod, &ke);

            next_check = now_ms() + 1000;
            if (rc == 0) {
                pod_problem(pod, why, sizeof(why));
                json_decref(pod);
                if (why[0]) {
                    csi_scrub(why, secrets, 4);
                    snprintf(err, errlen, "mount pod %s/%s: %s", m->rec.ns, m->rec.pod, why);
                    return -EIO;
                }
            } else if (rc == -ENOENT) {
                snprintf(err, errlen, "mount pod %s/%s was deleted before it served", m->rec.ns, m->rec.pod);
                return -EIO;
            }
        }
        if (now_ms() > deadline) {
            snprintf(err, errlen, "mount pod %s/%s did not take the FUSE connection within %ld s", m->rec.ns,
                     m->rec.pod, mp->serve_timeout_ms / 1000);
            return -ETIMEDOUT;
        }
    }
}

/* ---- the shared FUSE mount ---- */

static int mount_up(struct mounter_pod *mp, struct mp_mount *m, char *err, size_t errlen)
{
    struct handoff_mount_opts mo = {.fsname = "tidefs", .max_read = 1 << 20, .read_ahead_kb = 1024};
    struct handoff_keeper_config kc = {.volume = m->volume_label, .mountpoint = m->rec.source,
                                       .max_read = 1 << 20, .daemon_uid = mp->uid};
    struct handoff_err herr = {""};
    int fd, rc;

    if (strlen(mp->mnt_dir) + strlen(m->rec.key) + 2 > sizeof(m->rec.source)) {
        snprintf(err, errlen, "the state directory's path is too long");
        return -ENAMETOOLONG;
    }
    memcpy(m->rec.source, mp->mnt_dir, strlen(mp->mnt_dir));
    m->rec.source[strlen(mp->mnt_dir)] = '/';
    strcpy(m->rec.source + strlen(mp->mnt_dir) + 1, m->rec.key);
    if (mkdir(m->rec.source, 0755) != 0 && errno != EEXIST) {
        rc = -errno;
        snprintf(err, errlen, "cannot create %s: %s", m->rec.source, strerror(errno));
        return rc;
    }
    rc = handoff_fuse_mount(m->rec.source, &mo, &fd, &herr);
    if (rc == 0)
        rc = handoff_keeper_new(fd, &kc, &m->keeper, &herr);
    if (rc == 0)
        rc = keeper_start(m, mp->uid);
    if (rc) {
        snprintf(err, errlen, "cannot mount the shared FUSE mount: %s", herr.text[0] ? herr.text : strerror(-rc));
        if (csi_is_mount_point(m->rec.source) == 1)
            handoff_fuse_unmount(m->rec.source, NULL);
    }
    return rc;
}

/* Ends the shared mount: detach it, delete the pod (its daemon flushes on
 * SIGTERM) and Secret, forget the record. m must be unlinked already. */
static void mount_down(struct mounter_pod *mp, struct mp_mount *m)
{
    struct handoff_err herr = {""};

    if (m->rec.source[0] && csi_is_mount_point(m->rec.source) == 1 &&
        handoff_fuse_unmount(m->rec.source, &herr) != 0)
        csi_log(CSI_LOG_WARN, "mount %s: cannot detach %s: %s", m->rec.key, m->rec.source, herr.text);
    if (m->rec.source[0])
        rmdir(m->rec.source);
    delete_pod(mp, m->rec.ns[0] ? m->rec.ns : mp->ns, m->rec.pod);
    refs_remove(mp->refs_dir, m->rec.key);
    csi_log(CSI_LOG_INFO, "mount %s: last user gone: unmounted, mount pod %s deleted", m->rec.key, m->rec.pod);
}

/* ---- bind mounts ---- */

/* Binds source+subdir onto target; the sub-directory is resolved without
 * following symlinks (a user of the volume could have planted one). */
static int bind_target(const char *source, const char *subdir, const char *target, bool ro, char *err,
                       size_t errlen)
{
    struct open_how how = {.flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
                           .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS};
    const char *rel = subdir[0] == '/' && subdir[1] ? subdir + 1 : ".";
    int root = open(source, O_PATH | O_DIRECTORY | O_CLOEXEC), fd, rc = 0;
    char fdpath[64];

    if (root < 0) {
        rc = -errno;
        snprintf(err, errlen, "cannot open the shared mount: %s", strerror(errno));
        return rc;
    }
    fd = (int)syscall(SYS_openat2, root, rel, &how, sizeof(how));
    close(root);
    if (fd < 0) {
        rc = -errno;
        snprintf(err, errlen, "directory %s of the volume cannot be opened without symlinks: %s", subdir,
                 strerror(errno));
        return rc;
    }
    snprintf(fdpath, sizeof(fdpath), "/proc/self/fd/%d", fd);
    if (mount(fdpath, target, NULL, MS_BIND, NULL) != 0) {
        rc = -errno;
        snprintf(err, errlen, "cannot bind-mount %s onto the target: %s", subdir, strerror(errno));
    } else if (mount(NULL, target, NULL, MS_BIND | MS_REMOUNT | MS_NOSUID | MS_NODEV | (ro ? MS_RDONLY : 0), NULL) !=
               0) {
        rc = -errno;
        snprintf(err, errlen, "cannot make the bind mount %s: %s", ro ? "read-only" : "nosuid,nodev", strerror(errno));
        umount2(target, MNT_DETACH);
    }
    close(fd);
    return rc;
}

static int unbind_target(const char *target)
{
    int mounted = csi_is_mount_point(target);

    if (mounted <= 0)
        return mounted;
    if (umount2(target, 0) == 0 || (errno != EBUSY && errno != ENOTCONN && errno != EIO))
        return errno && csi_is_mount_point(target) == 1 ? -errno : 0;
    return umount2(target, MNT_DETACH) == 0 ? 0 : -errno;
}

/* ---- Events on the application's pod ---- */

static void post_event(struct mounter_pod *mp, const struct csi_mount_req *req, const char *message)
{
    struct kube_err ke = {0};
    char name[320], stamp[32];
    time_t now = time(NULL);
    struct tm tm;
    json_t *ev;

    if (!req->pod_name || !req->pod_namespace || !*req->pod_name || !*req->pod_namespace)
        return;
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
    snprintf(name, sizeof(name), "%.200s.tidefs-%lx%04x", req->pod_name, (unsigned long)now, (unsigned)(rand() & 0xffff));
    ev = json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:s, s:s, s:s, s:s, s:s}, s:s, s:s, s:s, s:{s:s, s:s}, s:s, s:s, "
                   "s:i, s:s, s:s}",
                   "apiVersion", "v1", "kind", "Event", "metadata", "name", name, "namespace", req->pod_namespace,
                   "involvedObject", "apiVersion", "v1", "kind", "Pod", "name", req->pod_name, "namespace",
                   req->pod_namespace, "uid", req->pod_uid ? req->pod_uid : "", "reason", "TidefsMountFailed",
                   "message", message, "type", "Warning", "source", "component", "tidefs-csi", "host", mp->node,
                   "firstTimestamp", stamp, "lastTimestamp", stamp, "count", 1, "reportingComponent", "tidefs-csi",
                   "reportingInstance", mp->node);
    if (ev && kube_create(mp->kube, req->pod_namespace, "events", ev, NULL, &ke) != 0)
        log_kube(CSI_LOG_WARN, "cannot post an Event on the application pod", &ke);
    json_decref(ev);
}

/* ---- the interface ---- */

/* Finds or makes m's shared mount and pod, and waits for it to serve.
 * Called with m->op held. */
static int ensure_serving(struct mounter_pod *mp, struct mp_mount *m, char *err, size_t errlen)
{
    int rc = 0;

    if (!m->keeper && !m->rec.source[0])
        rc = mount_up(mp, m, err, errlen);
    if (rc == 0 && !m->keeper) {
        snprintf(err, errlen, "the shared mount's FUSE fd was not recovered after a plugin restart");
        return -ENOTCONN;
    }
    if (rc == 0 && !m->rec.pod[0])
        rc = create_pod(mp, m, 0, err, errlen);
    if (rc == 0)
        rc = wait_serving(mp, m, err, errlen);
    return rc;
}

static int settings_for(const struct csi_mount_req *req, struct podspec_settings *st, json_t **settings, char *err,
                        size_t errlen)
{
    char label[64];
    const char *vol = req->volume_name && *req->volume_name ? req->volume_name : NULL;
    int rc = podspec_settings_parse(req->ctx_keys, req->ctx_vals, req->n_ctx, st, err, errlen);

    if (rc)
        return rc;
    podspec_label_value(vol ? vol : "unnamed", label, sizeof(label));
    *settings = json_pack("{s:o, s:s}", "pod", podspec_settings_to_json(st), "volume_label", label);
    return *settings ? 0 : -ENOMEM;
}

static int take_secrets(struct mp_mount *m, const struct csi_mount_req *req)
{
    struct mp_secrets s = {0};
    int rc = split_password(req->metaurl, &s);

    if (rc == 0 && req->access_key && *req->access_key && !(s.access_key = strdup(req->access_key)))
        rc = -ENOMEM;
    if (rc == 0 && req->secret_key && *req->secret_key && !(s.secret_key = strdup(req->secret_key)))
        rc = -ENOMEM;
    if (rc) {
        secrets_clear(&s);
        return rc;
    }
    secrets_clear(&m->sec);
    m->sec = s;
    m->have_secrets = true;
    return 0;
}

/* The mount for req: found in the table, or new (not yet up). */
static int mount_for(struct mounter_pod *mp, const struct csi_mount_req *req, struct mp_mount **out, char *err,
                     size_t errlen)
{
    struct podspec_settings st;
    json_t *settings = NULL;
    char key[KEY_HEX + 1];
    struct mp_mount *m;
    int rc = settings_for(req, &st, &settings, err, errlen);

    if (rc == 0)
        rc = mount_key(mp, req, &st, key);
    if (rc) {
        json_decref(settings);
        return rc;
    }
    pthread_mutex_lock(&mp->mu);
    for (m = mp->mounts; m && strcmp(m->rec.key, key) != 0; m = m->next)
        ;
    if (!m && (m = mount_new(key)) != NULL) {
        m->rec.settings = json_incref(settings);
        m->next = mp->mounts;
        mp->mounts = m;
    }
    if (m)
        m->users++;
    pthread_mutex_unlock(&mp->mu);
    json_decref(settings);
    if (!m)
        return -ENOMEM;
    *out = m;
    return 0;
}

static int publish_on(struct mounter_pod *mp, struct mp_mount *m, const struct csi_mount_req *req, char *err,
                      size_t errlen)
{
    int rc = mount_spec(mp, m, err, errlen);

    if (rc == 0)
        rc = take_secrets(m, req);
    if (rc == 0)
        rc = ensure_serving(mp, m, err, errlen);
    if (rc == 0)
        rc = bind_target(m->rec.source, req->subdir, req->target, req->readonly, err, errlen);
    if (rc)
        return rc;
    pthread_mutex_lock(&m->mu);
    rc = refs_add_target(&m->rec, req->target, req->volume_id, req->subdir, req->readonly);
    pthread_mutex_unlock(&m->mu);
    if (rc == -EEXIST)
        rc = 0;
    if (rc == 0)
        rc = save_record(mp, m);
    if (rc) {
        snprintf(err, errlen, "cannot record the reference: %s", strerror(-rc));
        pthread_mutex_lock(&m->mu);
        refs_remove_target(&m->rec, req->target);
        pthread_mutex_unlock(&m->mu);
        unbind_target(req->target);
        return rc;
    }
    csi_log(CSI_LOG_INFO, "mount %s: %s%s bound on %s (%zu user%s, pod %s)", m->rec.key, req->subdir,
            req->readonly ? " read-only" : "", req->target, m->rec.n_targets, m->rec.n_targets == 1 ? "" : "s",
            m->rec.pod);
    return 0;
}

static int pod_publish(struct csi_mounter *base, const struct csi_mount_req *req, char *err, size_t errlen)
{
    struct mounter_pod *mp = (struct mounter_pod *)base;
    struct mp_mount *m = NULL;
    int rc;

    for (;;) {
        rc = mount_for(mp, req, &m, err, errlen);
        if (rc)
            return rc;
        pthread_mutex_lock(&m->op);
        if (!m->unlinked)
            break;
        pthread_mutex_unlock(&m->op); /* torn down while we waited: start afresh */
        mount_put(mp, m);
    }
    rc = publish_on(mp, m, req, err, errlen);
    if (rc != 0 && m->rec.n_targets == 0) { /* nobody uses what we made: take it all down */
        mount_unlink(mp, m);
        mount_down(mp, m);
    }
    pthread_mutex_unlock(&m->op);
    mount_put(mp, m);
    if (rc)
        post_event(mp, req, err);
    return rc;
}

static int pod_unpublish(struct csi_mounter *base, const char *target, char *err, size_t errlen)
{
    struct mounter_pod *mp = (struct mounter_pod *)base;
    struct mp_mount *m = mount_find(mp, NULL, target);
    int rc;

    if (m) {
        pthread_mutex_lock(&m->op);
        if (m->unlinked) {
            pthread_mutex_unlock(&m->op);
            mount_put(mp, m);
            m = NULL;
        }
    }
    rc = unbind_target(target);
    if (rc)
        snprintf(err, errlen, "cannot unmount the target: %s", strerror(-rc));
    if (!m) /* not ours (any more): only made sure nothing stays mounted */
        return rc;
    if (rc == 0) {
        pthread_mutex_lock(&m->mu);
        refs_remove_target(&m->rec, target);
        pthread_mutex_unlock(&m->mu);
        if (m->rec.n_targets == 0) {
            mount_unlink(mp, m);
            mount_down(mp, m);
        } else {
            save_record(mp, m);
        }
    }
    pthread_mutex_unlock(&m->op);
    mount_put(mp, m);
    return rc;
}

/* statvfs in a child: a hung daemon blocks the caller, and only a child
 * can be killed out of that wait. */
static int probe_statvfs(const char *path, struct statvfs *out)
{
    struct {
        int err;
        struct statvfs sv;
    } r = {0};
    int fds[2], rc;
    pid_t pid;

    if (pipe2(fds, O_CLOEXEC) < 0)
        return -errno;
    pid = fork();
    if (pid < 0) {
        rc = -errno;
        close(fds[0]);
        close(fds[1]);
        return rc;
    }
    if (pid == 0) {
        if (statvfs(path, &r.sv) != 0)
            r.err = errno;
        _exit(write(fds[1], &r, sizeof(r)) == (ssize_t)sizeof(r) ? 0 : 1);
    }
    close(fds[1]);
    struct pollfd p = {.fd = fds[0], .events = POLLIN};

    rc = poll(&p, 1, PROBE_TIMEOUT_MS);
    if (rc <= 0) {
        kill(pid, SIGKILL);
        rc = -ETIMEDOUT;
    } else {
        rc = read(fds[0], &r, sizeof(r)) == (ssize_t)sizeof(r) ? -r.err : -EIO;
    }
    close(fds[0]);
    waitpid(pid, NULL, 0);
    if (rc == 0)
        *out = r.sv;
    return rc;
}

static int pod_stat(struct csi_mounter *base, const char *target, struct csi_mount_stat *out)
{
    struct statvfs sv = {0};
    int rc = csi_is_mount_point(target);

    (void)base;
    if (rc <= 0)
        return rc == 0 ? -ENOENT : rc;
    rc = probe_statvfs(target, &sv);
    if (rc)
        return rc;
    out->bytes_total = (uint64_t)sv.f_blocks * sv.f_frsize;
    out->bytes_avail = (uint64_t)sv.f_bavail * sv.f_frsize;
    out->bytes_used = out->bytes_total - (uint64_t)sv.f_bfree * sv.f_frsize;
    out->inodes_total = sv.f_files;
    out->inodes_avail = sv.f_favail;
    out->inodes_used = sv.f_files - sv.f_ffree;
    return 0;
}

/* ---- the watch thread: replace mount pods that are gone ---- */

static bool pod_is_alive(const json_t *items, const char *name)
{
    size_t i;
    json_t *p;

    json_array_foreach(items, i, p) {
        const char *n = kube_str(p, "metadata.name"), *phase = kube_str(p, "status.phase");

        if (!n || strcmp(n, name) != 0)
            continue;
        if (json_object_get(json_object_get(p, "metadata"), "deletionTimestamp"))
            return false;
        return !phase || (strcmp(phase, "Failed") != 0 && strcmp(phase, "Succeeded") != 0);
    }
    return false;
}

static void replace_pod(struct mounter_pod *mp, struct mp_mount *m)
{
    char err[512] = "";
    uint32_t gen;

    if (pthread_mutex_trylock(&m->op) != 0)
        return; /* a publish or unpublish is busy with it: next round */
    if (m->unlinked || m->rec.n_targets == 0 || !m->keeper) {
        pthread_mutex_unlock(&m->op);
        return;
    }
    gen = m->rec.generation + 1;
    csi_log(CSI_LOG_WARN, "mount %s: mount pod %s is gone or failed: starting %s generation %u", m->rec.key,
            m->rec.pod, "a replacement,", gen);
    if (create_pod(mp, m, gen, err, sizeof(err)) != 0)
        csi_log(CSI_LOG_ERROR, "mount %s: cannot replace the mount pod: %s", m->rec.key, err);
    pthread_mutex_unlock(&m->op);
}

/* Pods of ours on this node that no mount knows: left by a crash between
 * creating a pod and recording it. */
static void delete_orphans(struct mounter_pod *mp, const json_t *items)
{
    size_t i;
    json_t *p;

    json_array_foreach(items, i, p) {
        const char *name = kube_str(p, "metadata.name");
        bool known = false;

        if (!name || json_object_get(json_object_get(p, "metadata"), "deletionTimestamp"))
            continue;
        pthread_mutex_lock(&mp->mu);
        for (struct mp_mount *m = mp->mounts; m && !known; m = m->next) {
            pthread_mutex_lock(&m->mu);
            known = strcmp(m->rec.pod, name) == 0 || (strlen(name) > 23 && strncmp(name + 7, m->rec.key, 16) == 0);
            pthread_mutex_unlock(&m->mu);
        }
        pthread_mutex_unlock(&mp->mu);
        if (!known) {
            csi_log(CSI_LOG_WARN, "deleting mount pod %s: no mount on this node uses it", name);
            delete_pod(mp, mp->ns, name);
        }
    }
}

static void watch_round(struct mounter_pod *mp, const json_t *items)
{
    struct mp_mount *todo[64];
    size_t n = 0;

    pthread_mutex_lock(&mp->mu);
    for (struct mp_mount *m = mp->mounts; m && n < 64; m = m->next) {
        pthread_mutex_lock(&m->mu);
        bool gone = m->rec.pod[0] && m->rec.n_targets > 0 && !pod_is_alive(items, m->rec.pod);
        bool dirty = m->dirty;

        pthread_mutex_unlock(&m->mu);
        if (gone)
            todo[n++] = m;
        else if (dirty && pthread_mutex_trylock(&m->op) == 0) { /* a replacement's daemon reported */
            if (!m->unlinked)
                save_record(mp, m);
            pthread_mutex_unlock(&m->op);
        }
    }
    /* replace_pod only trylocks m->op, and a mount is freed only after its
     * unlink under mp->mu: hold mp->mu so none is freed under us */
    for (size_t i = 0; i < n; i++)
        replace_pod(mp, todo[i]);
    pthread_mutex_unlock(&mp->mu);
    delete_orphans(mp, items);
}

static void *watch_main(void *arg)
{
    struct mounter_pod *mp = arg;
    struct kube_backoff b = {.initial_ms = WATCH_INTERVAL_MS, .max_ms = 30000};
    char selector[200];

    snprintf(selector, sizeof(selector), PODSPEC_LABEL_MANAGED "=" PODSPEC_MANAGER "," PODSPEC_LABEL_NODE "=%s",
             mp->node_label_buf);
    for (;;) {
        struct kube_err ke = {0};
        json_t *list = NULL;
        long wait = WATCH_INTERVAL_MS;
        int rc = kube_list(mp->kube, mp->ns, "pods", selector, NULL, &list, &ke);

        if (rc == 0) {
            kube_backoff_reset(&b);
            watch_round(mp, json_object_get(list, "items"));
        } else {
            wait = kube_backoff_next(&b);
            log_kube(CSI_LOG_WARN, "cannot list the mount pods (will retry)", &ke);
        }
        json_decref(list);
        struct pollfd p = {.fd = mp->watch_wake[0], .events = POLLIN};

        if (poll(&p, 1, (int)wait) > 0)
            break; /* told to stop */
    }
    return NULL;
}

/* ---- recovery after a plugin restart ---- */

/* Takes the FUSE fd back from the daemon serving the mount: the one
 * /dev/fuse fd of that process (clone_fd is off), copied with
 * pidfd_getfd(2). The pid is only trusted with the start time recorded at
 * hand-off, so a recycled pid is never robbed. */
static int recover_fd(const struct refs_mount *rec, int *out)
{
    char dir[64], link[PATH_MAX], path[PATH_MAX];
    struct dirent *e;
    int found = -1, pidfd, fd;
    DIR *d;

    if (rec->daemon_pid <= 0 || rec->daemon_start == 0 || proc_starttime(rec->daemon_pid) != rec->daemon_start)
        return -ESRCH;
    snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)rec->daemon_pid);
    d = opendir(dir);
    if (!d)
        return -errno;
    while ((e = readdir(d)) != NULL) {
        ssize_t n;

        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        n = readlink(path, link, sizeof(link) - 1);
        if (n <= 0)
            continue;
        link[n] = '\0';
        if (strcmp(link, "/dev/fuse") == 0) {
            if (found >= 0) { /* two connections: cannot tell which */
                closedir(d);
                return -EMFILE;
            }
            found = atoi(e->d_name);
        }
    }
    closedir(d);
    if (found < 0)
        return -ENOENT;
    pidfd = (int)syscall(SYS_pidfd_open, rec->daemon_pid, 0);
    if (pidfd < 0)
        return -errno;
    fd = (int)syscall(SYS_pidfd_getfd, pidfd, found, 0);
    close(pidfd);
    if (fd < 0)
        return -errno;
    fcntl(fd, F_SETFD, FD_CLOEXEC);
    *out = fd;
    return 0;
}

/* Reads the secret values back from the current pod's Secret. */
static int recover_secrets(struct mounter_pod *mp, struct mp_mount *m)
{
    static const char *const keys[] = {"metaurl", "meta-password", "access-key", "secret-key"};
    struct kube_err ke = {0};
    json_t *sec = NULL, *data;
    char **dst[] = {&m->sec.metaurl, &m->sec.password, &m->sec.access_key, &m->sec.secret_key};
    int rc = kube_get(mp->kube, m->rec.ns, "secrets", m->rec.pod, &sec, &ke);

    if (rc) {
        log_kube(CSI_LOG_WARN, "cannot read the mount pod's Secret back", &ke);
        return rc;
    }
    data = json_object_get(sec, "data");
    for (size_t i = 0; i < 4; i++) {
        const char *b64 = json_string_value(json_object_get(data, keys[i]));
        size_t len = b64 ? strlen(b64) : 0;
        unsigned char *raw;
        int n;

        if (!b64)
            continue;
        raw = calloc(1, len + 4);
        n = raw ? EVP_DecodeBlock(raw, (const unsigned char *)b64, (int)len) : -1;
        if (n < 0) {
            free(raw);
            continue;
        }
        while (n > 0 && len > 0 && b64[--len] == '=') /* DecodeBlock counts padding as zero bytes */
            n--;
        raw[n] = '\0';
        *dst[i] = (char *)raw;
    }
    json_decref(sec);
    m->have_secrets = m->sec.metaurl != NULL;
    return m->have_secrets ? 0 : -ENOENT;
}

/* Takes a recorded mount back: its fd from the daemon, the keeper on the
 * current pod's socket, the secret values from the Secret. A mount whose
 * FUSE mount is gone (node reboot) is cleaned up instead. */
static void recover_one(struct mounter_pod *mp, const char *key)
{
    struct mp_mount *m = mount_new(key);
    char why[256] = "", err[256] = "", sock[PATH_MAX];
    int rc, fd = -1;

    if (!m)
        return;
    rc = refs_load(mp->refs_dir, key, &m->rec, why, sizeof(why));
    if (rc) {
        csi_log(CSI_LOG_ERROR, "mount record %s cannot be read (%s): ignored", key, rc == -EBADMSG ? why : strerror(-rc));
        mount_free(m);
        return;
    }
    if (csi_is_mount_point(m->rec.source) != 1) {
        csi_log(CSI_LOG_WARN, "mount %s: the shared mount is gone (node restarted?): cleaning up", key);
        for (size_t i = 0; i < m->rec.n_targets; i++)
            unbind_target(m->rec.targets[i].target);
        mount_down(mp, m);
        mount_free(m);
        return;
    }
    if (mount_spec(mp, m, err, sizeof(err)) != 0)
        csi_log(CSI_LOG_ERROR, "mount %s: %s", key, err);
    rc = recover_fd(&m->rec, &fd);
    if (rc == 0) {
        struct handoff_keeper_config kc = {.volume = m->volume_label, .mountpoint = m->rec.source, .max_read = 1 << 20,
                                           .daemon_uid = mp->uid, .init = m->rec.has_init ? &m->rec.init : NULL};
        struct handoff_err herr = {""};

        rc = handoff_keeper_new(fd, &kc, &m->keeper, &herr);
        if (rc == 0)
            rc = keeper_start(m, mp->uid);
        if (rc == 0 && socket_path(mp, m->rec.pod_uid, sock, sizeof(sock)) == 0)
            keeper_point_at(m, sock);
        m->served_gen = m->rec.generation; /* its daemon is serving: we took the fd from it */
    }
    if (rc)
        csi_log(CSI_LOG_ERROR, "mount %s: cannot take the FUSE fd back from daemon pid %d (%s): the mount works "
                "until its pod dies, and cannot be handed to a replacement", key, (int)m->rec.daemon_pid,
                strerror(-rc));
    recover_secrets(mp, m);
    mount_link(mp, m);
    csi_log(CSI_LOG_INFO, "mount %s: recovered (%zu user%s, pod %s%s)", key, m->rec.n_targets,
            m->rec.n_targets == 1 ? "" : "s", m->rec.pod, m->keeper ? ", FUSE fd recovered" : "");
}

static void recover_all(struct mounter_pod *mp)
{
    char **keys = NULL;
    size_t n = 0;

    if (refs_list(mp->refs_dir, &keys, &n) != 0)
        return;
    for (size_t i = 0; i < n; i++) {
        recover_one(mp, keys[i]);
        free(keys[i]);
    }
    free(keys);
}

/* ---- construction ---- */

/* The image of this plugin's container (POD_NAME / POD_NAMESPACE from the
 * downward API; the container named CSI_CONTAINER_NAME, default tidefs-csi,
 * or the only one). */
static int own_image(struct mounter_pod *mp, char *err, size_t errlen)
{
    const char *name = getenv("POD_NAME"), *ns = getenv("POD_NAMESPACE"), *cname = getenv("CSI_CONTAINER_NAME");
    struct kube_err ke = {0};
    json_t *pod = NULL, *c;
    size_t i;

    if (!name || !ns) {
        snprintf(err, errlen, "--mount-pod-image is required (or POD_NAME and POD_NAMESPACE to find our own image)");
        return -EINVAL;
    }
    if (kube_get(mp->kube, ns, "pods", name, &pod, &ke) != 0) {
        snprintf(err, errlen, "cannot read our own pod to find the mount pod image: %s", ke.text);
        return -EIO;
    }
    json_t *cs = json_object_get(json_object_get(pod, "spec"), "containers");

    json_array_foreach(cs, i, c) {
        const char *n = json_string_value(json_object_get(c, "name"));
        const char *img = json_string_value(json_object_get(c, "image"));

        if (img && ((n && strcmp(n, cname ? cname : "tidefs-csi") == 0) || json_array_size(cs) == 1))
            snprintf(mp->image, sizeof(mp->image), "%s", img);
    }
    json_decref(pod);
    if (!mp->image[0]) {
        snprintf(err, errlen, "our pod has no container named %s: give --mount-pod-image",
                 cname ? cname : "tidefs-csi");
        return -EINVAL;
    }
    return 0;
}

static void pod_destroy(struct csi_mounter *base)
{
    struct mounter_pod *mp = (struct mounter_pod *)base;

    if (mp->watcher_running) {
        if (write(mp->watch_wake[1], "s", 1) < 0) {
            /* cannot happen with an empty pipe */
        }
        pthread_join(mp->watcher, NULL);
    }
    /* the mounts stay: their daemons serve on, and a restarted plugin
     * takes them back from the records */
    while (mp->mounts) {
        struct mp_mount *m = mp->mounts;

        mp->mounts = m->next;
        if (m->keeper && m->served_gen == UINT32_MAX)
            csi_log(CSI_LOG_WARN, "mount %s: no daemon holds its FUSE fd: it ends with this plugin", m->rec.key);
        mount_free(m);
    }
    close(mp->watch_wake[0]);
    close(mp->watch_wake[1]);
    kube_client_free(mp->kube);
    pthread_mutex_destroy(&mp->mu);
    free(mp);
}

static const struct csi_mounter_ops pod_ops = {
    .publish = pod_publish,
    .unpublish = pod_unpublish,
    .stat = pod_stat,
    .destroy = pod_destroy,
};

static int setup_dirs(struct mounter_pod *mp, const char *state_dir, char *err, size_t errlen)
{
    int rc;

    snprintf(mp->refs_dir, sizeof(mp->refs_dir), "%s/mountpods", state_dir);
    snprintf(mp->mnt_dir, sizeof(mp->mnt_dir), "%s/mountpods/mnt", state_dir);
    rc = refs_open(mp->refs_dir);
    if (rc == 0 && mkdir(mp->mnt_dir, 0755) != 0 && errno != EEXIST)
        rc = -errno;
    if (rc == 0)
        rc = refs_salt(mp->refs_dir, mp->salt);
    if (rc)
        snprintf(err, errlen, "cannot set up %s: %s", mp->refs_dir, strerror(-rc));
    return rc;
}

int csi_mounter_pod_new(const struct csi_mounter_pod_config *cfg, struct csi_mounter **out, char *err, size_t errlen)
{
    struct mounter_pod *mp = calloc(1, sizeof(*mp));
    struct kube_err ke = {0};
    int rc;

    if (!mp || pipe2(mp->watch_wake, O_CLOEXEC) != 0) {
        free(mp);
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    mp->base.ops = &pod_ops;
    pthread_mutex_init(&mp->mu, NULL);
    snprintf(mp->node, sizeof(mp->node), "%s", cfg->node_id);
    podspec_label_value(mp->node, mp->node_label_buf, sizeof(mp->node_label_buf));
    snprintf(mp->kubelet_dir, sizeof(mp->kubelet_dir), "%s", cfg->kubelet_dir);
    snprintf(mp->priority_class, sizeof(mp->priority_class), "%s", cfg->priority_class ? cfg->priority_class : "");
    mp->uid = cfg->uid ? cfg->uid : PODSPEC_DEFAULT_UID;
    mp->serve_timeout_ms = cfg->serve_timeout_ms > 0 ? cfg->serve_timeout_ms : SERVE_TIMEOUT_MS;
    rc = kube_client_auto(&mp->kube, &ke);
    if (rc)
        snprintf(err, errlen, "mount pods need the Kubernetes API: %s", ke.text);
    if (rc == 0)
        snprintf(mp->ns, sizeof(mp->ns), "%s", cfg->ns && *cfg->ns ? cfg->ns : kube_client_namespace(mp->kube));
    if (rc == 0 && cfg->image && *cfg->image)
        snprintf(mp->image, sizeof(mp->image), "%s", cfg->image);
    else if (rc == 0)
        rc = own_image(mp, err, errlen);
    if (rc == 0)
        rc = setup_dirs(mp, cfg->state_dir, err, errlen);
    if (rc == 0) {
        recover_all(mp);
        rc = -pthread_create(&mp->watcher, NULL, watch_main, mp);
        mp->watcher_running = rc == 0;
    }
    if (rc) {
        pod_destroy(&mp->base);
        return rc;
    }
    csi_log(CSI_LOG_INFO, "mount pods: namespace %s, image %s, uid %u, priority class %s", mp->ns, mp->image,
            (unsigned)mp->uid, mp->priority_class[0] ? mp->priority_class : "(none)");
    *out = &mp->base;
    return 0;
}
