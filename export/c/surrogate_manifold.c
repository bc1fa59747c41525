/* Manifold bounds from the metadata; see surrogate_manifold.h. */
#include "surrogate_manifold.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "surrogate_json.h"
#include "surrogate_segment.h"

static int index_of(char **names, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0) return i;
    return -1;
}

/* Append VALUE to the malloc'd array *VALUES of *COUNT numbers (doubling its *CAPACITY). */
static int append(sj_cursor *cursor, double **values, int *count, int *capacity, double value)
{
    if (*count == *capacity) {
        *capacity = *capacity ? 2 * *capacity : 16;
        double *grown = realloc(*values, (size_t)*capacity * sizeof *grown);
        if (!grown) { cursor->error = "out of memory"; return -1; }
        *values = grown;
    }
    (*values)[(*count)++] = value;
    return 0;
}

/* A JSON list of numbers into a malloc'd array (*values, *count). */
static int number_list(sj_cursor *cursor, double **values, int *count)
{
    int capacity = 0, more = sj_begin(cursor, '[');
    *count = 0;
    while (more == 1) {
        double value;
        if (sj_number(cursor, &value) || append(cursor, values, count, &capacity, value)) return -1;
        more = sj_next(cursor, ']');
    }
    return more < 0 ? -1 : 0;
}

/* A JSON list of [lo, hi] pairs into a malloc'd array lo0, hi0, lo1, hi1, ... (*pairs of them). */
static int pair_list(sj_cursor *cursor, double **values, int *pairs)
{
    int capacity = 0, count = 0, more = sj_begin(cursor, '[');
    while (more == 1) {
        double lo, hi;
        if (sj_expect(cursor, '[') || sj_number(cursor, &lo) || sj_expect(cursor, ',') || sj_number(cursor, &hi) ||
            sj_expect(cursor, ']') || append(cursor, values, &count, &capacity, lo) ||
            append(cursor, values, &count, &capacity, hi))
            return -1;
        more = sj_next(cursor, ']');
    }
    *pairs = count / 2;
    return more < 0 ? -1 : 0;
}

/* The entry as read, before "bounds" can be checked against "along", "interpolation" and the edges: the keys may
   come in any order (JSON objects are unordered; the Python reader does not care either). */
typedef struct raw_manifold {
    char *along, *interpolation;
    double *edges;
    int n_edges;
    int n_bounds;         /* columns named in "bounds" */
    char **names;         /* their names */
    double **pairs;       /* their pairs, lo0, hi0, lo1, hi1, ... */
    int *n_pairs;
    int seen;             /* bit per key: 1 along, 2 edges, 4 bounds, 8 interpolation */
} raw_manifold;

static void raw_free(raw_manifold *raw)
{
    for (int c = 0; c < raw->n_bounds; c++) {
        free(raw->names[c]);
        free(raw->pairs[c]);
    }
    free(raw->names);
    free(raw->pairs);
    free(raw->n_pairs);
    free(raw->along);
    free(raw->interpolation);
    free(raw->edges);
}

/* "bounds": {"name": [[lo, hi], ...], ...} into RAW, unchecked. */
static int read_bounds(sj_cursor *cursor, raw_manifold *raw)
{
    int more = sj_begin(cursor, '{');
    while (more == 1) {
        const size_t k = (size_t)raw->n_bounds + 1;
        char **names = realloc(raw->names, k * sizeof *names);
        if (names) raw->names = names;
        double **pairs = names ? realloc(raw->pairs, k * sizeof *pairs) : NULL;
        if (pairs) raw->pairs = pairs;
        int *n_pairs = pairs ? realloc(raw->n_pairs, k * sizeof *n_pairs) : NULL;
        if (!n_pairs) { cursor->error = "out of memory"; return -1; }
        raw->n_pairs = n_pairs;
        const int c = raw->n_bounds++;
        raw->names[c] = NULL;
        raw->pairs[c] = NULL;
        raw->n_pairs[c] = 0;
        if (sj_string(cursor, &raw->names[c]) || sj_expect(cursor, ':') ||
            pair_list(cursor, &raw->pairs[c], &raw->n_pairs[c]))
            return -1;
        more = sj_next(cursor, '}');
    }
    return more < 0 ? -1 : 0;
}

