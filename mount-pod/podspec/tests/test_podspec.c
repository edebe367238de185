/* SPDX-License-Identifier: Apache-2.0
 *
 * Tests of the mount pod spec builder: quantities, settings from
 * StorageClass parameters, and the pod itself checked against every rule
 * of Pod Security "restricted" (and "baseline", which restricted includes),
 * written out here from the Kubernetes Pod Security Standards page.
 */
#include "podspec/podspec.h"
#include "unit.h"

/* obj.a.b as a string, or "" */
static const char *kube_str_or(const json_t *o, const char *a, const char *b)
{
    const char *s = json_string_value(json_object_get(json_object_get(o, a), b));

    return s ? s : "";
}

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static int test_quantities(void)
{
    uint64_t v = 0;

    TEST_EXPECT(podspec_quantity_milli("100m", &v) == 0 && v == 100);
    TEST_EXPECT(podspec_quantity_milli("1", &v) == 0 && v == 1000);
    TEST_EXPECT(podspec_quantity_milli("0.5", &v) == 0 && v == 500);
    TEST_EXPECT(podspec_quantity_milli("2.25", &v) == 0 && v == 2250);
    TEST_EXPECT(podspec_quantity_bytes("1Gi", &v) == 0 && v == 1ull << 30);
    TEST_EXPECT(podspec_quantity_bytes("1.5Gi", &v) == 0 && v == 3ull << 29);
    TEST_EXPECT(podspec_quantity_bytes("512M", &v) == 0 && v == 512000000ull);
    TEST_EXPECT(podspec_quantity_bytes("4096", &v) == 0 && v == 4096);
    TEST_EXPECT(podspec_quantity_bytes("1k", &v) == 0 && v == 1000);
    TEST_EXPECT(podspec_quantity_bytes("1m", &v) == -EINVAL); /* milli-bytes are nonsense */
    TEST_EXPECT(podspec_quantity_bytes("", &v) == -EINVAL);
    TEST_EXPECT(podspec_quantity_bytes("abc", &v) == -EINVAL);
    TEST_EXPECT(podspec_quantity_bytes("-1", &v) == -EINVAL);
    TEST_EXPECT(podspec_quantity_bytes("1Xi", &v) == -EINVAL);
    TEST_EXPECT(podspec_quantity_bytes("1.", &v) == -EINVAL);
    TEST_EXPECT(podspec_quantity_bytes("1 Gi", &v) == -EINVAL);
    TEST_EXPECT(podspec_quantity_bytes("99999999999999999999", &v) == -ERANGE);
    TEST_EXPECT(podspec_quantity_bytes("100Ei", &v) == -ERANGE);
    return 0;
}

static int test_settings_defaults_and_overrides(void)
{
    const char *k[] = {"subPath", "tidefs.io/mount-cpu-request", "tidefs.io/mount-memory-limit",
                       "tidefs.io/mount-buffer-size", "tidefs.io/mount-cache-size", "csi.storage.k8s.io/pod.name"};
    const char *v[] = {"/pv", "250m", "2Gi", "512Mi", "10Gi", "app"};
    struct podspec_settings s;
    char err[256] = "";

    TEST_ASSERT(podspec_settings_parse(NULL, NULL, 0, &s, err, sizeof(err)) == 0);
    TEST_EXPECT(strcmp(s.cpu_request, "100m") == 0 && s.cpu_limit[0] == '\0');
    TEST_EXPECT(strcmp(s.memory_request, "256Mi") == 0 && strcmp(s.memory_limit, "1Gi") == 0);
    TEST_EXPECT(s.buffer_bytes == 0 && s.cache_bytes == 0);
    TEST_ASSERT(podspec_settings_parse(k, v, 6, &s, err, sizeof(err)) == 0);
    TEST_EXPECT(strcmp(s.cpu_request, "250m") == 0);
    TEST_EXPECT(strcmp(s.memory_limit, "2Gi") == 0);
    TEST_EXPECT(s.buffer_bytes == 512ull << 20 && s.cache_bytes == 10ull << 30);

    json_t *j = podspec_settings_to_json(&s);
    struct podspec_settings back;

    TEST_ASSERT(j && podspec_settings_from_json(j, &back, err, sizeof(err)) == 0);
    TEST_EXPECT(memcmp(&s, &back, sizeof(s)) == 0);
    json_object_set_new(j, "extra", json_true());
    TEST_EXPECT(podspec_settings_from_json(j, &back, err, sizeof(err)) == -EINVAL);
    json_decref(j);
    return 0;
}

