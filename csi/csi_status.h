/* SPDX-License-Identifier: Apache-2.0
 *
 * The one place where an error of tidefs-csi (0 or -errno, the project's
 * convention) becomes a gRPC status code. Handlers choose the errno that
 * carries the CSI meaning:
 *   -EINVAL  INVALID_ARGUMENT     -ENOENT  NOT_FOUND
 *   -EEXIST  ALREADY_EXISTS       -ERANGE  OUT_OF_RANGE
 *   -EALREADY ABORTED (an operation on the same volume is in progress)
 *   -EBUSY, -ENOMEDIUM, -ENOTDIR, -ELOOP, -ENOTEMPTY  FAILED_PRECONDITION
 *   -EACCES, -EPERM  PERMISSION_DENIED   -ENOSPC, -EDQUOT  RESOURCE_EXHAUSTED
 *   -ENOSYS, -EOPNOTSUPP  UNIMPLEMENTED  -ETIMEDOUT  DEADLINE_EXCEEDED
 *   -ENOTCONN, -ECONNREFUSED, -EAGAIN  UNAVAILABLE   others  INTERNAL
 */
#ifndef TIDEFS_CSI_STATUS_H
#define TIDEFS_CSI_STATUS_H

#include <grpc/status.h>

/* err is 0 or a negative errno */
grpc_status_code errno_to_grpc_status(int err);
/* "OK", "INVALID_ARGUMENT", ... for logs */
const char *csi_status_name(grpc_status_code code);

#endif
