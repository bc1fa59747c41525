/*
 * A minimal JSON reader for the small metadata strings of a thermo-surrogate ONNX model: the signature (objects,
 * lists, strings, numbers) and version 1's lists of names, {name: "units"} and {name: [lo, hi]} (RFC 8259, plus
 * Python's NaN / Infinity / -Infinity number tokens, which json.dumps writes for non-finite floats). A cursor
 * walks the text; each call skips leading white space, consumes one token or value, and returns 0 on success or
 * -1 with a message in cursor->error.
 */
#ifndef SURROGATE_JSON_H
#define SURROGATE_JSON_H

typedef struct sj_cursor {
    const char *p;     /* next unread character */
    const char *error; /* static text of the first error, NULL while none */
} sj_cursor;

/* Consume the single character C (e.g. '[', ':'). */
int sj_expect(sj_cursor *cursor, char c);
/* Open a list ('[') or object ('{'): 1 if an element follows, 0 if it closed at once (consumed), -1 on error. */
int sj_begin(sj_cursor *cursor, char open);
/* The next non-space character without consuming it ('\0' at the end). */
char sj_peek(sj_cursor *cursor);
/* A string value, unescaped to UTF-8 in a malloc'd buffer the caller frees. */
int sj_string(sj_cursor *cursor, char **out);
/* A number value (locale-independent). */
int sj_number(sj_cursor *cursor, double *out);
/* After an element of a list or object: 1 if a ',' followed (more elements), 0 if CLOSE followed, -1 otherwise. */
int sj_next(sj_cursor *cursor, char close);
/* Only white space left. */
int sj_end(sj_cursor *cursor);

#endif /* SURROGATE_JSON_H */
