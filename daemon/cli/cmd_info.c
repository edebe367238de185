/* SPDX-License-Identifier: Apache-2.0
 *
 * tidefs info: what a path of a mounted volume is inside the volume: for
 * a file its inode, length, chunks, slices and the object key of every
 * block; for a directory the totals of its subtree (and its quota). Read
 * straight from the metadata engine behind the mount.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "chunk/chunk.h"
#include "cli/cli_ops.h"

#define INFO_MAX_DEPTH 4096

static const char info_help[] =
    "Usage: tidefs info PATH...\n\n"
    "Show where PATH lives in its volume: inode, length, chunks, slices and object keys\n"
    "of a file; files, directories and bytes under a directory (and its quota).\n\n"
    "Example:\n"
    "  tidefs info /mnt/tidefs/data/big.iso\n";

static int file_info(const struct meta_ops *ops, struct meta *m, const struct format *fmt,
                     const struct meta_attr *a)
{
    uint64_t chunks = (a->size + META_CHUNK_SIZE - 1) >> META_CHUNK_BITS;
    int rc = 0;
    printf("  chunks: %llu\n", (unsigned long long)chunks);
    for (uint64_t i = 0; i < chunks && rc == 0; i++) {
        struct meta_slice *s = NULL;
        size_t n = 0;
        rc = ops->read_chunk(m, a->ino, (uint32_t)i, &s, &n);
        for (size_t j = 0; rc == 0 && j < n; j++) {
            printf("  chunk %llu: slice %llu pos %u len %u (slice size %u, offset %u)%s\n", (unsigned long long)i,
                   (unsigned long long)s[j].id, s[j].pos, s[j].len, s[j].size, s[j].off,
                   s[j].id ? "" : " hole");
            for (uint32_t b = 0; s[j].id && (uint64_t)b * fmt->block_size < s[j].size; b++) {
                char key[512];
                uint32_t left = s[j].size - b * fmt->block_size;
                chunk_block_key(key, sizeof(key), fmt->name, s[j].id, b,
                                left < fmt->block_size ? left : fmt->block_size);
                printf("    object: %s\n", key);
            }
        }
        free(s);
    }
    return rc;
}

struct totals {
    uint64_t files, dirs, others, bytes;
    int err;
};

static int count_tree(const struct meta_ops *ops, struct meta *m, uint64_t dir, struct totals *t, int depth);

struct counter {
    const struct meta_ops *ops;
    struct meta *m;
    struct totals *t;
    int depth;
    uint64_t *subdirs;
    size_t n, cap;
};

static int count_entry(void *arg, const char *name, const struct meta_attr *a, uint64_t next)
{
    (void)name;
    (void)next;
    struct counter *c = arg;
    if (S_ISREG(a->mode)) {
        c->t->files++;
        c->t->bytes += a->size;
    } else if (S_ISDIR(a->mode)) {
        c->t->dirs++;
        if (c->n == c->cap) {
            size_t cap = c->cap ? c->cap * 2 : 16;
            uint64_t *v = realloc(c->subdirs, cap * sizeof(*v));
            if (!v)
                return (c->t->err = -ENOMEM), 1;
            c->subdirs = v;
            c->cap = cap;
        }
        c->subdirs[c->n++] = a->ino;
    } else {
        c->t->others++;
    }
    return 0;
}

static int count_tree(const struct meta_ops *ops, struct meta *m, uint64_t dir, struct totals *t, int depth)
{
    struct counter c = {ops, m, t, depth, NULL, 0, 0};
    if (depth > INFO_MAX_DEPTH)
        return -ELOOP;
    int rc = ops->readdir(m, dir, 0, true, count_entry, &c);
    rc = rc ? rc : t->err;
    for (size_t i = 0; rc == 0 && i < c.n && !ops_interrupted(); i++)
        rc = count_tree(ops, m, c.subdirs[i], t, depth + 1);
    free(c.subdirs);
    return rc;
}

static int dir_info(const struct meta_ops *ops, struct meta *m, const struct meta_attr *a)
{
    struct totals t = {0};
    char sz[32];
    int rc = count_tree(ops, m, a->ino, &t, 0);
    if (rc == 0)
        printf("  files: %llu\n  directories: %llu\n  other entries: %llu\n  bytes: %llu (%s)\n",
               (unsigned long long)t.files, (unsigned long long)t.dirs, (unsigned long long)t.others,
               (unsigned long long)t.bytes, ops_size(t.bytes, sz));
    struct meta_quota q;
    if (rc == 0 && ops->quota_get && ops->quota_get(m, a->ino, &q) == 0)
        printf("  quota: capacity %llu, inodes %llu, used %llu bytes and %llu inodes\n",
               (unsigned long long)q.max_space, (unsigned long long)q.max_inodes,
               (unsigned long long)q.used_space, (unsigned long long)q.used_inodes);
    return rc;
}

static const char *type_name(uint32_t mode)
{
    switch (mode & S_IFMT) {
    case S_IFREG:
        return "file";
    case S_IFDIR:
        return "directory";
    case S_IFLNK:
        return "symlink";
    default:
        return "special file";
    }
}

static int info_one(const char *path)
{
    const struct meta_ops *ops;
    struct meta *m;
    struct format fmt;
    uint64_t ino;
    int rc = ops_open_path("info", path, &ops, &m, &fmt, &ino);
    if (rc)
        return rc;
    struct meta_attr a;
    rc = ops->getattr(m, ino, &a);
    if (rc == 0) {
        char sz[32];
        printf("%s:\n  volume: %s\n  inode: %llu\n  type: %s\n  length: %llu (%s)\n  links: %u\n", path, fmt.name,
               (unsigned long long)a.ino, type_name(a.mode), (unsigned long long)a.size, ops_size(a.size, sz),
               a.nlink);
        rc = S_ISREG(a.mode) ? file_info(ops, m, &fmt, &a) : S_ISDIR(a.mode) ? dir_info(ops, m, &a) : 0;
    }
    if (rc)
        cli_error("info", "%s: %s", path, strerror(-rc));
    cli_close_volume(ops, m, &fmt);
    return rc;
}

int cmd_info(int argc, char **argv)
{
    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        fputs(info_help, stdout);
        return CLI_EXIT_OK;
    }
    if (argc < 2) {
        cli_error("info", "expected PATH (see tidefs info --help)");
        return CLI_EXIT_USAGE;
    }
    ops_catch_interrupts();
    int rc = 0;
    for (int i = 1; i < argc; i++) {
        int one = argv[i][0] == '-' ? (cli_error("info", "unknown option '%s'", argv[i]), -EINVAL)
                                    : info_one(argv[i]);
        rc = rc ? rc : one;
    }
    return rc ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}
