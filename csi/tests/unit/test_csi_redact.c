/* SPDX-License-Identifier: Apache-2.0
 *
 * csi_redact: secrets maps, the service-account token key in any map and
 * mount flags never appear in the rendered text; everything else does.
 * csi_scrub: secret values are masked in foreign text.
 */
#include "csi.pb-c.h"
#include "csi_redact.h"
#include "unit.h"

#include <stdlib.h>

#define CANARY "CANARY-7f3a9c"

static int test_publish_request(void)
{
    Csi__V1__NodePublishVolumeRequest r = CSI__V1__NODE_PUBLISH_VOLUME_REQUEST__INIT;
    Csi__V1__NodePublishVolumeRequest__SecretsEntry s1 = CSI__V1__NODE_PUBLISH_VOLUME_REQUEST__SECRETS_ENTRY__INIT;
    Csi__V1__NodePublishVolumeRequest__SecretsEntry *secrets[] = {&s1};
    Csi__V1__NodePublishVolumeRequest__VolumeContextEntry c1 =
        CSI__V1__NODE_PUBLISH_VOLUME_REQUEST__VOLUME_CONTEXT_ENTRY__INIT;
    Csi__V1__NodePublishVolumeRequest__VolumeContextEntry c2 =
        CSI__V1__NODE_PUBLISH_VOLUME_REQUEST__VOLUME_CONTEXT_ENTRY__INIT;
    Csi__V1__NodePublishVolumeRequest__VolumeContextEntry *ctx[] = {&c1, &c2};
    Csi__V1__VolumeCapability cap = CSI__V1__VOLUME_CAPABILITY__INIT;
    Csi__V1__VolumeCapability__MountVolume mv = CSI__V1__VOLUME_CAPABILITY__MOUNT_VOLUME__INIT;
    char *flags[] = {(char *)"password=" CANARY};
    char *text;

    s1.key = (char *)"metaurl";
    s1.value = (char *)"redis://u:" CANARY "@h/1";
    c1.key = (char *)CSI_SA_TOKENS_KEY;
    c1.value = (char *)"{\"aud\":{\"token\":\"" CANARY "\"}}";
    c2.key = (char *)"subPath";
    c2.value = (char *)"/pvc-1";
    mv.n_mount_flags = 1;
    mv.mount_flags = flags;
    cap.access_type_case = CSI__V1__VOLUME_CAPABILITY__ACCESS_TYPE_MOUNT;
    cap.mount = &mv;
    r.volume_id = (char *)"pvc-1";
    r.target_path = (char *)"/var/lib/kubelet/t";
    r.readonly = 1;
    r.n_secrets = 1;
    r.secrets = secrets;
    r.n_volume_context = 2;
    r.volume_context = ctx;
    r.volume_capability = &cap;
    text = csi_redact(&r.base);
    TEST_ASSERT(text);
    TEST_EXPECT(strstr(text, CANARY) == NULL);
    TEST_EXPECT(strstr(text, "secrets:" CSI_STRIPPED) != NULL);
    TEST_EXPECT(strstr(text, "\"" CSI_SA_TOKENS_KEY "\":" CSI_STRIPPED) != NULL);
    TEST_EXPECT(strstr(text, "\"subPath\":\"/pvc-1\"") != NULL);
    TEST_EXPECT(strstr(text, "volume_id:\"pvc-1\"") != NULL);
    TEST_EXPECT(strstr(text, "readonly:true") != NULL);
    free(text);
    return 0;
}

static int test_nested_token_and_escapes(void)
{
    Csi__V1__ValidateVolumeCapabilitiesResponse r = CSI__V1__VALIDATE_VOLUME_CAPABILITIES_RESPONSE__INIT;
    Csi__V1__ValidateVolumeCapabilitiesResponse__Confirmed c =
        CSI__V1__VALIDATE_VOLUME_CAPABILITIES_RESPONSE__CONFIRMED__INIT;
    Csi__V1__ValidateVolumeCapabilitiesResponse__Confirmed__VolumeContextEntry e =
        CSI__V1__VALIDATE_VOLUME_CAPABILITIES_RESPONSE__CONFIRMED__VOLUME_CONTEXT_ENTRY__INIT;
    Csi__V1__ValidateVolumeCapabilitiesResponse__Confirmed__VolumeContextEntry *list[] = {&e};
    char *text;

    e.key = (char *)CSI_SA_TOKENS_KEY;
    e.value = (char *)CANARY;
    c.n_volume_context = 1;
    c.volume_context = list;
    r.confirmed = &c;
    r.message = (char *)"quote\" and\nnewline";
    text = csi_redact(&r.base);
    TEST_ASSERT(text);
    TEST_EXPECT(strstr(text, CANARY) == NULL);
    TEST_EXPECT(strchr(text, '\n') == NULL); /* one log line, always */
    TEST_EXPECT(strstr(text, "quote\\\" and\\x0anewline") != NULL);
    free(text);
    return 0;
}

static int test_scrub(void)
{
    char text[] = "mount failed for redis://u:s3cret@h/1 with key AKIAXX and s3cret again";
    const char *secrets[] = {"s3cret", NULL, "AKIAXX", ""};

    csi_scrub(text, secrets, 4);
    TEST_EXPECT(strstr(text, "s3cret") == NULL && strstr(text, "AKIAXX") == NULL);
    TEST_EXPECT(strstr(text, "redis://u:***@h/1") != NULL);
    char stars[] = "a*b**c";
    const char *star[] = {"*"};

    csi_scrub(stars, star, 1); /* terminates although the mask matches */
    TEST_EXPECT(strcmp(stars, "a*b**c") == 0);
    return 0;
}

UNIT_MAIN(UNIT_TEST(test_publish_request), UNIT_TEST(test_nested_token_and_escapes), UNIT_TEST(test_scrub))
