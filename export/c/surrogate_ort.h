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
 * Threads: every call may be made concurrently on one handle from several threads (OpenMP, pthreads). A call keeps
 * its scratch memory to itself, the counters are atomic, and surrogate_message / surrogate_out_of_range_cells
 * report the calling thread's own last call on that handle: each handle keeps a record per thread that called it
 * (freed by surrogate_destroy), so a thread may use any number of handles. ONNX Runtime's Run is thread-safe on one
 * session. Only surrogate_destroy must not race with other calls on the same handle.
 *
 * Solver-grade calls (below the classic API): surrogate_open with surrogate_options (rank-aware threads, no
 * spinning, a global thread pool shared between handles, the CUDA execution provider, manifold check) and an
 * integer status; surrogate_run_arrays for float32 or float64 arrays with any stride, one array per field
 * (structure of arrays) or row-major, only the outputs asked for, and a range policy per call; counters of
 * out-of-range cells (surrogate_get_counters) instead of per-call prints.
 *
 * Two backends behind the same calls: a network (the ONNX graph, run by ONNX Runtime) or, for a table-backend file
 * (export/table_model.py: metadata 'fpv_table'), the thermochemistry table itself, evaluated by a compiled bilinear
 * (Z, Lambda) lookup with the same inputs, outputs, ranges, policies, counters and thread safety. A solver switches
 * between table and surrogate by the file it opens; surrogate_backend says which it got.
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
    SURROGATE_RANGE_WARN = 1,  /* run unchanged; one warning line on stderr, the first time on this handle only (the
                                  rest is counted: surrogate_get_counters) */
    SURROGATE_RANGE_ERROR = 2, /* run nothing and return SURROGATE_ERR_RANGE */
    SURROGATE_RANGE_COUNT = 3  /* run unchanged, silently; counted in surrogate_get_counters */
} surrogate_range_policy;

/* In surrogate_run_arrays: use the handle's policy. */
#define SURROGATE_RANGE_DEFAULT (-1)

/* Status codes of surrogate_run; surrogate_message(model) says what went wrong. */
enum {
    SURROGATE_OK = 0,
    SURROGATE_ERR_ARGUMENT = 1, /* NULL pointer, negative cell count, thread count or policy out of range, NaN */
    SURROGATE_ERR_NAN = 2,      /* an input is NaN (under every policy) */
    SURROGATE_ERR_RANGE = 3,    /* an input is outside its range under SURROGATE_RANGE_ERROR */
    SURROGATE_ERR_RUNTIME = 4,  /* ONNX Runtime failed */
    SURROGATE_ERR_MEMORY = 5,
    SURROGATE_ERR_FILE = 6,     /* surrogate_open: the file is missing, unreadable, not ONNX, corrupt or forged */
    SURROGATE_ERR_MODEL = 7,    /* surrogate_open: a valid file this wrapper cannot evaluate (tensors, version) */
    SURROGATE_ERR_PROVIDER = 8, /* surrogate_open: the execution provider asked for is not available */
    SURROGATE_ERR_THREADS = 9   /* surrogate_open: the global thread pool conflicts with an earlier handle */
};

/* A short fixed text for a status code ("ok", "bad argument", ...), never NULL. */
const char *surrogate_status_text(int status);

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
 * N_THREADS: ONNX Runtime intra-op threads: 1..surrogate_max_threads() (1 per MPI rank is the usual choice), 0
 * (ONNX Runtime picks) or SURROGATE_THREADS_AUTO (surrogate_default_threads()); anything else is refused with
 * "surrogate_create: n_threads = N is out of range; expected ...".
 * Returns NULL on failure with a one-line message in ERROR (ERROR_SIZE bytes, may be NULL/0), naming
 * surrogate_create for a bad argument.
 */
surrogate_model *surrogate_create(const char *model_path, int n_threads, surrogate_range_policy policy,
                                  char *error, size_t error_size);

/* Options of surrogate_open; fill with surrogate_options_init, then change what you need. */
#define SURROGATE_THREADS_AUTO (-1)
/* The most intra-op threads a handle may ask for, per CPU online (surrogate_max_threads): more only thrash, and a
   typo's million made ONNX Runtime start them all (memory grew, surrogate_open never returned). */
