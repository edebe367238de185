/* SPDX-License-Identifier: Apache-2.0
 *
 * handoff_hellofs: a tiny read-only low-level FUSE filesystem that never
 * mounts anything itself. It is handed an already-mounted /dev/fuse fd
 * (over a hand-off socket, or inherited) and serves it through
 * handoff_session_start(), the way the tidefs daemon does; the integration
 * tests kill -9 it and start another one on the same connection.
 *
 *   /data  16 MiB; the 8-byte little-endian word at offset 8k holds k
 *   /slow  4 KiB of 'S'; each read first sleeps --slow-ms (a request the
 *          daemon has read but not answered, for the resend test)
 *   /pid   the serving daemon's pid
 * Every file is direct_io and every TTL 0, so each access reaches a daemon.
 *
 *   handoff_hellofs --fuse-fd-socket PATH [--keeper-uid UID] [--slow-ms N] [--no-resend]
 *   handoff_hellofs --fuse-fd N [--init-json FILE]
 * With --fuse-fd the negotiated INIT state is printed on stdout as JSON.
 */
#define FUSE_USE_VERSION 314

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <fuse_lowlevel.h>

#include "handoff/handoff.h"
#include "handoff/handoff_session.h"

#define DATA_SIZE (16u << 20)
#define SLOW_SIZE 4096u
enum { INO_ROOT = 1, INO_DATA, INO_SLOW, INO_PID, INO_END };
static const char *const names[INO_END] = {[INO_DATA] = "data", [INO_SLOW] = "slow", [INO_PID] = "pid"};

struct hello {
    unsigned slow_ms;
    char pid_text[24];
};

static size_t file_size(const struct hello *h, fuse_ino_t ino)
{
    return ino == INO_DATA ? DATA_SIZE : ino == INO_SLOW ? SLOW_SIZE : strlen(h->pid_text);
}

static void fill_attr(const struct hello *h, fuse_ino_t ino, struct stat *st)
{
    memset(st, 0, sizeof(*st));
    st->st_ino = ino;
    st->st_mode = ino == INO_ROOT ? S_IFDIR | 0555 : S_IFREG | 0444;
    st->st_nlink = ino == INO_ROOT ? 2 : 1;
    st->st_size = ino == INO_ROOT ? 0 : (off_t)file_size(h, ino);
}

static void hello_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
    struct fuse_entry_param e = {0};
    for (fuse_ino_t ino = INO_DATA; parent == INO_ROOT && ino < INO_END; ino++) {
        if (strcmp(name, names[ino]) == 0) {
            e.ino = ino;
            fill_attr(fuse_req_userdata(req), ino, &e.attr);
            return (void)fuse_reply_entry(req, &e);
        }
    }
    fuse_reply_err(req, ENOENT);
}

static void hello_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    (void)fi;
    struct stat st;
    if (ino < INO_ROOT || ino >= INO_END)
        return (void)fuse_reply_err(req, ENOENT);
    fill_attr(fuse_req_userdata(req), ino, &st);
    fuse_reply_attr(req, &st, 0);
}

static void hello_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    if (ino == INO_ROOT)
        return (void)fuse_reply_err(req, EISDIR);
    if ((fi->flags & O_ACCMODE) != O_RDONLY)
        return (void)fuse_reply_err(req, EROFS);
    fi->direct_io = 1; /* stateless handle (fh 0): any daemon can serve it */
    fuse_reply_open(req, fi);
}

static void fill_data(char *buf, size_t off, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        uint64_t pos = off + i, word = pos / 8;
        buf[i] = (char)(word >> (8 * (pos % 8)));
    }
}

static void hello_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
    (void)fi;
    struct hello *h = fuse_req_userdata(req);
    size_t fsize = file_size(h, ino);
    size_t len = (size_t)off >= fsize ? 0 : fsize - (size_t)off < size ? fsize - (size_t)off : size;
    char *buf = malloc(len ? len : 1);
    if (!buf)
        return (void)fuse_reply_err(req, ENOMEM);
    if (ino == INO_SLOW) {
        fprintf(stderr, "hellofs: slow read begins\n");
        struct timespec ts = {.tv_sec = h->slow_ms / 1000, .tv_nsec = (long)(h->slow_ms % 1000) * 1000000};
        nanosleep(&ts, NULL);
        memset(buf, 'S', len);
    } else if (ino == INO_DATA) {
        fill_data(buf, (size_t)off, len);
    } else {
        memcpy(buf, h->pid_text + off, len);
    }
    fuse_reply_buf(req, buf, len);
    free(buf);
}

