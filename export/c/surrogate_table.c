/* The compiled table backend; see surrogate_table.h. */
#include "surrogate_table.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "surrogate_json.h"
#include "surrogate_segment.h"

#define ST_MIN_SPAN 1e-12 /* a C range narrower than this (a pure stream) maps to Lambda = 0 */

/* The 6-bit value of a base64 character (standard alphabet), or -1. */
static int sextet(char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    return c == '+' ? 62 : (c == '/' ? 63 : -1);
}

/* Base64 TEXT (padded, no white space) into a malloc'd buffer of *N_BYTES; -1 when it is not base64. */
static int base64_decode(const char *text, unsigned char **bytes, size_t *n_bytes)
{
    const size_t length = strlen(text);
    if (length % 4) return -1;
    const size_t padding = length && text[length - 1] == '=' ? (text[length - 2] == '=' ? 2 : 1) : 0;
    *n_bytes = length / 4 * 3 - padding;
    if (!(*bytes = malloc(*n_bytes ? *n_bytes : 1))) return -1;
    size_t out = 0;
    for (size_t i = 0; i < length; i += 4) {
        uint32_t group = 0;
        for (int k = 0; k < 4; k++) {
            const int pad = text[i + k] == '=' && i + 4 == length && k >= 4 - (int)padding;
            const int v = pad ? 0 : sextet(text[i + k]);
            if (v < 0) return -1;
            group = group << 6 | (uint32_t)v;
        }
        for (int k = 0; k < 3 && out < *n_bytes; k++) (*bytes)[out++] = (unsigned char)(group >> (16 - 8 * k));
    }
    return 0;
}

/* COUNT little-endian float32 from base64 TEXT into the malloc'd *VALUES; a message in PROBLEM on failure. */
static int decode_floats(const char *key, const char *text, size_t count, float **values, char *problem,
                         size_t size)
{
    unsigned char *bytes = NULL;
    size_t n_bytes = 0;
    int failed = base64_decode(text, &bytes, &n_bytes);
    if (failed) snprintf(problem, size, "'%s' is not base64", key);
    else if (n_bytes != 4 * count) {
        snprintf(problem, size, "'%s' holds %zu float32 values, the shape asks for %zu", key, n_bytes / 4, count);
        failed = -1;
    }
    if (!failed && !(*values = malloc(count ? count * sizeof **values : 1))) {
        snprintf(problem, size, "out of memory");
        failed = -1;
    }
    for (size_t i = 0; i < count && !failed; i++) { /* little-endian whatever the host's byte order */
        const unsigned char *b = bytes + 4 * i;
        const uint32_t word = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
        memcpy(&(*values)[i], &word, sizeof word);
    }
    free(bytes);
    return failed;
}

/* COUNT floats widened to a malloc'd double array (NULL when out of memory). */
static double *widen(const float *values, size_t count)
{
    double *wide = malloc(count * sizeof *wide);
    for (size_t i = 0; wide && i < count; i++) wide[i] = (double)values[i];
    return wide;
}

/* An axis: finite, strictly increasing from exactly 0 to exactly 1. */
static int unit_axis(const double *x, int n)
{
    int ok = n >= 2 && x[0] == 0.0 && x[n - 1] == 1.0;
    for (int i = 1; i < n && ok; i++) ok = x[i - 1] < x[i];
    return ok;
}

enum { KEY_Z, KEY_LAMBDA, KEY_C_MIN, KEY_C_MAX, KEY_VALUES, KEY_SHAPE, KEY_DTYPE, N_KEYS };
static const char *const KEYS[N_KEYS] = {"Z", "Lambda", "C_min", "C_max", "values", "shape", "dtype"};

/* The entry's strings (base64 arrays and dtype) and shape, unchecked. */
typedef struct raw_table {
    char *text[N_KEYS]; /* KEY_SHAPE unused */
    double shape[3];
    int n_shape;
} raw_table;

/* "shape": a list of numbers (at most 3 kept; more are counted, so a wrong rank is reported). */
static int read_shape(sj_cursor *cursor, raw_table *raw)
{
    int more = sj_begin(cursor, '[');
    while (more == 1) {
        double value;
        if (sj_number(cursor, &value)) return -1;
        if (raw->n_shape < 3) raw->shape[raw->n_shape] = value;
        raw->n_shape++;
        more = sj_next(cursor, ']');
    }
    return more < 0 ? -1 : 0;
}

/* The JSON object into RAW: 0, or -1 with PROBLEM written. */
static int read_raw(const char *json, raw_table *raw, char *problem, size_t size)
{
    sj_cursor cursor = {json, NULL};
    int failed = 0, more = sj_begin(&cursor, '{');
    while (more == 1 && !failed) {
        char *key = NULL;
        int k = N_KEYS;
        failed = sj_string(&cursor, &key) || sj_expect(&cursor, ':');
        if (!failed)
            for (k = 0; k < N_KEYS && strcmp(key, KEYS[k]) != 0; k++) continue;
        if (!failed && (k == N_KEYS || raw->text[k] || (k == KEY_SHAPE && raw->n_shape))) {
            snprintf(problem, size, "%s key '%s' (expected Z, Lambda, C_min, C_max, values, shape, dtype)",
                     k == N_KEYS ? "unexpected" : "repeated", key);
            free(key);
            return -1;
        }
        free(key);
        if (!failed) failed = k == KEY_SHAPE ? read_shape(&cursor, raw) : sj_string(&cursor, &raw->text[k]);
        if (!failed) more = sj_next(&cursor, '}');
    }
    if (failed || more < 0 || sj_end(&cursor)) {
        snprintf(problem, size, "not valid JSON (%s)", cursor.error ? cursor.error : "syntax");
        return -1;
    }
    for (int k = 0; k < N_KEYS; k++)
        if (k == KEY_SHAPE ? !raw->n_shape : !raw->text[k]) {
            snprintf(problem, size, "it lacks '%s'", KEYS[k]);
            return -1;
        }
    return 0;
}

