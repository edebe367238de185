/* SPDX-License-Identifier: Apache-2.0
 *
 * The metrics HTTP server (see metrics.h). Deliberately minimal: one
 * request per connection (Connection: close), a 2 s deadline for reading
 * the request and for writing the answer, requests over 8 KiB refused, so
 * a stuck or hostile client costs at most one deadline of the metrics
 * thread and nothing of the filesystem.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "fuse/metrics.h"

#define REQ_MAX 8192
#define IO_DEADLINE_MS 2000
#define DEFAULT_HOST "127.0.0.1"

struct metrics_server {
    struct vfs_stats *stats;    /* borrowed */
    struct chunk_store *cs;     /* borrowed */
    int ufd, tfd;               /* listening sockets, -1 = none */
    int stop[2];                /* pipe: a byte on stop[1] ends the thread */
    char unix_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    ino_t unix_ino;             /* what we bound, to remove only our own */
    pthread_t thread;
    bool running;
};

/* --- addresses ------------------------------------------------------- */

static int split_addr(const char *addr, char *host, size_t hlen, const char **port)
{
    const char *colon = strrchr(addr, ':');
    if (addr[0] == '[') {
        const char *close = strchr(addr, ']');
        if (!close || close[1] != ':' || (size_t)(close - addr - 1) >= hlen)
            return -EINVAL;
        snprintf(host, hlen, "%.*s", (int)(close - addr - 1), addr + 1);
        *port = close + 2;
    } else if (!colon) {
        snprintf(host, hlen, "%s", DEFAULT_HOST);
        *port = addr;
    } else {
        if ((size_t)(colon - addr) >= hlen || memchr(addr, ':', (size_t)(colon - addr)))
            return -EINVAL; /* a bare IPv6 address needs brackets */
        snprintf(host, hlen, "%.*s", (int)(colon - addr), addr);
        if (!host[0])
            snprintf(host, hlen, "%s", DEFAULT_HOST);
        *port = colon + 1;
    }
    char *end;
    errno = 0;
    long p = strtol(*port, &end, 10);
    return (**port && !*end && !errno && p > 0 && p < 65536) ? 0 : -EINVAL;
}

int metrics_parse_addr(const char *addr, struct sockaddr_storage *ss, socklen_t *len, char *why, size_t whylen)
{
    char host[256];
    const char *port;
    if (!addr || !*addr || split_addr(addr, host, sizeof(host), &port) != 0) {
        snprintf(why, whylen, "'%s' is not HOST:PORT (a port 1-65535; [ADDR]:PORT for IPv6)", addr ? addr : "");
        return -EINVAL;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0 || !res) {
        snprintf(why, whylen, "cannot resolve '%s': %s", host, gai_strerror(rc));
        return -EINVAL;
    }
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

/* `shared`: SO_REUSEPORT, so that a daemon taking over the mount (an
 * upgrade) listens while its predecessor still does. */
static int listen_tcp(const char *addr, bool shared, int *fd, char *why, size_t whylen)
{
    struct sockaddr_storage ss;
    socklen_t len;
    int rc = metrics_parse_addr(addr, &ss, &len, why, whylen);
    if (rc)
        return rc;
    int s = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    int one = 1;
    if (s < 0 || setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        (shared && setsockopt(s, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) ||
        bind(s, (struct sockaddr *)&ss, len) != 0 || listen(s, 16) != 0) {
        rc = -errno;
        snprintf(why, whylen, "cannot listen on %s: %s", addr, strerror(errno));
        if (s >= 0)
            close(s);
        return rc;
    }
    *fd = s;
    return 0;
}

int metrics_check_addr(const char *addr, char *why, size_t whylen)
{
    int fd = -1;
    int rc = listen_tcp(addr, false, &fd, why, whylen);
    if (fd >= 0)
        close(fd);
    return rc;
}

static int listen_unix(struct metrics_server *ms, const char *path, char *why, size_t whylen)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(sa.sun_path)) {
        snprintf(why, whylen, "metrics socket path too long: %s", path);
        return -ENAMETOOLONG;
    }
    strcpy(sa.sun_path, path);
    unlink(path); /* a crashed predecessor's; a live one's clients move to us */
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    struct stat st;
    if (s < 0 || bind(s, (struct sockaddr *)&sa, sizeof(sa)) != 0 || chmod(path, 0600) != 0 ||
        listen(s, 16) != 0 || stat(path, &st) != 0) {
        int rc = -errno;
        snprintf(why, whylen, "cannot listen on %s: %s", path, strerror(errno));
        if (s >= 0)
            close(s);
        return rc;
    }
    ms->ufd = s;
    ms->unix_ino = st.st_ino;
    strcpy(ms->unix_path, path);
    return 0;
}

/* --- exposition ------------------------------------------------------ */

