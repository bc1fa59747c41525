/* Manifold bounds from the metadata; see surrogate_manifold.h. */
#include "surrogate_manifold.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "surrogate_json.h"

static int index_of(char **names, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0) return i;
    return -1;
}

/* A JSON list of numbers into a malloc'd array (*values, *count). */
static int number_list(sj_cursor *cursor, double **values, int *count)
{
    int capacity = 0, more = sj_begin(cursor, '[');
    *values = NULL;
    *count = 0;
    while (more == 1) {
        if (*count == capacity) {
            capacity = capacity ? 2 * capacity : 16;
            double *grown = realloc(*values, (size_t)capacity * sizeof *grown);
            if (!grown) { cursor->error = "out of memory"; return -1; }
            *values = grown;
        }
        if (sj_number(cursor, &(*values)[*count])) return -1;
        (*count)++;
        more = sj_next(cursor, ']');
    }
    return more < 0 ? -1 : 0;
}

/* "bounds": {"name": [[lo, hi], ...n_bins], ...} into m->lo / m->hi. */
static int parse_bounds(sj_cursor *cursor, char **names, int n, sm_manifold *m, char *problem, size_t size)
{
    int more = sj_begin(cursor, '{');
    while (more == 1) {
        char *name = NULL;
        if (sj_string(cursor, &name) || sj_expect(cursor, ':')) { free(name); return -1; }
        int column = index_of(names, n, name);
        if (column < 0 || column == m->along) {
            snprintf(problem, size, "'bounds' names '%s', %s", name,
                     column < 0 ? "which is not an input column" : "the binned column itself");
            free(name);
            return -2;
        }
        free(name);
        int bin = 0, pairs = sj_begin(cursor, '[');
        while (pairs == 1) {
            double lo, hi;
            if (sj_expect(cursor, '[') || sj_number(cursor, &lo) || sj_expect(cursor, ',') ||
                sj_number(cursor, &hi) || sj_expect(cursor, ']'))
                return -1;
            if (bin >= m->n_bins || !(lo <= hi)) {
                snprintf(problem, size, "'bounds' of '%s': %s", names[column],
                         bin >= m->n_bins ? "more pairs than bins" : "a pair with lo > hi");
                return -2;
            }
            m->lo[bin * n + column] = lo;
            m->hi[bin * n + column] = hi;
            bin++;
            pairs = sj_next(cursor, ']');
        }
        if (pairs < 0) return -1;
        if (bin != m->n_bins) {
            snprintf(problem, size, "'bounds' of '%s' has %d pairs for %d bins", names[column], bin, m->n_bins);
            return -2;
        }
        more = sj_next(cursor, '}');
    }
    return more < 0 ? -1 : 0;
}

int sm_parse(const char *json, char **names, int n, sm_manifold *m, char *problem, size_t size)
{
    sj_cursor cursor = {json, NULL};
    double *edges = NULL;
    int n_edges = 0, failed = 0, seen = 0;
    m->along = -1;
    m->n_columns = n;
    int more = sj_begin(&cursor, '{');
    while (more == 1 && !failed) {
        char *key = NULL;
        if (sj_string(&cursor, &key) || sj_expect(&cursor, ':')) { free(key); failed = -1; break; }
        if (strcmp(key, "along") == 0 && !(seen & 1)) {
            char *name = NULL;
            failed = sj_string(&cursor, &name);
            if (!failed && (m->along = index_of(names, n, name)) < 0) {
                snprintf(problem, size, "'along' is '%s', not an input column", name);
                failed = -2;
            }
            free(name);
            seen |= 1;
        } else if (strcmp(key, "edges") == 0 && !(seen & 2) && seen == 1) {
            failed = number_list(&cursor, &edges, &n_edges);
            for (int k = 1; k < n_edges && !failed; k++)
                if (!(edges[k - 1] < edges[k])) failed = -2;
            if (!failed && n_edges < 2) failed = -2;
            if (failed == -2) snprintf(problem, size, "'edges' must be at least 2 increasing numbers");
            if (!failed) {
                size_t cells = (size_t)(n_edges - 1) * (size_t)n;
                m->n_bins = n_edges - 1;
                m->edges = malloc((size_t)n_edges * sizeof *m->edges);
                m->lo = malloc(cells * sizeof *m->lo);
                m->hi = malloc(cells * sizeof *m->hi);
                if (!m->edges || !m->lo || !m->hi) { cursor.error = "out of memory"; failed = -1; }
                for (int k = 0; k < n_edges && !failed; k++) m->edges[k] = (float)edges[k];
                for (size_t c = 0; c < cells && !failed; c++) { m->lo[c] = -INFINITY; m->hi[c] = INFINITY; }
            }
            seen |= 2;
        } else if (strcmp(key, "bounds") == 0 && seen == 3) {
            failed = parse_bounds(&cursor, names, n, m, problem, size);
            seen |= 4;
        } else {
            snprintf(problem, size, "unexpected key '%s' (expected \"along\", \"edges\", \"bounds\" in this order)",
                     key);
            failed = -2;
        }
        free(key);
        if (!failed) more = sj_next(&cursor, '}');
    }
    free(edges);
    if (!failed && more < 0) failed = -1;
    if (!failed && sj_end(&cursor)) failed = -1;
    if (!failed && seen != 7) {
        snprintf(problem, size, "it lacks \"along\", \"edges\" or \"bounds\"");
        failed = -2;
    }
    if (failed == -1) snprintf(problem, size, "not valid JSON (%s)", cursor.error ? cursor.error : "syntax");
    if (!failed) {
        size_t cells = (size_t)m->n_bins * (size_t)n;
        m->lo_f = malloc(cells * sizeof *m->lo_f);
        m->hi_f = malloc(cells * sizeof *m->hi_f);
        if (!m->lo_f || !m->hi_f) { snprintf(problem, size, "out of memory"); failed = -1; }
        for (size_t c = 0; c < cells && !failed; c++) { m->lo_f[c] = (float)m->lo[c]; m->hi_f[c] = (float)m->hi[c]; }
    }
    return failed ? -1 : 0;
}

void sm_free(sm_manifold *m)
{
    free(m->edges);
    free(m->lo);
    free(m->hi);
    free(m->lo_f);
    free(m->hi_f);
    memset(m, 0, sizeof *m);
}

int sm_bin(const sm_manifold *m, float v)
{
    int lo = 0, hi = m->n_bins - 1; /* the bin is the count of interior edges e1..e(K-1) <= v */
    while (lo < hi) {
        int mid = (lo + hi + 1) / 2;
        if (m->edges[mid] <= v) lo = mid;
        else hi = mid - 1;
    }
    return lo;
}