static int expect_bad(const char *key, const char *val, const char *needle)
{
    const char *k[] = {key}, *v[] = {val};
    struct podspec_settings s;
    char err[256] = "";

    TEST_EXPECT(podspec_settings_parse(k, v, 1, &s, err, sizeof(err)) == -EINVAL);
    if (!strstr(err, needle)) {
        fprintf(stderr, "error \"%s\" does not name \"%s\"\n", err, needle);
        return -1;
    }
    return 0;
}

static int test_settings_errors_name_the_key(void)
{
    TEST_EXPECT(expect_bad("tidefs.io/mount-cpu-request", "lots", "tidefs.io/mount-cpu-request") == 0);
    TEST_EXPECT(expect_bad("tidefs.io/mount-memory-limit", "1m", "tidefs.io/mount-memory-limit") == 0);
    TEST_EXPECT(expect_bad("tidefs.io/mount-memory-limit", "0", "tidefs.io/mount-memory-limit") == 0);
    TEST_EXPECT(expect_bad("tidefs.io/mount-cpus", "1", "unknown StorageClass parameter tidefs.io/mount-cpus") == 0);
    TEST_EXPECT(expect_bad("tidefs.io/mount-memory-limit", "300Mi", "too small for a buffer-size of 300 MiB") == 0);
    TEST_EXPECT(expect_bad("tidefs.io/mount-memory-request", "4Gi", "exceeds memory-limit") == 0);

    const char *k[] = {"tidefs.io/mount-cpu-request", "tidefs.io/mount-cpu-limit"}, *v[] = {"2", "500m"};
    struct podspec_settings s;
    char err[256] = "";

    TEST_EXPECT(podspec_settings_parse(k, v, 2, &s, err, sizeof(err)) == -EINVAL && strstr(err, "exceeds cpu-limit"));
    return 0;
}

/* ---- Pod Security Standards, restricted (includes baseline) ---- */

static bool json_has_key(const json_t *j, const char *key)
{
    const char *k;
    json_t *v;
    size_t i;

    if (json_is_object(j)) {
        json_object_foreach((json_t *)j, k, v) {
            if (strcmp(k, key) == 0 || json_has_key(v, key))
                return true;
        }
    } else if (json_is_array(j)) {
        json_array_foreach(j, i, v) {
            if (json_has_key(v, key))
                return true;
        }
    }
    return false;
}

static bool json_has_string(const json_t *j, const char *needle)
{
    const char *k;
    json_t *v;
    size_t i;

    if (json_is_string(j))
        return strstr(json_string_value(j), needle) != NULL;
    if (json_is_object(j)) {
        json_object_foreach((json_t *)j, k, v) {
            if (strstr(k, needle) || json_has_string(v, needle))
                return true;
        }
    } else if (json_is_array(j)) {
        json_array_foreach(j, i, v) {
            if (json_has_string(v, needle))
                return true;
        }
    }
    return false;
}

static const char *seccomp_type(const json_t *sc)
{
    return json_string_value(json_object_get(json_object_get(sc, "seccompProfile"), "type"));
}

static int check_container_restricted(const json_t *c, const json_t *pod_sc)
{
    const json_t *sc = json_object_get(c, "securityContext");
    const json_t *caps = json_object_get(sc, "capabilities"), *drop = json_object_get(caps, "drop"), *d;
    bool drops_all = false;
    size_t i;

    TEST_EXPECT(!json_is_true(json_object_get(sc, "privileged")));
    TEST_EXPECT(json_is_false(json_object_get(sc, "allowPrivilegeEscalation")));
    TEST_EXPECT(json_is_true(json_object_get(sc, "runAsNonRoot")) || json_is_true(json_object_get(pod_sc, "runAsNonRoot")));
    TEST_EXPECT(json_integer_value(json_object_get(sc, "runAsUser")) != 0);
    json_array_foreach(drop, i, d) drops_all |= strcmp(json_string_value(d), "ALL") == 0;
    TEST_EXPECT(drops_all);
    TEST_EXPECT(json_object_get(caps, "add") == NULL);
    const char *st = seccomp_type(sc) ? seccomp_type(sc) : seccomp_type(pod_sc);

    TEST_EXPECT(st && (strcmp(st, "RuntimeDefault") == 0 || strcmp(st, "Localhost") == 0));
    TEST_EXPECT(json_object_get(sc, "procMount") == NULL);
    TEST_EXPECT(json_object_get(json_object_get(sc, "seLinuxOptions"), "type") == NULL);
    TEST_EXPECT(!json_has_key(json_object_get(c, "ports"), "hostPort"));
    return 0;
}