static void hello_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
    (void)fi;
    if (ino != INO_ROOT)
        return (void)fuse_reply_err(req, ENOTDIR);
    char buf[1024];
    size_t used = 0;
    for (fuse_ino_t i = (fuse_ino_t)off + INO_DATA; i < INO_END; i++) {
        struct stat st = {.st_ino = i, .st_mode = S_IFREG};
        size_t n = fuse_add_direntry(req, buf + used, sizeof(buf) - used, names[i], &st, (off_t)(i - INO_DATA + 1));
        if (used + n > size || used + n > sizeof(buf))
            break;
        used += n;
    }
    fuse_reply_buf(req, buf, used);
}

static const struct fuse_lowlevel_ops hello_ops = {
    .lookup = hello_lookup,
    .getattr = hello_getattr,
    .open = hello_open,
    .read = hello_read,
    .readdir = hello_readdir,
};

struct opts {
    const char *socket;
    const char *init_json;
    int fuse_fd;
    uid_t keeper_uid;
    unsigned slow_ms;
    bool resend;
};

static int parse_args(int argc, char **argv, struct opts *o)
{
    static const struct option lo[] = {
        {"fuse-fd-socket", required_argument, NULL, 's'}, {"fuse-fd", required_argument, NULL, 'f'},
        {"init-json", required_argument, NULL, 'i'},      {"keeper-uid", required_argument, NULL, 'u'},
        {"slow-ms", required_argument, NULL, 'w'},        {"no-resend", no_argument, NULL, 'n'},
        {NULL, 0, NULL, 0},
    };
    *o = (struct opts){.fuse_fd = -1, .slow_ms = 3000, .resend = true};
    int c;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case 's': o->socket = optarg; break;
        case 'f': o->fuse_fd = atoi(optarg); break;
        case 'i': o->init_json = optarg; break;
        case 'u': o->keeper_uid = (uid_t)strtoul(optarg, NULL, 10); break;
        case 'w': o->slow_ms = (unsigned)strtoul(optarg, NULL, 10); break;
        case 'n': o->resend = false; break;
        default: return -1;
        }
    }
    if ((o->socket == NULL) == (o->fuse_fd < 0) || optind != argc) {
        fprintf(stderr, "usage: handoff_hellofs --fuse-fd-socket PATH | --fuse-fd N [options]\n");
        return -1;
    }
    return 0;
}

/* What this process may do: the unprivileged test asserts on this line. */
static void report_privileges(void)
{
    char line[256], caps[64] = "?";
    FILE *f = fopen("/proc/self/status", "re");
    while (f && fgets(line, sizeof(line), f))
        if (sscanf(line, "CapEff: %63s", caps) == 1)
            break;
    if (f)
        fclose(f);
    int fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
    fprintf(stderr, "hellofs: pid %d uid %u CapEff %s /dev/fuse %s\n", (int)getpid(), (unsigned)getuid(), caps,
            fd >= 0 ? "opened" : strerror(errno));
    if (fd >= 0)
        close(fd);
}

/* Gets the fd (and INIT state) from the keeper; *sock stays open for the report. */
static int receive(const struct opts *o, int *sock, struct handoff_msg *msg)
{
    struct handoff_err err = {""};
    int rc = handoff_connect(o->socket, o->keeper_uid, 10000, sock, &err);
    if (rc == 0)
        rc = handoff_recv(*sock, 10000, msg, &err);
    if (rc == 0 && msg->type != HANDOFF_MSG_FUSE_FD) {
        snprintf(err.text, sizeof(err.text), "keeper sent a message that is not \"fuse-fd\"");
        rc = -EBADMSG;
    }
    if (rc != 0)
        fprintf(stderr, "hellofs: hand-off failed: %s\n", err.text);
    else
        fprintf(stderr, "hellofs: got fd for volume %s, generation %u, INIT state %s\n", msg->volume,
                msg->generation, msg->has_init ? "given" : "not known yet");
    return rc;
}

