/*
 * surrogate_ort: a thin C wrapper that runs a thermo-surrogate ONNX model through ONNX Runtime's C API.
 *
 * A solver loads the model once, then calls surrogate_run every time step with its cells:
 *
 *     char error[512];
 *     surrogate_model *model = surrogate_create("flamelet.onnx", 1, SURROGATE_RANGE_CLIP, error, sizeof error);
 *     if (!model) { fprintf(stderr, "%s\n", error); exit(1); }
 *     if (surrogate_run(model, n_cells, inputs, outputs) != SURROGATE_OK)
 *         fprintf(stderr, "%s\n", surrogate_message(model));
 *     surrogate_destroy(model);
 *
 * Arrays are row-major float32: inputs[cell * n_inputs + i], outputs[cell * n_outputs + j], in the order of the
 * names in the model's metadata (physical values and units: the scaling lives inside the graph). A Fortran
 * array x(n_inputs, n_cells) has exactly this layout. ONNX Runtime writes the outputs straight into the
 * caller's array; inputs are copied only when the clip policy has to clip a cell.
 *
 * One model handle serves one thread at a time (it keeps a scratch buffer and the last message); give each
 * thread or MPI rank its own handle.
 */
#ifndef SURROGATE_ORT_H
#define SURROGATE_ORT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * The ONNX metadata this wrapper reads (written by `surrogate export`): format versions "1" up to
 * SURROGATE_FORMAT_VERSION. Version 2 describes the graph's tensors in the JSON entry `signature` (names, shapes,
 * components with units and ranges); version 1 (older files) in flat entries `inputs`, `outputs`, `input_units`,
 * `output_units`, `input_ranges` for the tensors `inputs` and `outputs`. Both give the same view here.
 */
#define SURROGATE_FORMAT "thermo-surrogate-onnx"
#define SURROGATE_FORMAT_VERSION "2"

/*
 * What surrogate_run does with a cell whose input lies outside the trained range of the metadata. The range is
 * compared in float32, the precision of the inputs (as the Python runtime does): x < (float)min or x > (float)max.
 */
typedef enum surrogate_range_policy {
    SURROGATE_RANGE_CLIP = 0,  /* clamp the input to (float)min / (float)max and run; described in the message */
    SURROGATE_RANGE_WARN = 1,  /* run unchanged; one warning line on stderr per call with such cells */
    SURROGATE_RANGE_ERROR = 2  /* run nothing and return SURROGATE_ERR_RANGE */
} surrogate_range_policy;

/* Status codes of surrogate_run; surrogate_message(model) says what went wrong. */
enum {
    SURROGATE_OK = 0,
    SURROGATE_ERR_ARGUMENT = 1, /* NULL pointer or negative cell count */
    SURROGATE_ERR_NAN = 2,      /* an input is NaN (under every policy) */
    SURROGATE_ERR_RANGE = 3,    /* an input is outside its range under SURROGATE_RANGE_ERROR */
    SURROGATE_ERR_RUNTIME = 4,  /* ONNX Runtime failed */
    SURROGATE_ERR_MEMORY = 5
};

typedef struct surrogate_model surrogate_model;

/*
 * Load MODEL_PATH and check that it is a thermo-surrogate model: metadata format and version; one graph input and
 * one graph output tensor, float32 [batch, n] with n fixed, whose names and widths match the metadata; names,
 * units and a range per input component (version 2: a tensor may declare no ranges, then they are -inf..inf).
 * When the metadata records `weights_sha256` (files of `surrogate export` since it exists), the graph's bytes must
 * hash to it, else the file is refused ("weights checksum mismatch (file corrupted after export?)").
 * A version 2 model with several input or output tensors (e.g. a CVAE decoder: condition + latent) is refused
 * with a message saying so. The columns are the components of the tensors' last axis; a field (one component
 * `u` for all n elements, e.g. a time-stepper's state on a grid) gives the names u[0] .. u[n-1].
 * N_THREADS: ONNX Runtime intra-op threads (1 per MPI rank is the usual choice; 0 lets ONNX Runtime pick).
 * Returns NULL on failure with a one-line message in ERROR (ERROR_SIZE bytes, may be NULL/0).
 */
surrogate_model *surrogate_create(const char *model_path, int n_threads, surrogate_range_policy policy,
                                  char *error, size_t error_size);

/* Free everything the model holds; NULL is fine. */
void surrogate_destroy(surrogate_model *model);

/*
 * outputs[n_cells * n_outputs] = model(inputs[n_cells * n_inputs]), with the range policy applied.
 * Returns SURROGATE_OK or an error code; surrogate_message(model) then holds the reason.
 */
int surrogate_run(surrogate_model *model, int64_t n_cells, const float *inputs, float *outputs);

/* The last error or warning of this model ("" when the last call was clean). */
const char *surrogate_message(const surrogate_model *model);

/* Cells of the last surrogate_run with at least one input outside its range (clipped, warned or refused). */
int64_t surrogate_out_of_range_cells(const surrogate_model *model);

int surrogate_set_range_policy(surrogate_model *model, surrogate_range_policy policy);
/* "clip" | "warn" | "error" -> policy; returns -1 for anything else. */
int surrogate_parse_range_policy(const char *name);

/* Metadata. Indices start at 0; an index out of bounds gives NULL / a non-zero return. */
int surrogate_n_inputs(const surrogate_model *model);
int surrogate_n_outputs(const surrogate_model *model);
const char *surrogate_input_name(const surrogate_model *model, int index);
const char *surrogate_output_name(const surrogate_model *model, int index);
const char *surrogate_input_units(const surrogate_model *model, int index);  /* "" when not given */
const char *surrogate_output_units(const surrogate_model *model, int index); /* "" when not given */
int surrogate_input_range(const surrogate_model *model, int index, double *lo, double *hi);
/* Any metadata value as stored (e.g. "table_sha256", "toolkit_version", "model", "weighting"), or NULL. */
const char *surrogate_metadata(const surrogate_model *model, const char *key);
/* The ONNX Runtime library's version string, e.g. "1.32.0". */
const char *surrogate_runtime_version(void);

#ifdef __cplusplus
}
#endif

#endif /* SURROGATE_ORT_H */
