/*
 * The one piecewise-linear locator shared by the linear manifold (surrogate_manifold.c) and the table lookup
 * (surrogate_table.c): X clamped to the increasing nodes A[0..N-1] (N >= 2), the segment i with A_i <= x < A_(i+1)
 * (x = A_(N-1): the last segment, N - 2) and the fraction of x on it, in double. A binary search, since the axes
 * (Z of a flamelet table) are not uniform; written without data-dependent branches (a conditional move per step), so
 * cells scattered over the domain do not pay a mispredicted branch per step.
 */
#ifndef SURROGATE_SEGMENT_H
#define SURROGATE_SEGMENT_H

static inline int ss_segment(const double *a, int n, double x, double *t)
{
    x = x < a[0] ? a[0] : (x > a[n - 1] ? a[n - 1] : x);
    const double *base = a; /* invariant: base[0] <= x, the answer among base[0 .. len-1] */
    int len = n - 1;
    while (len > 1) {
        const int half = len / 2;
        base = base[half] <= x ? base + half : base;
        len -= half;
    }
    const int i = (int)(base - a);
    *t = (x - a[i]) / (a[i + 1] - a[i]);
    return i;
}

#endif /* SURROGATE_SEGMENT_H */
