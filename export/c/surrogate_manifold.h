/*
 * Manifold bounds of a thermo-surrogate model (metadata entry `manifold`, written by `surrogate export` from the
 * training rows; see export/metadata.py): bins of one input column and, per bin, the range of other input
 * columns seen in training, e.g. C_min(Z)..C_max(Z) and the chi range per Z bin:
 *
 *     {"along": "Z", "edges": [e0, ..., eK], "bounds": {"C": [[lo, hi], ... K pairs], "chi": [...]}}
 *
 * A value v of the binned column lies in bin k when edges[k] <= v < edges[k+1] (compared in float32; values
 * below e1 are bin 0, values at or above e(K-1) the last bin), exactly as the Python runtime bins it.
 * No ONNX Runtime here.
 */
#ifndef SURROGATE_MANIFOLD_H
#define SURROGATE_MANIFOLD_H

#include <stddef.h>

typedef struct sm_manifold {
    int along;            /* the binned input column */
    int n_bins, n_columns;
    float *edges;         /* n_bins + 1, float32 as the inputs are compared */
    double *lo, *hi;      /* [n_bins][n_columns] as stored; -inf / inf for columns without bounds */
    float *lo_f, *hi_f;   /* the same in float32: what inputs are checked and clipped to */
} sm_manifold;

/* Parse JSON for the input columns NAMES[N]; 0, or -1 with a one-line reason in PROBLEM. Zero M first. */
int sm_parse(const char *json, char **names, int n, sm_manifold *m, char *problem, size_t size);

/* Free what sm_parse allocated (also after a failure); the struct is zeroed. */
void sm_free(sm_manifold *m);

/* The bin of the binned column's value V. */
int sm_bin(const sm_manifold *m, float v);

#endif /* SURROGATE_MANIFOLD_H */