#define SURROGATE_THREADS_PER_CPU 4
typedef struct surrogate_options {
    int n_threads;                 /* intra-op threads: SURROGATE_THREADS_AUTO (default: surrogate_default_threads),
                                      0 (ONNX Runtime picks: all cores) or 1..surrogate_max_threads(); anything
                                      else is SURROGATE_ERR_ARGUMENT */
    surrogate_range_policy policy; /* default SURROGATE_RANGE_CLIP */
    int spinning;                  /* 0 (default): idle threads sleep at once, so they leave the cores to the solver;
                                      1: they spin a while (lower latency, burns CPU between calls) */
    int global_thread_pool;        /* 1: run on one thread pool shared by all handles opened with 1 (sized by the
                                      first of them: its n_threads and spinning); 0 (default): a pool per handle */
    int cuda;                      /* 1: ONNX Runtime's CUDA execution provider (needs an onnxruntime-gpu library
                                      and a GPU), CPU for what it cannot run; 0 (default): CPU only */
    int cuda_device;               /* CUDA device id (default 0) */
    int check_manifold;            /* 1 (default): also check the manifold bounds of the metadata when it has them
                                      (see surrogate_manifold_along); 0: the box ranges only */
    int table_graph;               /* table-backend files only. 0 (default): the compiled lookup; 1: run the file's
                                      ONNX graph (the same lookup) through ONNX Runtime instead, for parity checks */
} surrogate_options;

void surrogate_options_init(surrogate_options *options);

/*
 * The intra-op threads of SURROGATE_THREADS_AUTO, the first that applies (an explicit n_threads comes before all):
 *   1. 1 when called inside an OpenMP parallel region (omp_in_parallel() of the program's OpenMP runtime): each
 *      thread of the region runs its own calls, a pool per thread would oversubscribe the cores;
 *   2. OMP_NUM_THREADS when set (its first entry, "4,2" gives 4; at most surrogate_max_threads());
 *   3. a fair share of the node between MPI ranks, as the Python runtime's default_threads(): the CPUs this process
 *      may run on (its affinity mask) divided by the ranks on this node (Open MPI, MPICH, Slurm, PALS environment
 *      variables); 1 when only the world size (> 1) is known; all available CPUs without MPI.
 * The Python runtime's order is the same without step 1.
 */
int surrogate_default_threads(void);

/* The most intra-op threads n_threads may ask for: SURROGATE_THREADS_PER_CPU per CPU online on this machine. */
int surrogate_max_threads(void);

/*
 * surrogate_create with options (NULL: surrogate_options_init's defaults). Returns NULL on failure with a status
 * code in *STATUS (may be NULL): SURROGATE_ERR_FILE, _MODEL, _PROVIDER, _THREADS, _ARGUMENT, _MEMORY or _RUNTIME,
 * and a one-line message in ERROR (naming surrogate_open and the option for a bad argument, e.g. "surrogate_open:
 * n_threads = 1000000 is out of range; expected SURROGATE_THREADS_AUTO (-1), 0 (ONNX Runtime's choice) or 1..8 (4
 * per CPU of this machine's 2)").
 */
surrogate_model *surrogate_open(const char *model_path, const surrogate_options *options, int *status, char *error,
                                size_t error_size);

/* What the handle runs with: intra-op threads (0: ONNX Runtime's choice; -1: the global pool), CUDA or not. */
int surrogate_threads(const surrogate_model *model);
int surrogate_uses_cuda(const surrogate_model *model);

/*
 * "table" for a table-backend file (metadata 'fpv_table': the model takes Z and C and every run call evaluates the
 * compiled lookup of surrogate_table.h, unless surrogate_options.table_graph runs its ONNX graph), "network"
 * otherwise (and for NULL). The lookup is computed in double from the float32 (checked, clipped) inputs: float32
 * outputs are those values rounded, float64 outputs (surrogate_run_double, _fields, float64 arrays) the doubles.
 * It runs on the calling thread (n_threads and the CUDA option concern the network only).
 */
const char *surrogate_backend(const surrogate_model *model);

/* Free everything the model holds; NULL is fine. */
void surrogate_destroy(surrogate_model *model);

/*
 * outputs[n_cells * n_outputs] = model(inputs[n_cells * n_inputs]), with the range policy applied.
 * Returns SURROGATE_OK or an error code; surrogate_message(model) then holds the reason.
 */
int surrogate_run(surrogate_model *model, int64_t n_cells, const float *inputs, float *outputs);

