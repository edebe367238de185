/* SPDX-License-Identifier: Apache-2.0
 *
 * The one redaction function: renders any protobuf-c message as one line of
 * text for a log, with every secret replaced by ***stripped***. What counts
 * as a secret (protoc-c drops the spec's csi_secret option, so this is by
 * name, which is what the option marks in CSI v1):
 *  - every field named "secrets" (all of them are maps of credentials);
 *  - in any map, the value under key "csi.storage.k8s.io/serviceAccount.tokens"
 *    (CVE-2023-2878, CVE-2024-3744 leaked through volume_context);
 *  - mount_flags values (the spec says they MAY be sensitive).
 * Every request and response that reaches a log goes through csi_redact().
 */
#ifndef TIDEFS_CSI_REDACT_H
#define TIDEFS_CSI_REDACT_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>

#define CSI_STRIPPED "***stripped***"
#define CSI_SA_TOKENS_KEY "csi.storage.k8s.io/serviceAccount.tokens"

/* malloc'ed text, caller frees; NULL when out of memory */
char *csi_redact(const ProtobufCMessage *msg);

/* Replaces, in place, every occurrence in `text` of each of the n non-empty
 * strings in secrets[] by "***". For text that came from elsewhere (a child
 * process's error output) before it goes into a reply or a log. */
void csi_scrub(char *text, const char *const *secrets, size_t n);

#endif
