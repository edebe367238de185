/* SPDX-License-Identifier: Apache-2.0
 *
 * errno -> gRPC status, the single mapping used for every reply.
 */
#include "csi_status.h"

#include <errno.h>

grpc_status_code errno_to_grpc_status(int err)
{
    switch (-err) {
    case 0:
        return GRPC_STATUS_OK;
    case EINVAL:
    case ENAMETOOLONG:
        return GRPC_STATUS_INVALID_ARGUMENT;
    case ENOENT:
        return GRPC_STATUS_NOT_FOUND;
    case EEXIST:
        return GRPC_STATUS_ALREADY_EXISTS;
    case ERANGE:
        return GRPC_STATUS_OUT_OF_RANGE;
    case EALREADY:
        return GRPC_STATUS_ABORTED;
    case EBUSY:
    case ENOMEDIUM:
    case ENOTDIR:
    case ELOOP:
    case ENOTEMPTY:
        return GRPC_STATUS_FAILED_PRECONDITION;
    case EACCES:
    case EPERM:
        return GRPC_STATUS_PERMISSION_DENIED;
    case ENOSPC:
    case EDQUOT:
        return GRPC_STATUS_RESOURCE_EXHAUSTED;
    case ENOSYS:
    case EOPNOTSUPP:
        return GRPC_STATUS_UNIMPLEMENTED;
    case ETIMEDOUT:
        return GRPC_STATUS_DEADLINE_EXCEEDED;
    case ECANCELED:
        return GRPC_STATUS_CANCELLED;
    case ENOTCONN:
    case ECONNREFUSED:
    case EAGAIN:
        return GRPC_STATUS_UNAVAILABLE;
    default:
        return GRPC_STATUS_INTERNAL;
    }
}

const char *csi_status_name(grpc_status_code code)
{
    static const char *const names[] = {
        "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
        "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
        "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS",
        "UNAUTHENTICATED",
    };

    if ((unsigned)code < sizeof(names) / sizeof(names[0]))
        return names[code];
    return "UNKNOWN";
}
