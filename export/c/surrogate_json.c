/* Minimal JSON reader for thermo-surrogate metadata; see surrogate_json.h. */
#include "surrogate_json.h"

#include <locale.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static int fail(sj_cursor *cursor, const char *message)
{
    if (!cursor->error) cursor->error = message;
    return -1;
}

static void skip_space(sj_cursor *cursor)
{
    while (*cursor->p == ' ' || *cursor->p == '\t' || *cursor->p == '\n' || *cursor->p == '\r') cursor->p++;
}

char sj_peek(sj_cursor *cursor)
{
    skip_space(cursor);
    return *cursor->p;
}

static const char *expected(char c)
{
    switch (c) {
    case '[': return "expected '['";
    case ']': return "expected ']'";
    case '{': return "expected '{'";
    case ':': return "expected ':'";
    case '"': return "expected a string";
    default: return "unexpected character";
    }
}

int sj_expect(sj_cursor *cursor, char c)
{
    if (sj_peek(cursor) != c) return fail(cursor, expected(c));
    cursor->p++;
    return 0;
}

int sj_begin(sj_cursor *cursor, char open)
{
    if (sj_expect(cursor, open)) return -1;
    if (sj_peek(cursor) != (open == '[' ? ']' : '}')) return 1;
    cursor->p++;
    return 0;
}

int sj_next(sj_cursor *cursor, char close)
{
    char c = sj_peek(cursor);
    if (c == ',') { cursor->p++; return 1; }
    if (c == close) { cursor->p++; return 0; }
    return fail(cursor, close == ']' ? "expected ',' or ']'" : "expected ',' or '}'");
}

int sj_end(sj_cursor *cursor)
{
    return sj_peek(cursor) == '\0' ? 0 : fail(cursor, "unexpected text after the value");
}

static int hex4(const char *p, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
        else return -1;
    }
    *out = v;
    return 0;
}

static char *put_utf8(char *q, unsigned code)
{
    if (code < 0x80) { *q++ = (char)code; }
    else if (code < 0x800) { *q++ = (char)(0xC0 | (code >> 6)); *q++ = (char)(0x80 | (code & 0x3F)); }
    else if (code < 0x10000) {
        *q++ = (char)(0xE0 | (code >> 12)); *q++ = (char)(0x80 | ((code >> 6) & 0x3F));
        *q++ = (char)(0x80 | (code & 0x3F));
    } else {
        *q++ = (char)(0xF0 | (code >> 18)); *q++ = (char)(0x80 | ((code >> 12) & 0x3F));
        *q++ = (char)(0x80 | ((code >> 6) & 0x3F)); *q++ = (char)(0x80 | (code & 0x3F));
    }
    return q;
}

/* One escape after the backslash at *p; writes UTF-8 to *q and advances both. */
static int unescape(sj_cursor *cursor, const char **p, char **q)
{
    static const char plain_in[] = "\"\\/bfnrt", plain_out[] = "\"\\/\b\f\n\r\t";
    const char *hit = **p ? strchr(plain_in, **p) : NULL;
    if (hit) {
        *(*q)++ = plain_out[hit - plain_in];
        (*p)++;
        return 0;
    }
    if (**p != 'u') return fail(cursor, "invalid escape in string");
    unsigned code, low;
    if (hex4(*p + 1, &code)) return fail(cursor, "invalid \\u escape in string");
    *p += 5;
    if (code >= 0xD800 && code <= 0xDBFF) { /* UTF-16 surrogate pair */
        if ((*p)[0] != '\\' || (*p)[1] != 'u' || hex4(*p + 2, &low) || low < 0xDC00 || low > 0xDFFF)
            return fail(cursor, "unpaired surrogate in \\u escape");
        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
        *p += 6;
    }
    *q = put_utf8(*q, code);
    return 0;
}

int sj_string(sj_cursor *cursor, char **out)
{
    *out = NULL;
    if (sj_expect(cursor, '"')) return -1;
    const char *end = cursor->p;
    while (*end && *end != '"') end += (*end == '\\' && end[1]) ? 2 : 1;
    if (!*end) return fail(cursor, "unterminated string");
    char *buffer = malloc((size_t)(end - cursor->p) + 1); /* escapes never grow: \uXXXX (6) -> at most 4 bytes */
    if (!buffer) return fail(cursor, "out of memory");
    const char *p = cursor->p;
    char *q = buffer;
    while (p < end) {
        if ((unsigned char)*p < 0x20) { free(buffer); return fail(cursor, "control character in string"); }
        if (*p != '\\') { *q++ = *p++; continue; }
        p++;
        if (unescape(cursor, &p, &q)) { free(buffer); return -1; }
    }
    *q = '\0';
    cursor->p = end + 1;
    *out = buffer;
    return 0;
}

int sj_number(sj_cursor *cursor, double *out)
{
    skip_space(cursor);
    const char *p = cursor->p;
    int negative = *p == '-';
    const char *word = p + negative;
    if (strncmp(word, "Infinity", 8) == 0) { *out = negative ? -INFINITY : INFINITY; cursor->p = word + 8; return 0; }
    if (!negative && strncmp(word, "NaN", 3) == 0) { *out = NAN; cursor->p = word + 3; return 0; }

    /* RFC 8259 grammar: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
    const char *q = word;
    if (*q == '0') q++;
    else if (*q >= '1' && *q <= '9') while (*q >= '0' && *q <= '9') q++;
    else return fail(cursor, "expected a number");
    if (*q == '.') {
        if (!(q[1] >= '0' && q[1] <= '9')) return fail(cursor, "expected a digit after '.'");
        q++;
        while (*q >= '0' && *q <= '9') q++;
    }
    if (*q == 'e' || *q == 'E') {
        q++;
        if (*q == '+' || *q == '-') q++;
        if (!(*q >= '0' && *q <= '9')) return fail(cursor, "expected a digit in the exponent");
        while (*q >= '0' && *q <= '9') q++;
    }
    /* strtod follows LC_NUMERIC, which a host program may have changed: use its decimal point. */
    char text[64];
    size_t n = (size_t)(q - p);
    if (n >= sizeof text) return fail(cursor, "number too long");
    memcpy(text, p, n);
    text[n] = '\0';
    char *dot = strchr(text, '.');
    if (dot) *dot = *localeconv()->decimal_point;
    *out = strtod(text, NULL);
    cursor->p = q;
    return 0;
}