static int check_pod_restricted(const json_t *pod)
{
    static const char *const allowed[] = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral",
                                          "persistentVolumeClaim", "projected", "secret"};
    const json_t *spec = json_object_get(pod, "spec"), *sc = json_object_get(spec, "securityContext"), *v, *c;
    size_t i;

    TEST_ASSERT(spec && sc);
    TEST_EXPECT(!json_is_true(json_object_get(spec, "hostNetwork")));
    TEST_EXPECT(!json_is_true(json_object_get(spec, "hostPID")));
    TEST_EXPECT(!json_is_true(json_object_get(spec, "hostIPC")));
    TEST_EXPECT(json_object_get(sc, "sysctls") == NULL);
    TEST_EXPECT(json_integer_value(json_object_get(sc, "runAsUser")) != 0);
    TEST_EXPECT(!json_has_key(pod, "hostPath"));
    TEST_EXPECT(!json_has_string(pod, "/dev/fuse"));
    TEST_EXPECT(json_object_get(spec, "initContainers") == NULL);
    json_array_foreach(json_object_get(spec, "volumes"), i, v) {
        const char *k;
        json_t *val;
        bool ok = true;

        json_object_foreach((json_t *)v, k, val) {
            bool known = strcmp(k, "name") == 0;

            for (size_t a = 0; a < sizeof(allowed) / sizeof(allowed[0]); a++)
                known |= strcmp(k, allowed[a]) == 0;
            ok &= known;
        }
        TEST_EXPECT(ok);
    }
    json_array_foreach(json_object_get(spec, "containers"), i, c) {
        TEST_EXPECT(check_container_restricted(c, sc) == 0);
    }
    return 0;
}

static struct podspec_pod sample_pod(void)
{
    struct podspec_pod p = {
        .name = "tidefs-0123456789abcdef-0", .ns = "tidefs-mount", .node = "kind-worker",
        .image = "tidefs/tidefs:0.1.0", .priority_class = "tidefs-mount-critical",
        .mount_key = "0123456789abcdef", .volume_label = "vol1", .node_label = "kind-worker",
        .generation = 0, .uid = 65532, .has_access_key = true, .has_password = true,
    };

    podspec_settings_parse(NULL, NULL, 0, &p.settings, (char[64]){0}, 64);
    return p;
}

/* The checker itself must catch violations, or the test above proves nothing. */
static int violations(json_t *pod)
{
    int before = unit_failures_in_test, found, saved = dup(2), null = open("/dev/null", O_WRONLY);

    fflush(stderr);
    dup2(null, 2); /* the expected failures are not news */
    check_pod_restricted(pod);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    close(null);
    found = unit_failures_in_test - before;
    unit_failures_in_test = before;
    return found;
}

static int test_checker_catches_violations(void)
{
    struct podspec_pod p = sample_pod();
    char err[256] = "";
    json_t *pod = podspec_build_pod(&p, err, sizeof(err)), *spec, *c, *sc;

    TEST_ASSERT(pod);
    spec = json_object_get(pod, "spec");
    c = json_array_get(json_object_get(spec, "containers"), 0);
    sc = json_object_get(c, "securityContext");
    TEST_EXPECT(violations(pod) == 0);
    json_array_append_new(json_object_get(spec, "volumes"),
                          json_pack("{s:s, s:{s:s}}", "name", "fuse", "hostPath", "path", "/dev/fuse"));
    TEST_EXPECT(violations(pod) >= 2);
    json_array_remove(json_object_get(spec, "volumes"), json_array_size(json_object_get(spec, "volumes")) - 1);
    json_object_set_new(sc, "allowPrivilegeEscalation", json_true());
    TEST_EXPECT(violations(pod) == 1);
    json_object_set_new(sc, "allowPrivilegeEscalation", json_false());
    json_object_set_new(json_object_get(sc, "capabilities"), "add", json_pack("[s]", "SYS_ADMIN"));
    TEST_EXPECT(violations(pod) == 1);
    json_object_del(json_object_get(sc, "capabilities"), "add");
    json_object_set_new(spec, "hostPID", json_true());
    TEST_EXPECT(violations(pod) == 1);
    json_decref(pod);
    return 0;
}

