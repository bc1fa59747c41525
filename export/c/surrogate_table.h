/*
 * The compiled table backend: a flamelet/progress-variable table on its (Z, Lambda) grid, read from the metadata
 * entry `fpv_table` of a table-backend ONNX file (written by export/table_model.py), and its lookup. No ONNX
 * Runtime here. The entry is a JSON object
 *
 *     {"Z": B, "Lambda": B, "C_min": B, "C_max": B, "values": B, "shape": [nZ, nL, n_outputs], "dtype": "<f4"}
 *
 * where each B is base64 of little-endian float32: Z (nZ, strictly increasing from 0 to 1), Lambda (nL, strictly
 * increasing from 0 to 1), C_min and C_max (nZ) and values (nZ * nL * n_outputs, C order [iZ][iL][output]).
 *
 * The lookup at (Z, C), all in double: z = Z clamped to [Z_0, Z_last]; segment i (Z_i <= z < Z_(i+1), the last
 * node: the last segment), tz its fraction; cmin, cmax interpolated in Z on segment i; Lambda = (C - cmin) / span
 * clamped to [0, 1] (0 when span = cmax - cmin <= 1e-12); segment j and fraction tl on the Lambda axis; the output
 * is bilinear in (tz, tl) between the four grid values. The ONNX graph of the same file computes exactly this.
 */
#ifndef SURROGATE_TABLE_H
#define SURROGATE_TABLE_H

#include <stddef.h>

typedef struct st_table {
    int n_z, n_lambda, n_outputs; /* n_z 0: no table */
    double *z, *lambda;           /* the axes, widened from float32 */
    double *c_min, *c_max;        /* n_z */
    float *values;                /* [n_z][n_lambda][n_outputs] as stored */
} st_table;

/* Parse JSON for a model with N_OUTPUTS outputs; 0, or -1 with a one-line reason in PROBLEM. Zero T first. */
int st_parse(const char *json, int n_outputs, st_table *t, char *problem, size_t size);

/* Free what st_parse allocated (also after a failure); the struct is zeroed. */
void st_free(st_table *t);

/* OUT[n_outputs] = the table at (Z, C) (neither NaN). */
void st_lookup(const st_table *t, double z, double c, double *out);

#endif /* SURROGATE_TABLE_H */