/* "shape" and "dtype" checked against the model into T's sizes. */
static int take_shape(const raw_table *raw, int n_outputs, st_table *t, char *problem, size_t size)
{
    if (strcmp(raw->text[KEY_DTYPE], "<f4") != 0) {
        snprintf(problem, size, "'dtype' is '%s', expected \"<f4\"", raw->text[KEY_DTYPE]);
        return -1;
    }
    int whole = raw->n_shape == 3;
    for (int k = 0; k < 3 && whole; k++)
        whole = raw->shape[k] >= 1 && raw->shape[k] <= 1e8 && raw->shape[k] == floor(raw->shape[k]);
    if (!whole || raw->shape[0] < 2 || raw->shape[1] < 2) {
        snprintf(problem, size, "'shape' must be [nZ, nL, n_outputs] with nZ, nL >= 2");
        return -1;
    }
    t->n_z = (int)raw->shape[0];
    t->n_lambda = (int)raw->shape[1];
    t->n_outputs = (int)raw->shape[2];
    if (t->n_outputs != n_outputs) {
        snprintf(problem, size, "'shape' has %d outputs, the model %d", t->n_outputs, n_outputs);
        return -1;
    }
    return 0;
}

/* The five arrays decoded and checked into T. */
static int take_arrays(const raw_table *raw, st_table *t, char *problem, size_t size)
{
    float *axis[4] = {NULL, NULL, NULL, NULL};
    const size_t counts[4] = {(size_t)t->n_z, (size_t)t->n_lambda, (size_t)t->n_z, (size_t)t->n_z};
    int failed = 0;
    for (int k = KEY_Z; k <= KEY_C_MAX && !failed; k++)
        failed = decode_floats(KEYS[k], raw->text[k], counts[k], &axis[k], problem, size);
    if (!failed)
        failed = decode_floats("values", raw->text[KEY_VALUES],
                               (size_t)t->n_z * (size_t)t->n_lambda * (size_t)t->n_outputs, &t->values, problem, size);
    double **wide[4] = {&t->z, &t->lambda, &t->c_min, &t->c_max};
    for (int k = 0; k < 4 && !failed; k++)
        if (!(*wide[k] = widen(axis[k], counts[k]))) {
            snprintf(problem, size, "out of memory");
            failed = -1;
        }
    for (int k = 0; k < 4; k++) free(axis[k]);
    if (!failed && (!unit_axis(t->z, t->n_z) || !unit_axis(t->lambda, t->n_lambda))) {
        snprintf(problem, size, "'%s' must increase strictly from 0 to 1", unit_axis(t->z, t->n_z) ? "Lambda" : "Z");
        failed = -1;
    }
    return failed;
}

int st_parse(const char *json, int n_outputs, st_table *t, char *problem, size_t size)
{
    raw_table raw = {0};
    int failed = read_raw(json, &raw, problem, size) || take_shape(&raw, n_outputs, t, problem, size) ||
                 take_arrays(&raw, t, problem, size);
    for (int k = 0; k < N_KEYS; k++) free(raw.text[k]);
    if (failed) t->n_z = 0; /* a half-read entry is no table */
    return failed ? -1 : 0;
}

void st_free(st_table *t)
{
    free(t->z);
    free(t->lambda);
    free(t->c_min);
    free(t->c_max);
    free(t->values);
    memset(t, 0, sizeof *t);
}

void st_lookup(const st_table *t, double z, double c, double *out)
{
    double tz, tl;
    const int i = ss_segment(t->z, t->n_z, z, &tz); /* binary search: the Z axis is not uniform */
    const double cmin = t->c_min[i] + tz * (t->c_min[i + 1] - t->c_min[i]);
    const double cmax = t->c_max[i] + tz * (t->c_max[i + 1] - t->c_max[i]);
    const double span = cmax - cmin;
    double lambda = span > ST_MIN_SPAN ? (c - cmin) / span : 0.0;
    lambda = lambda < 0 ? 0 : (lambda > 1 ? 1 : lambda);
    const int j = ss_segment(t->lambda, t->n_lambda, lambda, &tl);
    const size_t n = (size_t)t->n_outputs, row = (size_t)t->n_lambda * n;
    const float *v00 = t->values + (size_t)i * row + (size_t)j * n; /* [i][j] */
    const float *v10 = v00 + row, *v01 = v00 + n, *v11 = v10 + n;   /* [i+1][j], [i][j+1], [i+1][j+1] */
    const double w00 = (1 - tz) * (1 - tl), w10 = tz * (1 - tl), w01 = (1 - tz) * tl, w11 = tz * tl;
    for (size_t k = 0; k < n; k++)
        out[k] = w00 * v00[k] + w10 * v10[k] + w01 * v01[k] + w11 * v11[k];
}
