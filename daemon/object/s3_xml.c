/* SPDX-License-Identifier: Apache-2.0
 *
 * A bounded scanner for S3's XML answers (see s3_xml.h). Elements are found
 * by name between a start and an end pointer; S3 documents are flat enough
 * that nesting by name (Error/Code, Contents/Key) is all that is needed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "object/s3_xml.h"

struct span {
    const char *p;
    const char *end;
};

/* Finds the next <name> (or <name attr..>) in s; returns its content and
 * moves s past the matching </name>. 0 found, -1 not found. */
static int next_element(struct span *s, const char *name, struct span *content)
{
    size_t n = strlen(name);
    const char *p = s->p;

    while (p < s->end) {
        const char *lt = memchr(p, '<', (size_t)(s->end - p));
        if (!lt || (size_t)(s->end - lt) < n + 2)
            return -1;
        if (memcmp(lt + 1, name, n) == 0 && (lt[n + 1] == '>' || lt[n + 1] == ' ' || lt[n + 1] == '/')) {
            const char *gt = memchr(lt, '>', (size_t)(s->end - lt));
            if (!gt)
                return -1;
            if (gt[-1] == '/') { /* <name/> */
                *content = (struct span){gt + 1, gt + 1};
                s->p = gt + 1;
                return 0;
            }
            for (const char *q = gt + 1; q + n + 3 <= s->end; q++) {
                if (q[0] == '<' && q[1] == '/' && memcmp(q + 2, name, n) == 0 && q[n + 2] == '>') {
                    *content = (struct span){gt + 1, q};
                    s->p = q + n + 3;
                    return 0;
                }
            }
            return -1;
        }
        p = lt + 1;
    }
    return -1;
}

static size_t put_utf8(char *o, unsigned long cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Decodes one entity at p (which points at '&'); returns its length, 0 if
 * it is not one we know. */
static size_t decode_entity(const char *p, const char *end, char *o, size_t *olen)
{
    static const struct {
        const char *name;
        char c;
    } ents[] = {{"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
    const char *semi = memchr(p, ';', (size_t)(end - p) < 12 ? (size_t)(end - p) : 12);

    if (!semi)
        return 0;
    for (size_t i = 0; i < sizeof(ents) / sizeof(ents[0]); i++) {
        size_t n = strlen(ents[i].name);
        if ((size_t)(semi - p + 1) == n && memcmp(p, ents[i].name, n) == 0) {
            o[0] = ents[i].c;
            *olen = 1;
            return n;
        }
    }
    if (p[1] == '#') {
        char *e;
        unsigned long cp = p[2] == 'x' ? strtoul(p + 3, &e, 16) : strtoul(p + 2, &e, 10);
        if (e != semi || cp == 0 || cp > 0x10FFFF)
            return 0;
        *olen = put_utf8(o, cp);
        return (size_t)(semi - p + 1);
    }
    return 0;
}

/* Copies the text of s into out (cap outlen with NUL), decoding entities.
 * Returns -1 when it does not fit. */
static int text(struct span s, char *out, size_t outlen)
{
    size_t o = 0;

    for (const char *p = s.p; p < s.end;) {
        char buf[4];
        size_t blen = 1, used = *p == '&' ? decode_entity(p, s.end, buf, &blen) : 0;
        if (!used) {
            buf[0] = *p;
            used = 1;
            blen = 1;
        }
        if (o + blen >= outlen)
            return -1;
        memcpy(out + o, buf, blen);
        o += blen;
        p += used;
    }
    out[o] = '\0';
    return 0;
}

static void child_text(struct span parent, const char *name, char *out, size_t outlen)
{
    struct span c;

    out[0] = '\0';
    if (next_element(&parent, name, &c) == 0 && text(c, out, outlen) != 0)
        out[outlen - 1] = '\0';
}

int s3_xml_error(const char *body, size_t len, char *code, size_t codelen, char *msg, size_t msglen)
{
    struct span s = {body, body + len}, e;
    const char *p = body;

    /* The root must be <Error>: skip the declaration and whitespace. */
    while (p < s.end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
        p++;
    if (p + 5 < s.end && memcmp(p, "<?xml", 5) == 0) {
        p = memchr(p, '>', (size_t)(s.end - p));
        if (!p)
            return 0;
        p++;
        while (p < s.end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
            p++;
    }
    if ((size_t)(s.end - p) < 7 || memcmp(p, "<Error>", 7) != 0)
        return 0;
    s.p = p;
    if (next_element(&s, "Error", &e) != 0)
        return 0;
    child_text(e, "Code", code, codelen);
    child_text(e, "Message", msg, msglen);
    if (!code[0])
        snprintf(code, codelen, "%s", "UnknownError");
    return 1;
}

/* "2009-10-12T17:50:30.000Z" -> ns since the epoch; 0 if unparsable. */
static int64_t parse_time(const char *s)
{
    struct tm tm = {0};
    const char *rest = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    int64_t ns = 0;

    if (!rest)
        return 0;
    if (*rest == '.') {
        int digits = 0;
        for (rest++; *rest >= '0' && *rest <= '9'; rest++, digits++)
            if (digits < 9)
                ns = ns * 10 + (*rest - '0');
        for (; digits < 9; digits++)
            ns *= 10;
    }
    return (int64_t)timegm(&tm) * 1000000000 + ns;
}

static int list_entry(struct span c, s3_xml_entry_fn fn, void *arg)
{
    char key[2048], size[32], mtime[64], *end;
    unsigned long long sz;

    child_text(c, "Key", key, sizeof(key));
    child_text(c, "Size", size, sizeof(size));
    child_text(c, "LastModified", mtime, sizeof(mtime));
    sz = strtoull(size, &end, 10);
    if (!key[0] || !size[0] || *end)
        return -EIO;
    return fn(arg, key, sz, parse_time(mtime)) ? 1 : 0;
}

int s3_xml_list(const char *body, size_t len, s3_xml_entry_fn fn, void *arg, struct s3_xml_list_page *page)
{
    struct span s = {body, body + len}, root, c;
    char trunc[16];

    memset(page, 0, sizeof(*page));
    if (next_element(&s, "ListBucketResult", &root) != 0)
        return -EIO;
    child_text(root, "IsTruncated", trunc, sizeof(trunc));
    page->truncated = strcmp(trunc, "true") == 0;
    child_text(root, "NextContinuationToken", page->next_token, sizeof(page->next_token));
    while (next_element(&root, "Contents", &c) == 0) {
        int rc = list_entry(c, fn, arg);
        if (rc < 0)
            return rc;
        page->count++;
        if (rc > 0) {
            page->stopped = 1;
            break;
        }
    }
    return 0;
}