/* One key of the entry and its value into RAW: 0, -1 (JSON error in the cursor) or -2 (PROBLEM written). */
static int read_key(sj_cursor *cursor, const char *key, raw_manifold *raw, char *problem, size_t size)
{
    static const char *const keys[] = {"along", "edges", "bounds", "interpolation"};
    int bit = -1;
    for (int b = 0; b < 4; b++)
        if (strcmp(key, keys[b]) == 0) bit = b;
    if (bit < 0 || (raw->seen & (1 << bit))) {
        snprintf(problem, size, "%s key '%s' (expected \"along\", \"interpolation\", \"edges\", \"bounds\")",
                 bit < 0 ? "unexpected" : "repeated", key);
        return -2;
    }
    raw->seen |= 1 << bit;
    switch (bit) {
    case 0: return sj_string(cursor, &raw->along);
    case 1: return number_list(cursor, &raw->edges, &raw->n_edges);
    case 2: return read_bounds(cursor, raw);
    default: return sj_string(cursor, &raw->interpolation);
    }
}

/* The whole JSON object into RAW: 0, -1 (JSON error, PROBLEM written) or -2 (PROBLEM written). */
static int read_raw(const char *json, raw_manifold *raw, char *problem, size_t size)
{
    sj_cursor cursor = {json, NULL};
    int failed = 0, more = sj_begin(&cursor, '{');
    while (more == 1 && !failed) {
        char *key = NULL;
        failed = sj_string(&cursor, &key) || sj_expect(&cursor, ':') ? -1 : read_key(&cursor, key, raw, problem, size);
        free(key);
        if (!failed) more = sj_next(&cursor, '}');
    }
    if (!failed && (more < 0 || sj_end(&cursor))) failed = -1;
    if (failed == -1) snprintf(problem, size, "not valid JSON (%s)", cursor.error ? cursor.error : "syntax");
    return failed;
}

/* "along", "interpolation" and "edges" checked into M (edges, nodes and the bound arrays allocated, unbounded). */
static int take_axis(const raw_manifold *raw, char **names, int n, sm_manifold *m, char *problem, size_t size)
{
    if ((raw->seen & 7) != 7) {
        snprintf(problem, size, "it lacks \"along\", \"edges\" or \"bounds\"");
        return -1;
    }
    if ((m->along = index_of(names, n, raw->along)) < 0) {
        snprintf(problem, size, "'along' is '%s', not an input column", raw->along);
        return -1;
    }
    const char *form = raw->interpolation ? raw->interpolation : "bins";
    if (strcmp(form, "bins") != 0 && strcmp(form, "linear") != 0) {
        snprintf(problem, size, "'interpolation' is '%s', expected \"bins\" or \"linear\"", form);
        return -1;
    }
    m->interpolation = strcmp(form, "linear") == 0 ? SM_LINEAR : SM_BINS;
    int increasing = raw->n_edges >= 2;
    for (int k = 1; k < raw->n_edges && increasing; k++) increasing = raw->edges[k - 1] < raw->edges[k];
    if (!increasing) {
        snprintf(problem, size, "'edges' must be at least 2 increasing numbers");
        return -1;
    }
    m->n_bins = raw->n_edges - 1;
    const size_t rows = (size_t)m->n_bins + (m->interpolation == SM_LINEAR), cells = rows * (size_t)n;
    m->edges = malloc((size_t)raw->n_edges * sizeof *m->edges);
    m->nodes = malloc((size_t)raw->n_edges * sizeof *m->nodes);
    m->lo = malloc(cells * sizeof *m->lo);
    m->hi = malloc(cells * sizeof *m->hi);
    m->lo_f = malloc(cells * sizeof *m->lo_f);
    m->hi_f = malloc(cells * sizeof *m->hi_f);
    m->bounded = calloc((size_t)n, 1);
    if (!m->edges || !m->nodes || !m->lo || !m->hi || !m->lo_f || !m->hi_f || !m->bounded) {
        snprintf(problem, size, "out of memory");
        return -1;
    }
    for (int k = 0; k < raw->n_edges; k++) {
        m->edges[k] = (float)raw->edges[k];
        m->nodes[k] = raw->edges[k];
    }
    for (size_t c = 0; c < cells; c++) { m->lo[c] = -INFINITY; m->hi[c] = INFINITY; }
    return 0;
}

