/*
 * Cell files for the C and C++ examples: CSV with one header line of names (the model's input or output names,
 * in the model's order) and one cell per line; values written with 9 significant digits, so float32 values
 * survive the round trip exactly. Also a generator of cells inside the trained ranges and a metadata printout.
 */
#ifndef SURROGATE_EXAMPLE_IO_H
#define SURROGATE_EXAMPLE_IO_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "surrogate_ort.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Read PATH: header must name the model's inputs in order; *cells (malloc'd) holds n_cells x n_inputs floats. */
int cells_read_csv(const char *path, const surrogate_model *model, float **cells, int64_t *n_cells, char *error,
                   size_t error_size);

/* Write N_CELLS rows of the model's outputs to PATH (through PATH.tmp and a rename, so never half a file). */
int cells_write_csv(const char *path, const surrogate_model *model, const float *outputs, int64_t n_cells,
                    char *error, size_t error_size);

/* N_CELLS cells drawn inside the trained ranges (log-uniform for a positive range spanning > 2 decades), and inside
   the manifold bounds when the model has them (the binned input first, then the others in its bin's bounds). */
void cells_generate(const surrogate_model *model, int64_t n_cells, uint64_t seed, float *cells);

/* Names, units, ranges and the provenance entries of the metadata. */
void surrogate_print_info(const surrogate_model *model, const char *path, FILE *stream);

#ifdef __cplusplus
}
#endif

#endif /* SURROGATE_EXAMPLE_IO_H */