static int test_pod_is_restricted(void)
{
    struct podspec_pod p = sample_pod();
    char err[256] = "";
    json_t *pod;

    p.settings.cache_bytes = 1ull << 30;
    pod = podspec_build_pod(&p, err, sizeof(err));
    TEST_ASSERT(pod);
    TEST_EXPECT(check_pod_restricted(pod) == 0);
    json_decref(pod);
    return 0;
}

static int test_pod_fields(void)
{
    struct podspec_pod p = sample_pod();
    char err[256] = "";
    json_t *pod = podspec_build_pod(&p, err, sizeof(err)), *spec, *c, *labels, *args;

    TEST_ASSERT(pod);
    spec = json_object_get(pod, "spec");
    c = json_array_get(json_object_get(spec, "containers"), 0);
    labels = json_object_get(json_object_get(pod, "metadata"), "labels");
    args = json_object_get(c, "args");
    TEST_EXPECT(strcmp(kube_str_or(pod, "metadata", "name"), "tidefs-0123456789abcdef-0") == 0);
    TEST_EXPECT(strcmp(json_string_value(json_object_get(spec, "nodeName")), "kind-worker") == 0);
    TEST_EXPECT(strcmp(json_string_value(json_object_get(spec, "priorityClassName")), "tidefs-mount-critical") == 0);
    TEST_EXPECT(strcmp(json_string_value(json_object_get(labels, PODSPEC_LABEL_MOUNT)), "0123456789abcdef") == 0);
    TEST_EXPECT(strcmp(json_string_value(json_object_get(labels, PODSPEC_LABEL_VOLUME)), "vol1") == 0);
    TEST_EXPECT(strcmp(json_string_value(json_object_get(labels, PODSPEC_LABEL_NODE)), "kind-worker") == 0);
    TEST_EXPECT(strcmp(json_string_value(json_object_get(c, "image")), "tidefs/tidefs:0.1.0") == 0);
    TEST_EXPECT(json_is_false(json_object_get(spec, "automountServiceAccountToken")));
    /* resources: defaults, no CPU limit */
    json_t *res = json_object_get(c, "resources");

    TEST_EXPECT(strcmp(json_string_value(json_object_get(json_object_get(res, "requests"), "cpu")), "100m") == 0);
    TEST_EXPECT(strcmp(json_string_value(json_object_get(json_object_get(res, "limits"), "memory")), "1Gi") == 0);
    TEST_EXPECT(json_object_get(json_object_get(res, "limits"), "cpu") == NULL);
    /* the daemon: fd socket inside the comm emptyDir, META-URL from the env */
    TEST_EXPECT(strcmp(json_string_value(json_array_get(args, 0)), "mount") == 0);
    TEST_EXPECT(strcmp(json_string_value(json_array_get(args, 2)), "/run/tidefs/k/s") == 0);
    TEST_EXPECT(strcmp(json_string_value(json_array_get(args, json_array_size(args) - 1)), "$(TIDEFS_META_URL)") == 0);
    TEST_EXPECT(json_has_string(json_object_get(c, "env"), "AWS_SECRET_ACCESS_KEY"));
    TEST_EXPECT(json_has_string(json_object_get(c, "env"), "META_PASSWORD"));
    TEST_EXPECT(strcmp(json_string_value(json_object_get(c, "terminationMessagePolicy")), "FallbackToLogsOnError") == 0);
    TEST_EXPECT(!json_has_string(pod, "--cache-dir"));
    TEST_EXPECT(json_has_string(args, "--journal-dir") && json_has_string(args, PODSPEC_JOURNAL_MOUNT));
    TEST_EXPECT(json_has_string(json_object_get(spec, "volumes"), "856Mi")); /* journal: 2 x 300 + 256 */
    json_decref(pod);

    /* settings reach the pod */
    p.settings.cache_bytes = 2ull << 30;
    p.settings.buffer_bytes = 64ull << 20;
    snprintf(p.settings.cpu_limit, sizeof(p.settings.cpu_limit), "2");
    p.has_password = false;
    p.priority_class = NULL;
    pod = podspec_build_pod(&p, err, sizeof(err));
    TEST_ASSERT(pod);
    spec = json_object_get(pod, "spec");
    c = json_array_get(json_object_get(spec, "containers"), 0);
    TEST_EXPECT(json_object_get(spec, "priorityClassName") == NULL);
    TEST_EXPECT(!json_has_string(json_object_get(c, "env"), "META_PASSWORD"));
    TEST_EXPECT(json_has_string(json_object_get(c, "args"), "--cache-dir"));
    TEST_EXPECT(json_has_string(json_object_get(c, "args"), "2048"));
    TEST_EXPECT(json_has_string(json_object_get(c, "args"), "64"));
    TEST_EXPECT(json_has_string(json_object_get(spec, "volumes"), "2316Mi")); /* 2048 + 10% + 64 */
    TEST_EXPECT(strcmp(json_string_value(json_object_get(
                           json_object_get(json_object_get(c, "resources"), "limits"), "cpu")), "2") == 0);
    json_decref(pod);
    return 0;
}