static void family(FILE *f, const char *name, const char *type, const char *help)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void one(FILE *f, const char *name, const char *type, const char *help, unsigned long long v)
{
    family(f, name, type, help);
    fprintf(f, "%s %llu\n", name, v);
}

static void render_fuse(FILE *f, const struct vfs_stats *s)
{
    family(f, "tidefs_fuse_ops_total", "counter", "FUSE requests handled, by operation.");
    for (int i = 0; i < VFS_OP_COUNT; i++)
        fprintf(f, "tidefs_fuse_ops_total{op=\"%s\"} %llu\n", vfs_op_name(i), (unsigned long long)s->ops[i].count);
    family(f, "tidefs_fuse_op_seconds_total", "counter", "Time spent handling FUSE requests, by operation.");
    for (int i = 0; i < VFS_OP_COUNT; i++)
        fprintf(f, "tidefs_fuse_op_seconds_total{op=\"%s\"} %.9f\n", vfs_op_name(i), (double)s->ops[i].ns / 1e9);
    one(f, "tidefs_fuse_read_bytes_total", "counter", "Bytes returned by read requests.", s->read_bytes);
    one(f, "tidefs_fuse_written_bytes_total", "counter", "Bytes accepted by write and copy_file_range requests.",
        s->written_bytes);
}

static void render_chunk(FILE *f, const struct chunk_stats *c)
{
    family(f, "tidefs_object_requests_total", "counter", "Successful object store requests for blocks, by type.");
    fprintf(f, "tidefs_object_requests_total{type=\"get\"} %llu\n", (unsigned long long)c->blocks_fetched);
    fprintf(f, "tidefs_object_requests_total{type=\"ranged_get\"} %llu\n", (unsigned long long)c->ranged_gets);
    fprintf(f, "tidefs_object_requests_total{type=\"put\"} %llu\n", (unsigned long long)c->blocks_uploaded);
    one(f, "tidefs_cache_hits_total", "counter",
        "Blocks loaded from the local disk cache (or writeback staging) instead of the object store.",
        c->disk_cache_hits);
    family(f, "tidefs_cache_bytes", "gauge", "Bytes held by the block caches, by tier.");
    fprintf(f, "tidefs_cache_bytes{tier=\"memory\"} %llu\n", (unsigned long long)c->cache_bytes);
    fprintf(f, "tidefs_cache_bytes{tier=\"disk\"} %llu\n", (unsigned long long)c->disk_cache_bytes);
    one(f, "tidefs_memory_used_bytes", "gauge", "Buffer memory in use (write buffers and cached blocks).",
        c->mem_used);
    one(f, "tidefs_memory_peak_bytes", "gauge", "Highest buffer memory in use so far.", c->mem_peak);
    one(f, "tidefs_memory_limit_bytes", "gauge", "Buffer memory limit (--buffer-size).", c->mem_limit);
    one(f, "tidefs_slices_committed_total", "counter", "Slices committed to the metadata engine.",
        c->slices_committed);
    one(f, "tidefs_blocks_staged", "gauge", "Blocks staged for a later upload (--writeback).", c->blocks_staged);
    one(f, "tidefs_compactions_total", "counter", "Chunks rewritten by compaction.", c->compactions);
}

int metrics_render(const struct vfs_stats *stats, struct chunk_store *cs, char **out, size_t *len)
{
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    if (!f)
        return -ENOMEM;
    if (stats) {
        struct vfs_stats snap;
        vfs_stats_snapshot(stats, &snap);
        render_fuse(f, &snap);
    }
    if (cs) {
        struct chunk_stats c;
        chunk_store_stats(cs, &c);
        render_chunk(f, &c);
    }
    if (fclose(f) != 0) {
        free(buf);
        return -ENOMEM;
    }
    *out = buf;
    *len = n;
    return 0;
}

/* --- HTTP ------------------------------------------------------------ */

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for `events` on fd until the deadline; 0 when ready. */
static int wait_fd(int fd, short events, int64_t deadline)
{
    int64_t left = deadline - mono_ms();
    struct pollfd p = {fd, events, 0};
    if (left <= 0)
        return -ETIMEDOUT;
    int n = poll(&p, 1, (int)left);
    return n > 0 ? 0 : n == 0 ? -ETIMEDOUT : -errno;
}

/* Reads the request head; its length, or -errno (-E2BIG: too large). */
static ssize_t read_request(int fd, char *buf, size_t cap, int64_t deadline)
{
    size_t used = 0;
    while (used < cap - 1) {
        if (wait_fd(fd, POLLIN, deadline) != 0)
            return -ETIMEDOUT;
        ssize_t n = recv(fd, buf + used, cap - 1 - used, 0);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        if (n <= 0)
            return n < 0 ? -errno : -ECONNRESET;
        used += (size_t)n;
        buf[used] = '\0';
        if (strstr(buf, "\r\n\r\n") || strstr(buf, "\n\n"))
            return (ssize_t)used;
    }
    return -E2BIG;
}