/*
 * One array per input or output column for surrogate_run_arrays: the value of cell k is at
 * ((TYPE *)data)[k * stride]. stride 1 (or 0) is a contiguous field array (structure of arrays); a row-major
 * [cell][column] array of n columns gives column j as {base + j, type, n}. An output with data NULL is not
 * written ("only these outputs"; the network still computes every output).
 */
typedef enum surrogate_type { SURROGATE_FLOAT32 = 0, SURROGATE_FLOAT64 = 1 } surrogate_type;
typedef struct surrogate_array {
    void *data;
    surrogate_type type;
    int64_t stride;
} surrogate_array;

/*
 * The general call: INPUTS[n_inputs] -> OUTPUTS[n_outputs] for N_CELLS cells, under POLICY for this call only
 * (SURROGATE_RANGE_DEFAULT: the handle's). Values are converted to float32 (the model's precision) in chunks of
 * cells, so memory stays bounded; float64 outputs are the float32 results widened.
 */
int surrogate_run_arrays(surrogate_model *model, int64_t n_cells, const surrogate_array *inputs,
                         const surrogate_array *outputs, int policy);

/* Row-major float64: outputs[cell * n_outputs + j] = model(inputs[cell * n_inputs + i]). */
int surrogate_run_double(surrogate_model *model, int64_t n_cells, const double *inputs, double *outputs);

/* One contiguous float64 array per field (OpenFOAM, Code_Saturne): inputs[i][cell] -> outputs[j][cell];
   outputs[j] NULL skips output j. */
int surrogate_run_fields(surrogate_model *model, int64_t n_cells, const double *const *inputs,
                         double *const *outputs);

/* Index of the input / output column NAME, or -1. */
int surrogate_input_index(const surrogate_model *model, const char *name);
int surrogate_output_index(const surrogate_model *model, const char *name);

/* The last error or warning of the calling thread's last call on this model ("" when it was clean or there was
   none), on any number of handles per thread. A refused surrogate_manifold_range replaces it with its reason. */
const char *surrogate_message(const surrogate_model *model);

/* Cells of the calling thread's last run on this model with an input outside its range or off the manifold
   (clipped, warned, counted or refused). */
int64_t surrogate_out_of_range_cells(const surrogate_model *model);

/* Totals over every run on this handle since it was opened or reset, from all threads. */
typedef struct surrogate_counters {
    int64_t calls;              /* run calls that evaluated or refused cells */
    int64_t cells;              /* cells evaluated */
    int64_t out_of_range_cells; /* cells with an input outside its box range */
    int64_t off_manifold_cells; /* cells inside the box but outside the manifold bounds */
    int64_t refused_calls;      /* calls refused under SURROGATE_RANGE_ERROR or for NaN */
} surrogate_counters;
int surrogate_get_counters(const surrogate_model *model, surrogate_counters *counters);
void surrogate_reset_counters(surrogate_model *model);

/*
 * Manifold bounds (metadata 'manifold'): the range of each other input as a function of one input (e.g. Z):
 * C_min(Z)..C_max(Z), the chi range in Z. Two forms (surrogate_manifold.h): "bins" (`surrogate export` from the
 * training rows: a range per bin of Z, compared in float32) and "linear" (a [lo, hi] per node of Z, interpolated
 * linearly in double between nodes, compared with a slack of 1e-6 of the input's box range; table files).
 * A cell inside the box but outside these is off the manifold: counted, clipped onto them under CLIP, refused
 * under ERROR. surrogate_manifold_along is the along input's index, or -1 when the model has no manifold bounds.
 * surrogate_manifold_range gives input INDEX's range at the value ALONG (taken as float32, as a cell's input) of
 * the along input (its box range when the input is the along one or has no bounds). SURROGATE_ERR_ARGUMENT without
 * manifold data, for a NaN ALONG (found from its bits, so also in fast-math builds), an index that is no input or a
 * NULL LO/HI; surrogate_message then says which ("surrogate_manifold_range: along is NaN; expected a value of input
 * 'Z'"), LO and HI are not written, and surrogate_out_of_range_cells keeps the count of the thread's last run.
 */
int surrogate_manifold_along(const surrogate_model *model);
int surrogate_manifold_range(const surrogate_model *model, int index, double along, double *lo, double *hi);

int surrogate_set_range_policy(surrogate_model *model, surrogate_range_policy policy);
/* "clip" | "warn" | "error" | "count" -> policy; returns -1 for anything else. */
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