/* "bounds" checked against the columns and the rows of M (one pair per bin, or per node), then stored. */
static int take_bounds(const raw_manifold *raw, char **names, int n, sm_manifold *m, char *problem, size_t size)
{
    const int linear = m->interpolation == SM_LINEAR, rows = m->n_bins + linear;
    for (int b = 0; b < raw->n_bounds; b++) {
        const int column = index_of(names, n, raw->names[b]);
        if (column < 0 || column == m->along || m->bounded[column]) {
            snprintf(problem, size, "'bounds' names '%s', %s", raw->names[b],
                     column < 0 ? "which is not an input column"
                                : column == m->along ? "the binned column itself" : "twice");
            return -1;
        }
        if (raw->n_pairs[b] != rows) {
            snprintf(problem, size, "'bounds' of '%s' has %d pairs for %d %s", raw->names[b], raw->n_pairs[b], rows,
                     linear ? "nodes" : "bins");
            return -1;
        }
        for (int k = 0; k < rows; k++) {
            const double lo = raw->pairs[b][2 * k], hi = raw->pairs[b][2 * k + 1];
            if (!(lo <= hi)) {
                snprintf(problem, size, "'bounds' of '%s': a pair with lo > hi", raw->names[b]);
                return -1;
            }
            m->lo[k * n + column] = lo;
            m->hi[k * n + column] = hi;
        }
        m->bounded[column] = 1;
    }
    for (size_t c = 0; c < (size_t)rows * (size_t)n; c++) { m->lo_f[c] = (float)m->lo[c]; m->hi_f[c] = (float)m->hi[c]; }
    return 0;
}

/* The slots of sm_bin: SM_SLOTS_PER_BIN per bin over [e0, eK], each with the bin of its start (by the definition:
   the count of interior edges <= the start); -1 when out of memory. */
static int build_slots(sm_manifold *m)
{
    m->n_slots = SM_SLOTS_PER_BIN * m->n_bins;
    m->slot_scale = (float)m->n_slots / (m->edges[m->n_bins] - m->edges[0]);
    if (!(m->slot_bin = malloc((size_t)m->n_slots * sizeof *m->slot_bin))) return -1;
    for (int k = 0, b = 0; k < m->n_slots; k++) {
        const float start = m->edges[0] + (float)k / m->slot_scale;
        while (b + 1 < m->n_bins && m->edges[b + 1] <= start) b++;
        m->slot_bin[k] = b;
    }
    return 0;
}

int sm_parse(const char *json, char **names, int n, sm_manifold *m, char *problem, size_t size)
{
    raw_manifold raw = {0};
    m->along = -1;
    m->n_columns = n;
    int failed = read_raw(json, &raw, problem, size) || take_axis(&raw, names, n, m, problem, size) ||
                 take_bounds(&raw, names, n, m, problem, size);
    raw_free(&raw);
    if (!failed && m->interpolation == SM_BINS && build_slots(m)) {
        snprintf(problem, size, "out of memory");
        failed = -1;
    }
    if (failed) m->n_bins = 0; /* a half-read entry is no manifold */
    return failed ? -1 : 0;
}

void sm_free(sm_manifold *m)
{
    free(m->edges);
    free(m->nodes);
    free(m->lo);
    free(m->hi);
    free(m->lo_f);
    free(m->hi_f);
    free(m->bounded);
    free(m->slot_bin);
    memset(m, 0, sizeof *m);
}

sm_position sm_locate(const sm_manifold *m, float v)
{
    if (m->interpolation == SM_BINS) return (sm_position){sm_bin(m, v), 0.0};
    sm_position p;
    p.k = ss_segment(m->nodes, m->n_bins + 1, (double)v, &p.t);
    return p;
}

void sm_range(const sm_manifold *m, sm_position p, int column, double *lo, double *hi)
{
    const size_t n = (size_t)m->n_columns, at = (size_t)p.k * n + (size_t)column;
    *lo = m->lo[at];
    *hi = m->hi[at];
    if (m->interpolation == SM_BINS || !m->bounded[column]) return; /* -inf + t * NaN must not happen */
    *lo += p.t * (m->lo[at + n] - m->lo[at]);
    *hi += p.t * (m->hi[at + n] - m->hi[at]);
}