static void send_all(int fd, const char *p, size_t n, int64_t deadline)
{
    while (n > 0 && wait_fd(fd, POLLOUT, deadline) == 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        if (w <= 0)
            return;
        p += w;
        n -= (size_t)w;
    }
}

static void respond(int fd, int code, const char *reason, const char *type, const char *body, size_t blen,
                    bool head_only, int64_t deadline)
{
    char head[256];
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n", code,
                     reason, type, blen);
    send_all(fd, head, (size_t)n, deadline);
    if (!head_only)
        send_all(fd, body, blen, deadline);
}

static void error_reply(int fd, int code, const char *reason, int64_t deadline)
{
    char body[64];
    int n = snprintf(body, sizeof(body), "%d %s\n", code, reason);
    respond(fd, code, reason, "text/plain; charset=utf-8", body, (size_t)n, false, deadline);
}

/* Only the request line matters: "GET /metrics HTTP/1.x". */
static void serve_one(struct metrics_server *ms, int fd)
{
    int64_t deadline = mono_ms() + IO_DEADLINE_MS;
    char req[REQ_MAX];
    ssize_t n = read_request(fd, req, sizeof(req), deadline);
    if (n == -E2BIG)
        return error_reply(fd, 431, "Request Header Fields Too Large", deadline);
    if (n < 0)
        return;
    char method[16], target[256], version[16];
    if (sscanf(req, "%15s %255s %15s", method, target, version) != 3 || strncmp(version, "HTTP/1.", 7) != 0)
        return error_reply(fd, 400, "Bad Request", deadline);
    bool head = strcmp(method, "HEAD") == 0;
    if (strcmp(method, "GET") != 0 && !head)
        return error_reply(fd, 405, "Method Not Allowed", deadline);
    size_t plen = strcspn(target, "?");
    if (plen != strlen("/metrics") || strncmp(target, "/metrics", plen) != 0)
        return error_reply(fd, 404, "Not Found", deadline);
    char *body = NULL;
    size_t blen = 0;
    if (metrics_render(ms->stats, ms->cs, &body, &blen) != 0)
        return error_reply(fd, 500, "Internal Server Error", deadline);
    respond(fd, 200, "OK", "text/plain; version=0.0.4; charset=utf-8", body, blen, head, deadline);
    free(body);
}

static void *serve_loop(void *arg)
{
    struct metrics_server *ms = arg;
    for (;;) {
        struct pollfd p[3] = {{ms->stop[0], POLLIN, 0}, {ms->ufd, POLLIN, 0}, {ms->tfd, POLLIN, 0}};
        if (poll(p, 3, -1) < 0 && errno != EINTR)
            break;
        if (p[0].revents)
            break;
        for (int i = 1; i < 3; i++) {
            if (!(p[i].revents & POLLIN))
                continue;
            int c = accept4(p[i].fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
            if (c < 0)
                continue;
            serve_one(ms, c);
            close(c);
        }
    }
    return NULL;
}

int metrics_start(struct vfs_stats *stats, struct chunk_store *cs, const char *unix_path, const char *tcp_addr,
                  struct metrics_server **out, char *why, size_t whylen)
{
    struct metrics_server *ms = calloc(1, sizeof(*ms));
    if (!ms) {
        snprintf(why, whylen, "out of memory");
        return -ENOMEM;
    }
    *ms = (struct metrics_server){.stats = stats, .cs = cs, .ufd = -1, .tfd = -1, .stop = {-1, -1}};
    int rc = pipe2(ms->stop, O_CLOEXEC) == 0 ? 0 : -errno;
    if (rc)
        snprintf(why, whylen, "pipe: %s", strerror(-rc));
    if (rc == 0 && unix_path)
        rc = listen_unix(ms, unix_path, why, whylen);
    if (rc == 0 && tcp_addr)
        rc = listen_tcp(tcp_addr, true, &ms->tfd, why, whylen);
    if (rc == 0 && (rc = -pthread_create(&ms->thread, NULL, serve_loop, ms)) != 0)
        snprintf(why, whylen, "cannot start the metrics thread: %s", strerror(-rc));
    ms->running = rc == 0;
    if (rc) {
        metrics_stop(ms);
        return rc;
    }
    *out = ms;
    return 0;
}

void metrics_stop(struct metrics_server *ms)
{
    if (!ms)
        return;
    if (ms->running && write(ms->stop[1], "x", 1) == 1)
        pthread_join(ms->thread, NULL);
    struct stat st;
    if (ms->ufd >= 0 && stat(ms->unix_path, &st) == 0 && st.st_ino == ms->unix_ino)
        unlink(ms->unix_path);
    int fds[] = {ms->ufd, ms->tfd, ms->stop[0], ms->stop[1]};
    for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
        if (fds[i] >= 0)
            close(fds[i]);
    free(ms);
}
