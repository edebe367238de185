/* SPDX-License-Identifier: Apache-2.0
 *
 * The write journal of a supervised mount. A daemon acknowledges a write
 * once the data is in its memory buffers; if it is then killed, a new
 * daemon takes the same FUSE connection over and the application's next
 * fsync reaches it — which must not succeed while the acknowledged data is
 * lost. So every acknowledged but uncommitted write is also appended to a
 * local file per inode (<dir>/<worker pid>/<ino>: page cache survives the
 * death of a process), dropped once the inode is clean, and replayed by the
 * next daemon before it serves the connection.
 *
 * Records: u64 offset, u32 length, data (native endianness: the file never
 * leaves the host). A torn last record was never acknowledged and is
 * ignored on replay. Replaying a write that was committed meanwhile is
 * harmless: the same bytes land at the same place.
 */
#ifndef TIDEFS_VFS_JOURNAL_H
#define TIDEFS_VFS_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#include "chunk/chunk.h"

struct vfs_journal;

/* Journals under <dir>/<getpid()>/. Caller frees with vfs_journal_free,
 * which removes this process's files (call after everything is flushed). */
int vfs_journal_new(const char *dir, struct chunk_store *cs, struct vfs_journal **out);
void vfs_journal_free(struct vfs_journal *j, int flushed_rc);

/* Buffers the write in the chunk store and journals it, in one order per
 * inode. 0 or -errno (nothing is acknowledged on failure). */
int vfs_journal_write(struct vfs_journal *j, uint64_t ino, uint64_t off, const char *buf, size_t len);

/* Drops the journals of inodes that have nothing buffered any more. */
void vfs_journal_trim(struct vfs_journal *j);

/* Replays the journals left under `dir` by dead daemons through the chunk
 * store, flushes them and removes them. Returns the number of writes
 * replayed, or -errno. */
int vfs_journal_replay(const char *dir, struct chunk_store *cs);

#endif
