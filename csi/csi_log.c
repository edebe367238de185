/* SPDX-License-Identifier: Apache-2.0
 *
 * Leveled logging to stderr with a UTC timestamp, one line per event, and
 * the bridge that sends gRPC core's log lines through the same path.
 */
#include "csi_log.h"

#include <grpc/support/log.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* The one piece of process state: written once by csi_log_init before any
 * thread starts (gRPC's log callback has no user argument to carry it). */
static int log_level = CSI_LOG_INFO;

static const char *level_tag(int level)
{
    switch (level) {
    case CSI_LOG_ERROR:
        return "E";
    case CSI_LOG_WARN:
        return "W";
    case CSI_LOG_INFO:
        return "I";
    default:
        return "D";
    }
}

static void log_line(int level, const char *msg)
{
    struct timespec ts;
    struct tm tm;
    char when[32];

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
    /* one fprintf per line: stdio locks the stream, so lines from several
     * workers never interleave */
    fprintf(stderr, "%s %s.%03ldZ tidefs-csi: %s\n", level_tag(level), when, ts.tv_nsec / 1000000L, msg);
}

static void grpc_log_bridge(gpr_log_func_args *args)
{
    int level = args->severity == GPR_LOG_SEVERITY_ERROR ? CSI_LOG_ERROR
                : args->severity == GPR_LOG_SEVERITY_INFO ? CSI_LOG_TRACE
                                                          : CSI_LOG_TRACE;
    char buf[1024];

    if (level > log_level)
        return;
    snprintf(buf, sizeof(buf), "grpc %s:%d] %s", args->file, args->line, args->message);
    log_line(level, buf);
}

void csi_log_init(int level)
{
    log_level = level;
    gpr_set_log_verbosity(level >= CSI_LOG_TRACE ? GPR_LOG_SEVERITY_DEBUG : GPR_LOG_SEVERITY_ERROR);
    gpr_set_log_function(grpc_log_bridge);
}

int csi_log_level(void)
{
    return log_level;
}

void csi_log(int level, const char *fmt, ...)
{
    char buf[8192];
    va_list ap;

    if (level > log_level)
        return;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    log_line(level, buf);
}