static int report(int sock, struct fuse_session *se, const struct handoff_msg *got, const struct handoff_init *init)
{
    struct handoff_msg rep;
    struct handoff_err err = {""};
    handoff_msg_init(&rep);
    rep.type = HANDOFF_MSG_SERVING;
    memcpy(rep.volume, got->volume, sizeof(rep.volume));
    rep.pid = getpid();
    rep.has_init = true;
    rep.init = *init;
    rep.fd = fuse_session_fd(se); /* borrowed */
    int rc = handoff_send(sock, &rep, 10000, &err);
    if (rc != 0)
        fprintf(stderr, "hellofs: report to keeper failed: %s\n", err.text);
    return rc;
}

static int load_init(const char *path, struct handoff_init *init)
{
    json_error_t jerr;
    char why[200];
    json_t *j = json_load_file(path, 0, &jerr);
    int rc = j ? handoff_init_from_json(j, init, why, sizeof(why)) : -EBADMSG;
    if (rc != 0)
        fprintf(stderr, "hellofs: --init-json %s: %s\n", path, j ? why : jerr.text);
    json_decref(j);
    return rc;
}

/* --fuse-fd mode has no keeper: the parent saves this line for --init-json. */
static void print_init(const struct handoff_init *init)
{
    json_t *j = handoff_init_to_json(init);
    char *text = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    if (text)
        printf("%s\n", text);
    fflush(stdout);
    free(text);
    json_decref(j);
}

static int serve(struct fuse_session *se)
{
    struct fuse_loop_config *cfg = fuse_loop_cfg_create();
    if (!cfg)
        return -ENOMEM;
    fuse_loop_cfg_set_clone_fd(cfg, 0);
    fuse_loop_cfg_set_max_threads(cfg, 8);
    int rc = fuse_session_loop_mt(se, cfg);
    fuse_loop_cfg_destroy(cfg);
    return rc;
}

static int start(const struct opts *o, struct fuse_session *se, int *sock)
{
    struct handoff_msg msg;
    struct handoff_init init, negotiated;
    struct handoff_err err = {""};
    handoff_msg_init(&msg);
    int rc = 0, fd = o->fuse_fd;
    bool have_init = false;
    if (o->socket) {
        rc = receive(o, sock, &msg);
        fd = msg.fd;
        msg.fd = -1; /* handoff_session_start takes it */
        have_init = msg.has_init;
        init = msg.init;
    } else if (o->init_json) {
        rc = load_init(o->init_json, &init);
        have_init = rc == 0;
    }
    if (rc == 0) {
        rc = handoff_session_start(se, fd, have_init ? &init : NULL, o->resend ? HANDOFF_START_RESEND : 0,
                                   &negotiated, &err);
        fprintf(stderr, "hellofs: %s%s\n", rc ? "cannot serve: " : have_init ? "resumed, serving" : "INIT answered, serving",
                rc ? err.text : "");
    }
    if (rc == 0 && o->socket)
        rc = report(*sock, se, &msg, &negotiated);
    else if (rc == 0)
        print_init(&negotiated);
    handoff_msg_clear(&msg);
    return rc;
}

int main(int argc, char **argv)
{
    struct opts o;
    if (parse_args(argc, argv, &o) != 0)
        return 2;
    report_privileges();
    struct hello h = {.slow_ms = o.slow_ms};
    snprintf(h.pid_text, sizeof(h.pid_text), "%d\n", (int)getpid());
    char *fargv[] = {argv[0], NULL};
    struct fuse_args args = FUSE_ARGS_INIT(1, fargv);
    struct fuse_session *se = fuse_session_new(&args, &hello_ops, sizeof(hello_ops), &h);
    fuse_opt_free_args(&args);
    if (!se)
        return 1;
    int sock = -1;
    int rc = start(&o, se, &sock);
    if (sock >= 0)
        close(sock);
    if (rc == 0 && fuse_set_signal_handlers(se) == 0) {
        rc = serve(se);
        fuse_remove_signal_handlers(se);
    }
    fuse_session_destroy(se);
    return rc ? 1 : 0;
}
