/*
 * The `signature` metadata of a thermo-surrogate ONNX model (format version 2), parsed and checked: the graph's
 * input and output tensors with their shapes and the components of their last axis (names, units, valid
 * ranges). The rules are those of the Python reader (export/metadata.py), so a file one side refuses the other
 * refuses too:
 *
 *     {"inputs": [tensor, ...], "outputs": [tensor, ...]}
 *     tensor    = {"name": str, "dtype": "float32", "shape": [axis name (str) or size (int > 0), ...],
 *                  "components": [component, ...]}   one per element of the last axis, or one for all of them
 *     component = {"name": str, "units": str, "range": [min, max]}   range: inputs only, optional, but then in
 *                                                                   every component of the tensor
 *
 * No ONNX Runtime here: surrogate_ort.c checks the result against the graph.
 */
#ifndef SURROGATE_SIGNATURE_H
#define SURROGATE_SIGNATURE_H

#include <stddef.h>
#include <stdint.h>

#define SS_MAX_RANK 8

typedef struct ss_component {
    char *name, *units;
    int has_range;
    double lo, hi;
} ss_component;

typedef struct ss_tensor {
    char *name;
    int rank;
    int64_t dims[SS_MAX_RANK]; /* fixed size, or -1 for a named (dynamic) axis */
    int n_components;
    ss_component *components;
} ss_tensor;

typedef struct ss_signature {
    int n_inputs, n_outputs;
    ss_tensor *inputs, *outputs;
} ss_signature;

/* Parse JSON into SIGNATURE (zero it first); 0 on success, else -1 with a one-line reason in PROBLEM. */
int ss_parse(const char *json, ss_signature *signature, char *problem, size_t size);

/* Free what ss_parse allocated (also after a failed parse); the struct is zeroed. */
void ss_free(ss_signature *signature);

#endif /* SURROGATE_SIGNATURE_H */