static int test_pod_refuses_bad_fields(void)
{
    struct podspec_pod p = sample_pod();
    char err[256] = "";

    p.uid = 0;
    TEST_EXPECT(podspec_build_pod(&p, err, sizeof(err)) == NULL && strstr(err, "uid"));
    p = sample_pod();
    p.name = "Tidefs_Bad";
    TEST_EXPECT(podspec_build_pod(&p, err, sizeof(err)) == NULL && strstr(err, "name"));
    p = sample_pod();
    p.image = "";
    TEST_EXPECT(podspec_build_pod(&p, err, sizeof(err)) == NULL && strstr(err, "image"));
    p = sample_pod();
    p.node = NULL;
    TEST_EXPECT(podspec_build_pod(&p, err, sizeof(err)) == NULL && strstr(err, "node"));
    return 0;
}

static int test_secret_holds_values_pod_does_not(void)
{
    struct podspec_pod p = sample_pod();
    struct podspec_secret_values v = {.metaurl = "redis://u@redis:6379/1", .password = "CANARY-PW",
                                      .access_key = "CANARY-AK", .secret_key = "CANARY-SK"};
    char err[256] = "";
    json_t *s = podspec_build_secret(&p, &v), *pod = podspec_build_pod(&p, err, sizeof(err));

    TEST_ASSERT(s && pod);
    TEST_EXPECT(strcmp(kube_str_or(s, "metadata", "name"), p.name) == 0);
    TEST_EXPECT(strcmp(json_string_value(json_object_get(json_object_get(s, "stringData"), "meta-password")),
                       "CANARY-PW") == 0);
    TEST_EXPECT(json_has_string(s, "CANARY-SK") && json_has_string(s, "redis://u@redis"));
    TEST_EXPECT(!json_has_string(pod, "CANARY") && !json_has_string(pod, "redis://"));
    json_decref(s);
    /* absent values leave their keys out */
    v.password = NULL;
    v.access_key = "";
    s = podspec_build_secret(&p, &v);
    TEST_EXPECT(json_object_get(json_object_get(s, "stringData"), "meta-password") == NULL);
    TEST_EXPECT(json_object_get(json_object_get(s, "stringData"), "access-key") == NULL);
    json_decref(s);
    json_decref(pod);

    json_t *patch = podspec_owner_patch("tidefs-x-1", "uid-123");
    json_t *ref = json_array_get(json_object_get(json_object_get(patch, "metadata"), "ownerReferences"), 0);

    TEST_EXPECT(strcmp(json_string_value(json_object_get(ref, "uid")), "uid-123") == 0);
    TEST_EXPECT(strcmp(json_string_value(json_object_get(ref, "kind")), "Pod") == 0);
    TEST_EXPECT(json_is_true(json_object_get(ref, "controller")));
    json_decref(patch);
    return 0;
}

static int test_label_values(void)
{
    char a[64], b[64];
    char longname[100];

    podspec_label_value("kind-worker", a, sizeof(a));
    TEST_EXPECT(strcmp(a, "kind-worker") == 0);
    memset(longname, 'n', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    podspec_label_value(longname, a, sizeof(a));
    podspec_label_value(longname, b, sizeof(b));
    TEST_EXPECT(strncmp(a, "h-", 2) == 0 && strlen(a) == 18 && strcmp(a, b) == 0);
    podspec_label_value("node.example.com/x", a, sizeof(a));
    TEST_EXPECT(strncmp(a, "h-", 2) == 0);
    podspec_label_value("-lead", a, sizeof(a));
    TEST_EXPECT(strncmp(a, "h-", 2) == 0);
    return 0;
}

UNIT_MAIN(UNIT_TEST(test_quantities), UNIT_TEST(test_settings_defaults_and_overrides),
          UNIT_TEST(test_settings_errors_name_the_key), UNIT_TEST(test_pod_is_restricted), UNIT_TEST(test_checker_catches_violations), UNIT_TEST(test_pod_fields),
          UNIT_TEST(test_pod_refuses_bad_fields), UNIT_TEST(test_secret_holds_values_pod_does_not),
          UNIT_TEST(test_label_values))
