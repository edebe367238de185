/* SPDX-License-Identifier: Apache-2.0
 *
 * Tests of the reference store: round trips, targets, damaged records,
 * leftovers of a crash, and real crashes (SIGKILL at random moments of a
 * stream of saves): a record is always the last or the one before.
 */
#include "refs/refs.h"
#include "unit.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char dir[64];

static int fresh_dir(void)
{
    char cmd[128];

    if (dir[0]) {
        snprintf(cmd, sizeof(cmd), "rm -rf %.*s", (int)(strlen(dir) - 2), dir); /* the mkdtemp parent */
        if (system(cmd) != 0)
            return -1;
    }
    snprintf(dir, sizeof(dir), "/tmp/test_refs.XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    strcat(dir, "/r");
    return refs_open(dir);
}

static void sample(struct refs_mount *m, uint32_t gen)
{
    refs_mount_init(m);
    snprintf(m->key, sizeof(m->key), "00112233445566778899aabbccddeeff");
    m->generation = gen;
    snprintf(m->pod, sizeof(m->pod), "tidefs-0011223344556677-%u", gen);
    snprintf(m->pod_uid, sizeof(m->pod_uid), "5f0c7c1e-0000-4000-8000-%012u", gen);
    snprintf(m->ns, sizeof(m->ns), "tidefs");
    snprintf(m->source, sizeof(m->source), "/var/lib/kubelet/plugins/csi.tidefs.io/mp/0011/mnt");
    m->settings = json_pack("{s:s}", "cpu_request", "100m");
    m->has_init = true;
    m->init.in.major = 7;
    m->init.in.minor = 45;
    m->init.out.major = 7;
    m->init.out.minor = 31;
    m->init.out.max_write = 1 << 20;
    m->daemon_pid = 4242;
    m->daemon_start = 123456789;
    refs_add_target(m, "/var/lib/kubelet/pods/a/volumes/kubernetes.io~csi/pv1/mount", "pv1", "/pv1", false);
    refs_add_target(m, "/var/lib/kubelet/pods/b/volumes/kubernetes.io~csi/pv2/mount", "pv2", "/pv2", true);
}

static int test_round_trip(void)
{
    struct refs_mount m, back;
    char why[256] = "";
    struct stat st;
    char path[200];

    TEST_ASSERT(fresh_dir() == 0);
    TEST_ASSERT(stat(dir, &st) == 0 && (st.st_mode & 0777) == 0700);
    sample(&m, 3);
    refs_mount_init(&back);
    TEST_ASSERT(refs_save(dir, &m) == 0);
    snprintf(path, sizeof(path), "%s/%s.json", dir, m.key);
    TEST_EXPECT(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
    TEST_ASSERT(refs_load(dir, m.key, &back, why, sizeof(why)) == 0);
    TEST_EXPECT(back.generation == 3 && strcmp(back.pod, m.pod) == 0 && strcmp(back.pod_uid, m.pod_uid) == 0);
    TEST_EXPECT(strcmp(back.ns, "tidefs") == 0 && strcmp(back.source, m.source) == 0);
    TEST_EXPECT(back.has_init && memcmp(&back.init, &m.init, sizeof(m.init)) == 0);
    TEST_EXPECT(back.daemon_pid == 4242 && back.daemon_start == 123456789);
    TEST_EXPECT(json_equal(back.settings, m.settings));
    TEST_ASSERT(back.n_targets == 2);
    TEST_EXPECT(strcmp(back.targets[1].volume_id, "pv2") == 0 && back.targets[1].readonly);
    TEST_EXPECT(strcmp(back.targets[0].subdir, "/pv1") == 0 && !back.targets[0].readonly);
    refs_mount_clear(&back);
    refs_mount_clear(&m);
    return 0;
}

static int test_targets(void)
{
    struct refs_mount m;

    sample(&m, 0);
    TEST_EXPECT(refs_add_target(&m, m.targets[0].target, "pv1", "/pv1", false) == -EEXIST);
    TEST_EXPECT(refs_find_target(&m, "/nope") == -1);
    TEST_EXPECT(refs_remove_target(&m, m.targets[0].target));
    TEST_EXPECT(m.n_targets == 1 && strcmp(m.targets[0].volume_id, "pv2") == 0);
    TEST_EXPECT(!refs_remove_target(&m, "/nope"));
    TEST_EXPECT(refs_remove_target(&m, m.targets[0].target) && m.n_targets == 0);
    refs_mount_clear(&m);
    return 0;
}

static int test_list_remove_and_bad_keys(void)
{
    struct refs_mount m;
    char **keys = NULL;
    size_t n = 0;
    char why[128];

    TEST_ASSERT(fresh_dir() == 0);
    sample(&m, 1);
    TEST_ASSERT(refs_save(dir, &m) == 0);
    snprintf(m.key, sizeof(m.key), "0000000000000001");
    TEST_ASSERT(refs_save(dir, &m) == 0);
    snprintf(m.key, sizeof(m.key), "../../etc/passwd");
    TEST_EXPECT(refs_save(dir, &m) == -EINVAL);
    TEST_EXPECT(refs_load(dir, "../x", &m, why, sizeof(why)) == -EINVAL);
    TEST_EXPECT(refs_remove(dir, "ABCDEF0123") == -EINVAL); /* upper case is not a key */
    TEST_ASSERT(refs_list(dir, &keys, &n) == 0);
    TEST_EXPECT(n == 2 && strcmp(keys[0], "0000000000000001") == 0);
    for (size_t i = 0; i < n; i++)
        free(keys[i]);
    free(keys);
    TEST_EXPECT(refs_remove(dir, "0000000000000001") == 0);
    TEST_EXPECT(refs_remove(dir, "0000000000000001") == 0); /* already gone */
    TEST_EXPECT(refs_load(dir, "0000000000000001", &m, why, sizeof(why)) == -ENOENT);
    TEST_ASSERT(refs_list(dir, &keys, &n) == 0);
    TEST_EXPECT(n == 1);
    for (size_t i = 0; i < n; i++)
        free(keys[i]);
    free(keys);
    refs_mount_clear(&m);
    return 0;
}

static int write_text(const char *name, const char *text)
{
    char path[200];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "w");
    if (!f)
        return -1;
    fputs(text, f);
    return fclose(f);
}

static int test_damaged_records_are_reported(void)
{
    struct refs_mount m;
    char why[256] = "";

    TEST_ASSERT(fresh_dir() == 0);
    refs_mount_init(&m);
    TEST_ASSERT(write_text("0123456789abcdef.json", "{\"v\": 1, \"key\": \"0123") == 0);
    TEST_EXPECT(refs_load(dir, "0123456789abcdef", &m, why, sizeof(why)) == -EBADMSG && strstr(why, "line"));
    /* a record whose key is not its file name (copied by hand?) */
    sample(&m, 1);
    TEST_ASSERT(refs_save(dir, &m) == 0);
    char src[200], dst[200];

    snprintf(src, sizeof(src), "%s/%s.json", dir, m.key);
    snprintf(dst, sizeof(dst), "%s/0123456789abcdef.json", dir);
    TEST_ASSERT(rename(src, dst) == 0);
    TEST_EXPECT(refs_load(dir, "0123456789abcdef", &m, why, sizeof(why)) == -EBADMSG);
    TEST_ASSERT(write_text("0123456789abcdef.json", "{\"v\": 2}") == 0);
    TEST_EXPECT(refs_load(dir, "0123456789abcdef", &m, why, sizeof(why)) == -EBADMSG);
    refs_mount_clear(&m);
    return 0;
}

static int test_leftover_temporary_is_ignored_and_removed(void)
{
    struct refs_mount m, back;
    char why[128], **keys;
    size_t n;
    struct stat st;
    char tmp[200];

    TEST_ASSERT(fresh_dir() == 0);
    sample(&m, 5);
    refs_mount_init(&back);
    TEST_ASSERT(refs_save(dir, &m) == 0);
    /* a save of generation 6 that died before its rename */
    TEST_ASSERT(write_text(".00112233445566778899aabbccddeeff.json.999.tmp", "{\"v\": 1, \"generation\": 6") == 0);
    TEST_ASSERT(refs_list(dir, &keys, &n) == 0);
    TEST_EXPECT(n == 1);
    for (size_t i = 0; i < n; i++)
        free(keys[i]);
    free(keys);
    TEST_ASSERT(refs_load(dir, m.key, &back, why, sizeof(why)) == 0);
    TEST_EXPECT(back.generation == 5);
    TEST_ASSERT(refs_open(dir) == 0); /* what a restarted plugin does first */
    snprintf(tmp, sizeof(tmp), "%s/.00112233445566778899aabbccddeeff.json.999.tmp", dir);
    TEST_EXPECT(stat(tmp, &st) != 0 && errno == ENOENT);
    refs_mount_clear(&back);
    refs_mount_clear(&m);
    return 0;
}

/* A child saves generations 1, 2, 3, ... as fast as it can and is killed
 * at a random moment; the record must then be whole, and its generation
 * must be the last one the child announced or the one after it. */
static int crash_once(unsigned seed)
{
    struct refs_mount m;
    char why[128] = "";
    int pipefd[2];
    uint32_t last = 0, got;
    pid_t pid;

    TEST_ASSERT(refs_remove(dir, "00112233445566778899aabbccddeeff") == 0); /* the last round's */
    TEST_ASSERT(pipe(pipefd) == 0);
    pid = fork();
    TEST_ASSERT(pid >= 0);
    if (pid == 0) {
        close(pipefd[0]);
        for (uint32_t g = 1;; g++) {
            sample(&m, g);
            if (refs_save(dir, &m) != 0)
                _exit(3);
            refs_mount_clear(&m);
            if (write(pipefd[1], &g, sizeof(g)) != sizeof(g))
                _exit(4);
        }
    }
    close(pipefd[1]);
    usleep(2000 + rand_r(&seed) % 30000);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    while (read(pipefd[0], &got, sizeof(got)) == sizeof(got))
        last = got;
    close(pipefd[0]);
    refs_mount_init(&m);
    TEST_ASSERT(refs_open(dir) == 0);
    int rc = refs_load(dir, "00112233445566778899aabbccddeeff", &m, why, sizeof(why));

    if (rc == -ENOENT && last == 0)
        return 0; /* killed before the first save finished */
    if (rc != 0) {
        fprintf(stderr, "load after crash: %d %s\n", rc, why);
        return -1;
    }
    TEST_EXPECT(m.generation == last || m.generation == last + 1);
    TEST_EXPECT(m.n_targets == 2);
    refs_mount_clear(&m);
    return 0;
}

static int test_crash_at_random_moments(void)
{
    TEST_ASSERT(fresh_dir() == 0);
    for (unsigned i = 0; i < 20; i++)
        TEST_ASSERT(crash_once(i * 7919 + (unsigned)time(NULL)) == 0);
    return 0;
}

static int test_salt(void)
{
    uint8_t a[REFS_SALT_SIZE], b[REFS_SALT_SIZE], zero[REFS_SALT_SIZE] = {0};
    char path[200];
    struct stat st;

    TEST_ASSERT(fresh_dir() == 0);
    TEST_ASSERT(refs_salt(dir, a) == 0);
    TEST_ASSERT(refs_salt(dir, b) == 0);
    TEST_EXPECT(memcmp(a, b, sizeof(a)) == 0 && memcmp(a, zero, sizeof(a)) != 0);
    snprintf(path, sizeof(path), "%s/salt", dir);
    TEST_EXPECT(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600 && st.st_size == REFS_SALT_SIZE);
    TEST_ASSERT(truncate(path, 5) == 0);
    TEST_EXPECT(refs_salt(dir, b) == -EBADMSG);
    char cmd[128];

    snprintf(cmd, sizeof(cmd), "rm -rf %.*s", (int)(strlen(dir) - 2), dir);
    TEST_EXPECT(system(cmd) == 0);
    return 0;
}

UNIT_MAIN(UNIT_TEST(test_round_trip), UNIT_TEST(test_targets), UNIT_TEST(test_list_remove_and_bad_keys),
          UNIT_TEST(test_damaged_records_are_reported), UNIT_TEST(test_leftover_temporary_is_ignored_and_removed),
          UNIT_TEST(test_crash_at_random_moments), UNIT_TEST(test_salt))
