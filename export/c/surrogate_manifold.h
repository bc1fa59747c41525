/*
 * Manifold bounds of a thermo-surrogate model (metadata entry `manifold`; see export/metadata.py): the range of
 * other input columns as a function of one input column (`along`), e.g. C_min(Z)..C_max(Z) and the chi range in Z.
 * Two forms, told apart by the optional key "interpolation":
 *
 *   "bins" (default when absent): {"along": "Z", "edges": [e0, ..., eK], "bounds": {"C": [[lo, hi], ... K pairs]}}
 *       A value v of the along column lies in bin k when edges[k] <= v < edges[k+1] (compared in float32; values
 *       below e1 are bin 0, values at or above e(K-1) the last bin); the bounds are the bin's pair, and cells are
 *       compared with them in float32, exactly as the Python runtime does.
 *
 *   "linear": {"along": "Z", "interpolation": "linear", "edges": [z0, ..., zK], "bounds": {"C": [... K+1 pairs]}}
 *       edges are nodes (K >= 1, strictly increasing) and there is one [lo, hi] per node. The bounds at v: v (the
 *       float32 input, in double) clamped to [z0, zK]; segment k with zk <= v < z(k+1) (v = zK: k = K-1);
 *       t = (v - zk) / (z(k+1) - zk); lo = lo_k + t (lo_(k+1) - lo_k), hi likewise, all in double.
 *
 * The keys may come in any order. No ONNX Runtime here.
 */
#ifndef SURROGATE_MANIFOLD_H
#define SURROGATE_MANIFOLD_H

#include <stddef.h>

typedef enum sm_interpolation { SM_BINS = 0, SM_LINEAR = 1 } sm_interpolation;

typedef struct sm_manifold {
    int along;                     /* the input column the bounds depend on */
    sm_interpolation interpolation;
    int n_bins;                    /* bins (SM_BINS) or segments between nodes (SM_LINEAR); 0: no manifold */
    int n_columns;
    float *edges;                  /* n_bins + 1 edges or nodes, float32 (bins are found in float32) */
    double *nodes;                 /* the same in double (linear interpolation is done in double) */
    double *lo, *hi;               /* [rows][n_columns] as stored, rows = n_bins (bins) or n_bins + 1 (linear);
                                      -inf / inf for columns without bounds */
    float *lo_f, *hi_f;            /* the same in float32: what cells are compared and clipped to in SM_BINS */
    unsigned char *bounded;        /* n_columns: 1 where "bounds" names the column */
    int n_slots;                   /* SM_BINS: equal slots of [e0, eK] ... */
    float slot_scale;              /* ... slots per unit of the along column ... */
    int *slot_bin;                 /* ... and the bin of each slot's start: sm_bin's first guess */
} sm_manifold;

/* Where a value of the along column falls: bin K (T = 0) or segment K at fraction T in [0, 1]. */
typedef struct sm_position {
    int k;
    double t;
} sm_position;

/* Parse JSON for the input columns NAMES[N]; 0, or -1 with a one-line reason in PROBLEM. Zero M first. */
int sm_parse(const char *json, char **names, int n, sm_manifold *m, char *problem, size_t size);

/* Free what sm_parse allocated (also after a failure); the struct is zeroed. */
void sm_free(sm_manifold *m);

#define SM_SLOTS_PER_BIN 8

/* The bin of the along column's value V (SM_BINS): the count of interior edges e1..e(K-1) <= v. The bin of v's slot
   (slots of equal width) is the first guess, moved up or down until the edges enclose v, compared in float32 as the
   definition says, so the guess only saves time: with edges about evenly spread it is right or one off. Inline and
   without a search: called once per cell by the range check, where an out-of-line binary search cost about a tenth
   of a network call at batch 4096. A NaN gives bin 0. */
static inline int sm_bin(const sm_manifold *m, float v)
{
    const float s = (v - m->edges[0]) * m->slot_scale;
    int b = m->slot_bin[s > 0 ? (s < (float)(m->n_slots - 1) ? (int)s : m->n_slots - 1) : 0];
    while (b + 1 < m->n_bins && m->edges[b + 1] <= v) b++;
    while (b > 0 && m->edges[b] > v) b--;
    return b;
}

/* The bin (SM_BINS) or the segment and fraction (SM_LINEAR) of the along column's value V (not NaN). */
sm_position sm_locate(const sm_manifold *m, float v);

/* [*LO, *HI] of COLUMN at position P, in double (-inf / inf for a column without bounds). */
void sm_range(const sm_manifold *m, sm_position p, int column, double *lo, double *hi);

#endif /* SURROGATE_MANIFOLD_H */
