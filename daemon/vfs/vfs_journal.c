/* SPDX-License-Identifier: Apache-2.0
 *
 * The write journal of a supervised mount (see vfs_journal.h).
 * Invariants:
 * (1) an entry's file holds every write of the inode acknowledged since
 *     the inode was last seen clean, in the order chunk_write applied them
 *     (both happen under entry->lock);
 * (2) an entry is removed (file unlinked) only under entry->lock after
 *     chunk_dirty() said the inode has nothing buffered or in flight.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "vfs/vfs_journal.h"

#define JOURNAL_BUCKETS 256
#define REPLAY_BUF (16u << 20)
/* A journal past this size is cut by committing what it covers: it bounds
 * the local space a long writer uses at the price of one flush per 64 MiB
 * (where a sequential writer's slice ends anyway, at the chunk edge). */
#define JOURNAL_ROTATE (64ULL << 20)

struct journal_entry {
    uint64_t ino;
    int fd;                 /* protected by lock */
    uint64_t size;          /* bytes in the file; protected by lock */
    pthread_mutex_t lock;
    unsigned refs;          /* protected by journal->lock */
    struct journal_entry *next;
};

struct vfs_journal {
    char dir[512];
    struct chunk_store *cs; /* borrowed */
    pthread_mutex_t lock;   /* protects the table and refs */
    struct journal_entry *table[JOURNAL_BUCKETS];
};

struct record_head {
    uint64_t off;
    uint32_t len;
} __attribute__((packed));

int vfs_journal_new(const char *dir, struct chunk_store *cs, struct vfs_journal **out)
{
    struct vfs_journal *j = calloc(1, sizeof(*j));
    if (!j)
        return -ENOMEM;
    snprintf(j->dir, sizeof(j->dir), "%s/%d", dir, (int)getpid());
    if ((mkdir(dir, 0700) != 0 && errno != EEXIST) || (mkdir(j->dir, 0700) != 0 && errno != EEXIST)) {
        int rc = -errno;
        free(j);
        return rc;
    }
    j->cs = cs;
    pthread_mutex_init(&j->lock, NULL);
    *out = j;
    return 0;
}

static struct journal_entry *entry_get(struct vfs_journal *j, uint64_t ino)
{
    struct journal_entry **b = &j->table[ino % JOURNAL_BUCKETS], *e;
    pthread_mutex_lock(&j->lock);
    for (e = *b; e && e->ino != ino; e = e->next)
        ;
    if (!e && (e = calloc(1, sizeof(*e))) != NULL) {
        e->ino = ino;
        e->fd = -1;
        pthread_mutex_init(&e->lock, NULL);
        e->next = *b;
        *b = e;
    }
    if (e)
        e->refs++;
    pthread_mutex_unlock(&j->lock);
    return e;
}

static void entry_put(struct vfs_journal *j, struct journal_entry *e)
{
    pthread_mutex_lock(&j->lock);
    e->refs--;
    pthread_mutex_unlock(&j->lock);
}

static int append(int fd, uint64_t off, const char *buf, size_t len)
{
    struct record_head h = {off, (uint32_t)len};
    struct iovec iov[2] = {{&h, sizeof(h)}, {(void *)buf, len}};
    size_t want = sizeof(h) + len;
    ssize_t n = writev(fd, iov, 2);
    if (n == (ssize_t)want)
        return 0;
    return n < 0 ? -errno : -EIO;
}

int vfs_journal_write(struct vfs_journal *j, uint64_t ino, uint64_t off, const char *buf, size_t len)
{
    if (len > UINT32_MAX)
        return -EINVAL;
    struct journal_entry *e = entry_get(j, ino);
    if (!e)
        return -ENOMEM;
    pthread_mutex_lock(&e->lock);
    int rc = 0;
    if (e->fd < 0) {
        char path[600];
        snprintf(path, sizeof(path), "%s/%llu", j->dir, (unsigned long long)ino);
        e->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        rc = e->fd < 0 ? -errno : 0;
    }
    if (rc == 0)
        rc = chunk_write(j->cs, ino, off, buf, len);
    if (rc == 0)
        rc = append(e->fd, off, buf, len);
    if (rc == 0 && (e->size += sizeof(struct record_head) + len) >= JOURNAL_ROTATE) {
        rc = chunk_flush(j->cs, ino);
        if (rc == 0 && ftruncate(e->fd, 0) == 0)
            e->size = 0;
    }
    pthread_mutex_unlock(&e->lock);
    entry_put(j, e);
    return rc;
}

