/* SPDX-License-Identifier: Apache-2.0
 *
 * Validation of names, sub-paths, target paths and raw wire strings, and the
 * errno -> gRPC status mapping.
 */
#include "csi.pb-c.h"
#include "csi_status.h"
#include "csi_validate.h"
#include "unit.h"

#include <errno.h>

static int test_names(void)
{
    char err[256], long_name[200];

    memset(long_name, 'a', 129);
    long_name[129] = '\0';
    TEST_EXPECT(csi_validate_name("name", "pvc-0a1b", err, sizeof(err)) == 0);
    TEST_EXPECT(csi_validate_name("name", long_name + 1, err, sizeof(err)) == 0); /* 128 bytes */
    TEST_EXPECT(csi_validate_name("name", long_name, err, sizeof(err)) == -EINVAL);
    TEST_EXPECT(strstr(err, "128") != NULL);
    const char *bad[] = {"", "..", "a..b", "../x", "a/b", "/a", "-rf", ".hidden", ".", "a\nb", "a\tb", "x\x7f"};

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        TEST_EXPECT(csi_validate_name("volume_id", bad[i], err, sizeof(err)) == -EINVAL);
        TEST_EXPECT(strncmp(err, "volume_id ", 10) == 0);
    }
    return 0;
}

static int test_subpaths(void)
{
    char err[256];

    TEST_EXPECT(csi_validate_subpath("subPath", "/", err, sizeof(err)) == 0);
    TEST_EXPECT(csi_validate_subpath("subPath", "/pvc-1", err, sizeof(err)) == 0);
    TEST_EXPECT(csi_validate_subpath("subPath", "/team/pvc-1", err, sizeof(err)) == 0);
    const char *bad[] = {"", "pvc", "/a/../b", "/..", "//a", "/a/", "/a//b", "/-o", "/a/-x", "/a/.b"};

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        TEST_EXPECT(csi_validate_subpath("subPath", bad[i], err, sizeof(err)) == -EINVAL);
    return 0;
}

static int test_targets(void)
{
    const char *k = "/var/lib/kubelet";
    char err[256];

    TEST_EXPECT(csi_validate_target("t", k, "/var/lib/kubelet/pods/u/volumes/x/mount", err, sizeof(err)) == 0);
    const char *bad[] = {"",
                         "relative/path",
                         "/var/lib/kubelet",
                         "/var/lib/kubelet/",
                         "/var/lib/kubeletX/pods",
                         "/etc/passwd",
                         "/var/lib/kubelet/../../etc",
                         "/var/lib/kubelet/pods/./x",
                         "/var/lib/kubelet/pods//x",
                         "/var/lib/kubelet/pods/x/",
                         "/var/lib/kubelet/pods/\n"};

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        TEST_EXPECT(csi_validate_target("t", k, bad[i], err, sizeof(err)) == -EINVAL);
    return 0;
}

/* a NUL inside any string, even a map value two levels down, is refused */
static int test_wire_nul(void)
{
    Csi__V1__NodePublishVolumeRequest r = CSI__V1__NODE_PUBLISH_VOLUME_REQUEST__INIT;
    Csi__V1__NodePublishVolumeRequest__VolumeContextEntry e =
        CSI__V1__NODE_PUBLISH_VOLUME_REQUEST__VOLUME_CONTEXT_ENTRY__INIT;
    Csi__V1__NodePublishVolumeRequest__VolumeContextEntry *list[] = {&e};
    uint8_t buf[512];
    char err[256];
    size_t n;

    r.volume_id = (char *)"pvc-1";
    r.target_path = (char *)"/var/lib/kubelet/x";
    e.key = (char *)"subPath";
    e.value = (char *)"/pvcZ";
    r.n_volume_context = 1;
    r.volume_context = list;
    n = protobuf_c_message_pack(&r.base, buf);
    TEST_EXPECT(csi_validate_wire(&csi__v1__node_publish_volume_request__descriptor, buf, n, err, sizeof(err)) == 0);
    /* patch the 'Z' of the map value into a NUL on the wire */
    uint8_t *z = memchr(buf, 'Z', n);

    TEST_ASSERT(z);
    *z = 0;
    TEST_EXPECT(csi_validate_wire(&csi__v1__node_publish_volume_request__descriptor, buf, n, err, sizeof(err)) ==
                -EINVAL);
    TEST_EXPECT(strstr(err, "NUL") != NULL);
    /* truncated wire data */
    TEST_EXPECT(csi_validate_wire(&csi__v1__node_publish_volume_request__descriptor, buf, n - 3, err, sizeof(err)) ==
                -EINVAL);
    return 0;
}

static int test_status_mapping(void)
{
    TEST_EXPECT(errno_to_grpc_status(0) == GRPC_STATUS_OK);
    TEST_EXPECT(errno_to_grpc_status(-EINVAL) == GRPC_STATUS_INVALID_ARGUMENT);
    TEST_EXPECT(errno_to_grpc_status(-ENOENT) == GRPC_STATUS_NOT_FOUND);
    TEST_EXPECT(errno_to_grpc_status(-EEXIST) == GRPC_STATUS_ALREADY_EXISTS);
    TEST_EXPECT(errno_to_grpc_status(-ERANGE) == GRPC_STATUS_OUT_OF_RANGE);
    TEST_EXPECT(errno_to_grpc_status(-EALREADY) == GRPC_STATUS_ABORTED);
    TEST_EXPECT(errno_to_grpc_status(-ENOMEDIUM) == GRPC_STATUS_FAILED_PRECONDITION);
    TEST_EXPECT(errno_to_grpc_status(-EDQUOT) == GRPC_STATUS_RESOURCE_EXHAUSTED);
    TEST_EXPECT(errno_to_grpc_status(-ETIMEDOUT) == GRPC_STATUS_DEADLINE_EXCEEDED);
    TEST_EXPECT(errno_to_grpc_status(-EIO) == GRPC_STATUS_INTERNAL);
    TEST_EXPECT(strcmp(csi_status_name(GRPC_STATUS_UNIMPLEMENTED), "UNIMPLEMENTED") == 0);
    return 0;
}

UNIT_MAIN(UNIT_TEST(test_names), UNIT_TEST(test_subpaths), UNIT_TEST(test_targets), UNIT_TEST(test_wire_nul),
          UNIT_TEST(test_status_mapping))
