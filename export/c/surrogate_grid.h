/*
 * A compiled N-D table lookup: outputs tabulated on a rectilinear grid of D inputs (a presumed-PDF table over
 * (Z_mean, Z_var_norm, Lambda_mean[, Lambda_var_norm, ...]), or any regular grid of a model's inputs) and
 * interpolated multilinearly, as an LES/RANS solver looks such a table up. No ONNX Runtime here; it is the table
 * side of `surrogate bench infer`'s network-against-table comparison (bench_lookup.c).
 *
 * Grid file (written by export/grid_file.py): one text line
 *
 *     thermo-surrogate-grid 1 D n_1 ... n_D n_outputs\n
 *
 * then the D axes as little-endian float64 (n_1 values, then n_2, ...; each strictly increasing), then the values
 * as little-endian float32 in C order [i_1]...[i_D][output].
 *
 * The lookup at x (D doubles): each x_k clamped to its axis, its segment i_k (binary search: axes need not be
 * uniform) and fraction t_k; the output is the sum over the 2^D corners of the cell of the corner's value times
 * prod_k (t_k or 1 - t_k), in double. SciPy's RegularGridInterpolator(method="linear") computes the same.
 */
#ifndef SURROGATE_GRID_H
#define SURROGATE_GRID_H

#include <stddef.h>

#define SG_MAX_DIMS 8

typedef struct sg_grid {
    int n_dims, n_outputs;      /* n_dims 0: no grid */
    int n[SG_MAX_DIMS];         /* nodes per axis, >= 2 */
    size_t stride[SG_MAX_DIMS]; /* floats between neighbours along each axis */
    double *axes[SG_MAX_DIMS];
    float *values;              /* [n_1]...[n_D][n_outputs] */
    size_t n_values;
} sg_grid;

/* Read the grid file PATH into G (zero it first): 0, or -1 with a one-line reason naming PATH in PROBLEM. */
int sg_read(const char *path, sg_grid *g, char *problem, size_t size);

/* Free what sg_read allocated (also after a failure); the struct is zeroed. */
void sg_free(sg_grid *g);

/* OUT[n_outputs] = the grid interpolated multilinearly at X[n_dims] (each clamped to its axis; no NaN). */
void sg_lookup(const sg_grid *g, const double *x, double *out);

/* Bytes of the grid's arrays (axes and values). */
size_t sg_bytes(const sg_grid *g);

#endif /* SURROGATE_GRID_H */