/* Removes the entry's file when the inode is clean; true when removed. */
static bool trim_entry(struct vfs_journal *j, struct journal_entry *e)
{
    bool clean;
    pthread_mutex_lock(&e->lock);
    clean = !chunk_dirty(j->cs, e->ino, NULL);
    if (clean && e->fd >= 0) {
        char path[600];
        snprintf(path, sizeof(path), "%s/%llu", j->dir, (unsigned long long)e->ino);
        unlink(path);
        close(e->fd);
        e->fd = -1;
        e->size = 0;
    }
    pthread_mutex_unlock(&e->lock);
    return clean;
}

void vfs_journal_trim(struct vfs_journal *j)
{
    for (size_t b = 0; b < JOURNAL_BUCKETS; b++) {
        pthread_mutex_lock(&j->lock);
        struct journal_entry **p = &j->table[b];
        while (*p) {
            struct journal_entry *e = *p;
            e->refs++;
            pthread_mutex_unlock(&j->lock);
            bool clean = trim_entry(j, e);
            pthread_mutex_lock(&j->lock);
            e->refs--;
            /* a clean entry nobody is using leaves the table */
            if (clean && e->refs == 0 && e->fd < 0) {
                *p = e->next;
                pthread_mutex_destroy(&e->lock);
                free(e);
            } else {
                p = &e->next;
            }
        }
        pthread_mutex_unlock(&j->lock);
    }
}

void vfs_journal_free(struct vfs_journal *j, int flushed_rc)
{
    if (!j)
        return;
    vfs_journal_trim(j);
    for (size_t b = 0; b < JOURNAL_BUCKETS; b++) {
        while (j->table[b]) {
            struct journal_entry *e = j->table[b];
            j->table[b] = e->next;
            if (e->fd >= 0)
                close(e->fd); /* still dirty: the file stays for the next daemon */
            pthread_mutex_destroy(&e->lock);
            free(e);
        }
    }
    if (flushed_rc == 0)
        rmdir(j->dir);
    pthread_mutex_destroy(&j->lock);
    free(j);
}

/* Replays one journal file; returns writes replayed or -errno. */
static int replay_file(int dirfd, const char *name, struct chunk_store *cs, char *buf)
{
    char *end;
    unsigned long long ino = strtoull(name, &end, 10);
    if (*end || ino == 0)
        return 0;
    int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int count = 0, rc = 0;
    struct record_head h;
    while (rc == 0 && read(fd, &h, sizeof(h)) == (ssize_t)sizeof(h)) {
        if (h.len > REPLAY_BUF || read(fd, buf, h.len) != (ssize_t)h.len)
            break; /* torn tail: never acknowledged */
        rc = chunk_write(cs, ino, h.off, buf, h.len);
        count++;
    }
    close(fd);
    if (rc == 0)
        rc = chunk_flush(cs, ino);
    if (rc == 0)
        unlinkat(dirfd, name, 0);
    return rc ? rc : count;
}

static int replay_dir(const char *path, struct chunk_store *cs, char *buf)
{
    DIR *d = opendir(path);
    if (!d)
        return -errno;
    int total = 0, rc = 0;
    struct dirent *de;
    while (rc >= 0 && (de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        rc = replay_file(dirfd(d), de->d_name, cs, buf);
        if (rc > 0)
            total += rc;
    }
    closedir(d);
    if (rc >= 0)
        rmdir(path);
    return rc < 0 ? rc : total;
}

int vfs_journal_replay(const char *dir, struct chunk_store *cs)
{
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? 0 : -errno;
    char *buf = malloc(REPLAY_BUF);
    int total = 0, rc = buf ? 0 : -ENOMEM;
    struct dirent *de;
    while (rc >= 0 && (de = readdir(d)) != NULL) {
        char *end;
        long pid = strtol(de->d_name, &end, 10);
        /* a live daemon (an upgrade in progress) still owns its journal */
        if (*end || pid <= 0 || pid == getpid() || kill((pid_t)pid, 0) == 0)
            continue;
        char path[600];
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        rc = replay_dir(path, cs, buf);
        if (rc > 0)
            total += rc;
    }
    closedir(d);
    free(buf);
    return rc < 0 ? rc : total;
}
