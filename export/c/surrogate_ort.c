/* surrogate_ort: thermo-surrogate ONNX models through ONNX Runtime's C API; see surrogate_ort.h. */
#include "surrogate_ort.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <onnxruntime_c_api.h>

#include "surrogate_checksum.h"
#include "surrogate_json.h"
#include "surrogate_manifold.h"
#include "surrogate_runtime_env.h"
#include "surrogate_signature.h"
#include "surrogate_table.h"

#define MESSAGE_SIZE 512
#define CHUNK_CELLS 16384  /* cells converted per ONNX Runtime call by surrogate_run_arrays */
#define ROW_CHUNK_CELLS 4096  /* row-major cells per ONNX Runtime call and thread */

typedef struct metadata_entry {
    char *key;
    char *value;
} metadata_entry;

/*
 * The last message and count of one thread's last call on one handle. A handle keeps one record per thread that
 * called it, in a list that only grows until surrogate_destroy (records are added with a compare-and-swap and never
 * unlinked), so a thread finds its own without a lock and may use any number of handles. A thread is known by the
 * address of its thread_token (distinct among live threads) and the token's value (unique over the process's life):
 * a record with this thread's address and another token belonged to a thread that has ended and is taken over.
 */
typedef struct thread_call {
    const void *thread;
    uint64_t token;
    int64_t out_of_range_cells;
    char message[MESSAGE_SIZE];
    struct thread_call *next;
} thread_call;

struct surrogate_model {
    const OrtApi *api;
    OrtEnv *env;                 /* the process-wide environment of surrogate_runtime_env.c */
    OrtSession *session;         /* Run is thread-safe: sessions may be shared between threads */
    OrtMemoryInfo *memory;
    atomic_int policy;
    uint64_t id;                 /* unique over the process's life (names the handle a thread ran out of memory on) */
    _Atomic(thread_call *) thread_calls; /* the per-thread records of the last call (see thread_call) */
    int threads, cuda, check_manifold;
    int open_code;               /* surrogate_open: SURROGATE_ERR_MODEL for a valid file the wrapper cannot run */
    sm_manifold manifold;        /* n_bins 0: the metadata has none */
    double *slack;               /* per input: tolerance of the linear manifold check, 1e-6 of the box range */
    st_table table;              /* n_z 0: a network; else the file's table (metadata 'fpv_table') */
    int table_z, table_c;        /* the input columns Z and C of a table */
    int table_graph;             /* 1: evaluate a table file's ONNX graph instead of the compiled lookup */

    char *input_tensor, *output_tensor; /* graph tensor names: "inputs" / "outputs" in version 1 */
    int n_inputs, n_outputs;             /* elements per cell: the fixed second axis of each tensor */
    char **input_names, **output_names;
    char **input_units, **output_units;
    double *lo, *hi;             /* trained range per input, from the metadata (-inf, inf when it has none) */
    float *lo_f, *hi_f;          /* the same in float32, the precision of the inputs: checked and clipped to */
    metadata_entry *metadata;
    size_t n_metadata;

    /* Totals over all threads; nothing else in the handle changes after surrogate_open. */
    atomic_llong calls, cells, out_of_range_cells, off_manifold_cells, refused_calls;
    atomic_int warned;           /* SURROGATE_RANGE_WARN printed its one line */
};

static _Thread_local uint64_t thread_token;    /* 0 until the thread's first call on any handle */
static _Thread_local uint64_t thread_no_record; /* the id of the handle this thread's record could not be made for */
static atomic_ullong next_token = 1, next_id = 1;

/* The calling thread's record on MODEL, or NULL when it has none (it made no call on MODEL yet). */
static thread_call *find_call(const surrogate_model *model)
{
    for (thread_call *call = atomic_load(&((surrogate_model *)model)->thread_calls); call && thread_token;
         call = call->next)
        if (call->thread == (const void *)&thread_token && call->token == thread_token) return call;
    return NULL;
}

/* The calling thread's record on MODEL, made (or taken over from an ended thread) if it has none; NULL only when
   memory ran out. The record belongs to the handle, which is const to its callers: only this thread writes it. */
static thread_call *own_call(const surrogate_model *model)
{
    surrogate_model *handle = (surrogate_model *)model;
    if (!thread_token) thread_token = atomic_fetch_add(&next_token, 1);
    thread_call *call = find_call(model);
    for (thread_call *c = atomic_load(&handle->thread_calls); c && !call; c = c->next)
        if (c->thread == (const void *)&thread_token) { /* this address, another token: that thread has ended */
            c->token = thread_token;
            call = c;
        }
    if (!call && (call = calloc(1, sizeof *call))) {
        call->thread = &thread_token;
        call->token = thread_token;
        call->next = atomic_load(&handle->thread_calls);
        while (!atomic_compare_exchange_weak(&handle->thread_calls, &call->next, call)) {
        }
    }
    thread_no_record = call ? 0 : model->id;
    return call;
}

/* This thread's record for MODEL, cleared for a new call; NULL only when memory ran out. */
static thread_call *begin_call(const surrogate_model *model)
{
    thread_call *call = own_call(model);
    if (call) {
        call->message[0] = '\0';
        call->out_of_range_cells = 0;
    }
    return call;
}

static void format_into(char *buffer, size_t size, const char *format, va_list args)
{
    if (buffer && size) vsnprintf(buffer, size, format, args);
}

static void set_error(char *buffer, size_t size, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    format_into(buffer, size, format, args);
    va_end(args);
}

/* CODE, with the message into CALL (NULL: this thread has no record, memory ran out; the code still says it). */
static int set_message(thread_call *call, int code, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    if (call) format_into(call->message, sizeof call->message, format, args);
    va_end(args);
    return code;
}

static void free_strings(char **strings, int n)
{
    if (!strings) return;
    for (int i = 0; i < n; i++) free(strings[i]);
    free(strings);
}

static char *copy_string(const char *text)
{
    size_t n = strlen(text) + 1;
    char *copy = malloc(n);
    return copy ? memcpy(copy, text, n) : NULL;
}

/* --- ONNX Runtime status handling ---------------------------------------------------------------------- */

/* Nonzero when STATUS is an error; its text goes to ERROR with CONTEXT in front. */
static int ort_failed(const OrtApi *api, OrtStatus *status, char *error, size_t size, const char *context)
{
    if (!status) return 0;
    set_error(error, size, "%s: %s", context, api->GetErrorMessage(status));
    api->ReleaseStatus(status);
    return 1;
}

/* Give memory back to ONNX Runtime's allocator (its status is only ever an error for a NULL allocator). */
static void ort_free(const OrtApi *api, OrtAllocator *allocator, void *pointer)
{
    OrtStatus *status = api->AllocatorFree(allocator, pointer);
    if (status) api->ReleaseStatus(status);
}

/* --- metadata ---------------------------------------------------------------------------------------------- */

static const char *lookup(const surrogate_model *model, const char *key)
{
    for (size_t i = 0; i < model->n_metadata; i++)
        if (strcmp(model->metadata[i].key, key) == 0) return model->metadata[i].value;
    return NULL;
}

static int index_of(char **names, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0) return i;
    return -1;
}

/* Copy every custom metadata entry of the session into the model. */
static int read_metadata(surrogate_model *model, const char *path, char *error, size_t size)
{
    const OrtApi *api = model->api;
    OrtAllocator *allocator;
    OrtModelMetadata *metadata;
    char **keys = NULL;
    int64_t n_keys = 0;
    int failed = ort_failed(api, api->GetAllocatorWithDefaultOptions(&allocator), error, size, path) ||
                 ort_failed(api, api->SessionGetModelMetadata(model->session, &metadata), error, size, path);
    if (failed) return -1;
    failed = ort_failed(api, api->ModelMetadataGetCustomMetadataMapKeys(metadata, allocator, &keys, &n_keys),
                        error, size, path);
    if (!failed && n_keys > 0) {
        model->metadata = calloc((size_t)n_keys, sizeof *model->metadata);
        failed = !model->metadata;
    }
    for (int64_t i = 0; i < n_keys; i++) {
        char *value = NULL;
        if (!failed) {
            failed = ort_failed(api, api->ModelMetadataLookupCustomMetadataMap(metadata, allocator, keys[i], &value),
                                error, size, path);
        }
        if (!failed && value) {
            metadata_entry *entry = &model->metadata[model->n_metadata++];
            entry->key = copy_string(keys[i]);
            entry->value = copy_string(value);
            failed = !entry->key || !entry->value;
        }
        if (value) ort_free(api, allocator, value);
        ort_free(api, allocator, keys[i]);
    }
    if (keys) ort_free(api, allocator, keys);
    api->ReleaseModelMetadata(metadata);
    if (failed && error && !error[0]) set_error(error, size, "%s: out of memory reading the metadata", path);
    return failed ? -1 : 0;
}

/* The metadata value KEY parsed as a JSON list of strings. */
static int parse_name_list(const surrogate_model *model, const char *key, char ***names, int *n,
                           const char *path, char *error, size_t size)
{
    const char *json = lookup(model, key);
    if (!json) {
        set_error(error, size, "%s: metadata '%s' is missing (expected a JSON list of names)", path, key);
        return -1;
    }
    sj_cursor cursor = {json, NULL};
    int capacity = 0;
    *names = NULL;
    *n = 0;
    int more = sj_begin(&cursor, '[');
    while (more == 1) {
        if (*n == capacity) {
            capacity = capacity ? 2 * capacity : 8;
            char **grown = realloc(*names, (size_t)capacity * sizeof **names);
            if (!grown) { cursor.error = "out of memory"; break; }
            *names = grown;
        }
        if (sj_string(&cursor, &(*names)[*n])) break;
        (*n)++;
        more = sj_next(&cursor, ']');
    }
    if (!cursor.error) sj_end(&cursor);
    if (!cursor.error && *n == 0) cursor.error = "the list is empty";
    if (cursor.error) {
        set_error(error, size, "%s: metadata '%s' is not a JSON list of names (%s): %s", path, key, cursor.error,
                  json);
        return -1;
    }
    return 0;
}

/* UNITS[i] = units of NAMES[i] from the metadata KEY, a JSON {name: "units"}; "" where absent. */
static int parse_units(const surrogate_model *model, const char *key, char **names, int n, char ***units,
                       const char *path, char *error, size_t size)
{
    *units = calloc((size_t)n, sizeof **units);
    if (!*units) { set_error(error, size, "%s: out of memory", path); return -1; }
    const char *json = lookup(model, key);
    sj_cursor cursor = {json ? json : "{}", NULL};
    int more = sj_begin(&cursor, '{');
    while (more == 1) {
        char *name = NULL, *value = NULL;
        if (sj_string(&cursor, &name) || sj_expect(&cursor, ':') || sj_string(&cursor, &value)) {
            free(name);
            break;
        }
        int i = index_of(names, n, name);
        free(name);
        if (i >= 0 && !(*units)[i]) (*units)[i] = value;
        else free(value);
        more = sj_next(&cursor, '}');
    }
    if (!cursor.error) sj_end(&cursor);
    for (int i = 0; i < n && !cursor.error; i++)
        if (!(*units)[i] && !((*units)[i] = copy_string(""))) cursor.error = "out of memory";
    if (cursor.error) {
        set_error(error, size, "%s: metadata '%s' is not a JSON {name: units} (%s): %s", path, key, cursor.error,
                  json);
        return -1;
    }
    return 0;
}

/* lo/hi (double, as in the metadata) and lo_f/hi_f (float32, what inputs are compared and clipped to). */
static int allocate_ranges(surrogate_model *model)
{
    const size_t n = (size_t)model->n_inputs;
    model->lo = malloc(n * sizeof *model->lo);
    model->hi = malloc(n * sizeof *model->hi);
    model->lo_f = malloc(n * sizeof *model->lo_f);
    model->hi_f = malloc(n * sizeof *model->hi_f);
    return model->lo && model->hi && model->lo_f && model->hi_f ? 0 : -1;
}

/* Version 1: lo/hi of every input from the metadata input_ranges, a JSON {name: [lo, hi]}. */
static int parse_ranges(surrogate_model *model, const char *path, char *error, size_t size)
{
    const int n = model->n_inputs;
    const char *json = lookup(model, "input_ranges");
    if (!json) {
        set_error(error, size, "%s: metadata 'input_ranges' is missing (expected JSON {name: [min, max]})", path);
        return -1;
    }
    char *seen = calloc((size_t)n, 1);
    sj_cursor cursor = {json, NULL};
    if (allocate_ranges(model) || !seen) cursor.error = "out of memory";
    int more = cursor.error ? -1 : sj_begin(&cursor, '{');
    while (more == 1) {
        char *name = NULL;
        double lo, hi;
        if (sj_string(&cursor, &name) || sj_expect(&cursor, ':') || sj_expect(&cursor, '[') ||
            sj_number(&cursor, &lo) || sj_expect(&cursor, ',') || sj_number(&cursor, &hi) ||
            sj_expect(&cursor, ']')) {
            free(name);
            break;
        }
        int i = index_of(model->input_names, n, name);
        free(name);
        if (i >= 0) {
            model->lo[i] = lo;
            model->hi[i] = hi;
            seen[i] = 1;
        }
        more = sj_next(&cursor, '}');
    }
    if (!cursor.error) sj_end(&cursor);
    if (cursor.error) {
        set_error(error, size, "%s: metadata 'input_ranges' is not a JSON {name: [min, max]} (%s): %s", path,
                  cursor.error, json);
        free(seen);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        if (!seen[i] || !(model->lo[i] <= model->hi[i])) {
            set_error(error, size, "%s: metadata 'input_ranges' has %s for input '%s': %s", path,
                      seen[i] ? "an empty or NaN range" : "no range", model->input_names[i], json);
            free(seen);
            return -1;
        }
    }
    free(seen);
    return 0;
}

/* Version 1: names, units and ranges from the flat keys; tensors 'inputs' and 'outputs'. */
static int read_flat_keys(surrogate_model *model, const char *path, char *error, size_t size)
{
    if (!(model->input_tensor = copy_string("inputs")) || !(model->output_tensor = copy_string("outputs"))) {
        set_error(error, size, "%s: out of memory", path);
        return -1;
    }
    return parse_name_list(model, "inputs", &model->input_names, &model->n_inputs, path, error, size) ||
           parse_name_list(model, "outputs", &model->output_names, &model->n_outputs, path, error, size) ||
           parse_units(model, "input_units", model->input_names, model->n_inputs, &model->input_units, path, error,
                       size) ||
           parse_units(model, "output_units", model->output_names, model->n_outputs, &model->output_units, path,
                       error, size) ||
           parse_ranges(model, path, error, size)
               ? -1 : 0;
}

/* "condition, latent" into BUFFER: the names of N tensors. */
static void list_tensors(char *buffer, size_t size, const ss_tensor *tensors, int n)
{
    size_t used = 0;
    buffer[0] = '\0';
    for (int i = 0; i < n && used < size; i++)
        used += (size_t)snprintf(buffer + used, size - used, "%s%s", i ? ", " : "", tensors[i].name);
}

/*
 * Version 2: the one input (or output) tensor T of the signature becomes the wrapper's columns: float32
 * [batch, n] with n fixed; a one-entry component for all n elements (a field u) gives columns u[0] .. u[n-1].
 */
static int take_tensor(surrogate_model *model, const ss_tensor *t, int is_input, const char *path, char *error,
                       size_t size)
{
    const char *kind = is_input ? "input" : "output";
    if (t->rank != 2 || t->dims[0] >= 0 || t->dims[1] < 1 || t->dims[1] > INT_MAX) {
        set_error(error, size, "%s: %s '%s' has rank %d%s; this wrapper evaluates tensors [batch, n] with a dynamic "
                  "batch axis and a fixed n", path, kind, t->name, t->rank,
                  t->rank == 2 ? " but not the axes [batch, n]" : "");
        return -1;
    }
    const int n = (int)t->dims[1], field = t->n_components == 1 && n > 1;
    char ***names = is_input ? &model->input_names : &model->output_names;
    char ***units = is_input ? &model->input_units : &model->output_units;
    *(is_input ? &model->n_inputs : &model->n_outputs) = n;
    int failed = !(*(is_input ? &model->input_tensor : &model->output_tensor) = copy_string(t->name)) ||
                 !(*names = calloc((size_t)n, sizeof **names)) || !(*units = calloc((size_t)n, sizeof **units)) ||
                 (is_input && allocate_ranges(model));
    for (int i = 0; i < n && !failed; i++) {
        const ss_component *c = &t->components[field ? 0 : i];
        size_t length = strlen(c->name) + 16;
        failed = !((*names)[i] = malloc(length)) || !((*units)[i] = copy_string(c->units));
        if (failed) break;
        snprintf((*names)[i], length, field ? "%s[%d]" : "%s", c->name, i);
        if (is_input) {
            model->lo[i] = c->has_range ? c->lo : -INFINITY;
            model->hi[i] = c->has_range ? c->hi : INFINITY;
        }
    }
    if (failed) set_error(error, size, "%s: out of memory", path);
    return failed ? -1 : 0;
}

/* Version 2: the metadata 'signature', which must describe one input and one output tensor. */
static int read_signature(surrogate_model *model, const char *path, char *error, size_t size)
{
    const char *json = lookup(model, "signature");
    if (!json) {
        set_error(error, size, "%s: metadata 'signature' is missing (format version 2 describes its tensors there)",
                  path);
        return -1;
    }
    ss_signature signature = {0};
    char problem[384], inputs[160], outputs[160];
    int failed = ss_parse(json, &signature, problem, sizeof problem);
    if (failed) {
        set_error(error, size, "%s: metadata 'signature' is not valid: %s", path, problem);
    } else if (signature.n_inputs != 1 || signature.n_outputs != 1) {
        list_tensors(inputs, sizeof inputs, signature.inputs, signature.n_inputs);
        list_tensors(outputs, sizeof outputs, signature.outputs, signature.n_outputs);
        set_error(error, size, "%s: this wrapper evaluates models with one input and one output tensor; this one "
                  "takes %d (%s) and returns %d (%s): call ONNX Runtime directly or use the Python runtime's "
                  "Surrogate.run", path, signature.n_inputs, inputs, signature.n_outputs, outputs);
        model->open_code = SURROGATE_ERR_MODEL;
        failed = 1;
    } else {
        failed = take_tensor(model, &signature.inputs[0], 1, path, error, size) ||
                 take_tensor(model, &signature.outputs[0], 0, path, error, size);
    }
    ss_free(&signature);
    return failed ? -1 : 0;
}

/* --- graph checks -------------------------------------------------------------------------------------------- */

/* The single graph input (or output) must be called EXPECTED, float32 [batch, WIDTH] (WIDTH from the metadata). */
static int check_tensor(surrogate_model *model, int is_input, const char *expected, int width, const char *path,
                        char *error, size_t size)
{
    const OrtApi *api = model->api;
    const char *kind = is_input ? "input" : "output";
    size_t count = 0;
    OrtAllocator *allocator;
    char *name = NULL;
    OrtTypeInfo *type_info = NULL;
    const OrtTensorTypeAndShapeInfo *tensor_info;
    ONNXTensorElementDataType element_type;
    size_t rank = 0;
    int64_t dims[2] = {0, 0};

    if (ort_failed(api, is_input ? api->SessionGetInputCount(model->session, &count)
                                 : api->SessionGetOutputCount(model->session, &count), error, size, path))
        return -1;
    if (count != 1) {
        set_error(error, size, "%s: the graph has %zu %ss; a thermo-surrogate model has one, '%s'", path, count,
                  kind, expected);
        return -1;
    }
    if (ort_failed(api, api->GetAllocatorWithDefaultOptions(&allocator), error, size, path) ||
        ort_failed(api, is_input ? api->SessionGetInputName(model->session, 0, allocator, &name)
                                 : api->SessionGetOutputName(model->session, 0, allocator, &name), error, size, path))
        return -1;
    int wrong_name = strcmp(name, expected) != 0;
    if (wrong_name)
        set_error(error, size, "%s: the graph %s is called '%s'; a thermo-surrogate model calls it '%s'", path,
                  kind, name, expected);
    ort_free(api, allocator, name);
    if (wrong_name) return -1;

    int failed =
        ort_failed(api, is_input ? api->SessionGetInputTypeInfo(model->session, 0, &type_info)
                                 : api->SessionGetOutputTypeInfo(model->session, 0, &type_info), error, size, path) ||
        ort_failed(api, api->CastTypeInfoToTensorInfo(type_info, &tensor_info), error, size, path) ||
        (tensor_info == NULL && (set_error(error, size, "%s: the graph %s is not a tensor", path, kind), 1)) ||
        ort_failed(api, api->GetTensorElementType(tensor_info, &element_type), error, size, path) ||
        ort_failed(api, api->GetDimensionsCount(tensor_info, &rank), error, size, path);
    if (!failed && rank == 2) failed = ort_failed(api, api->GetDimensions(tensor_info, dims, 2), error, size, path);
    if (type_info) api->ReleaseTypeInfo(type_info);
    if (failed) return -1;
    if (element_type != ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT || rank != 2 || (dims[1] >= 0 && dims[1] != width)) {
        set_error(error, size,
                  "%s: the graph %s '%s' is %s of rank %zu with %lld columns; the metadata names %d, "
                  "so float32 [batch, %d] was expected",
                  path, kind, expected, element_type == ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT ? "float32" : "not float32",
                  rank, (long long)dims[1], width, width);
        return -1;
    }
    return 0;
}

/* --- public API ---------------------------------------------------------------------------------------------- */

const char *surrogate_runtime_version(void)
{
    return OrtGetApiBase()->GetVersionString();
}

int surrogate_parse_range_policy(const char *name)
{
    if (!name) return -1;
    if (strcmp(name, "clip") == 0) return SURROGATE_RANGE_CLIP;
    if (strcmp(name, "warn") == 0) return SURROGATE_RANGE_WARN;
    if (strcmp(name, "error") == 0) return SURROGATE_RANGE_ERROR;
    if (strcmp(name, "count") == 0) return SURROGATE_RANGE_COUNT;
    return -1;
}

static int valid_policy(int policy)
{
    return policy >= SURROGATE_RANGE_CLIP && policy <= SURROGATE_RANGE_COUNT;
}

/* The whole file at PATH in a malloc'd buffer (*DATA, *SIZE bytes); -1 with a message in ERROR. */
static int read_file(const char *path, unsigned char **data, size_t *size, char *error, size_t error_size)
{
    errno = 0;
    FILE *file = fopen(path, "rb");
    long length = -1;
    if (file && fseek(file, 0, SEEK_END) == 0 && (length = ftell(file)) >= 0 && fseek(file, 0, SEEK_SET) == 0) {
        *data = malloc(length ? (size_t)length : 1);
        *size = *data ? fread(*data, 1, (size_t)length, file) : 0;
    }
    int failed = !file || length < 0 || !*data || *size != (size_t)length;
    if (failed) {
        set_error(error, error_size, "%s: cannot read the file to verify its weights checksum: %s", path,
                  errno ? strerror(errno) : "short read");
        free(*data);
        *data = NULL;
    }
    if (file) fclose(file);
    return failed ? -1 : 0;
}

/* When the metadata records weights_sha256, the file's graph must hash to it (see surrogate_checksum.h). */
static int verify_weights(const surrogate_model *model, const char *path, char *error, size_t size)
{
    const char *recorded = lookup(model, SC_WEIGHTS_KEY);
    if (!recorded) return 0; /* written before the checksum existed */
    unsigned char *data = NULL;
    size_t n_bytes = 0;
    char actual[65];
    if (read_file(path, &data, &n_bytes, error, size)) return -1;
    int mismatch = sc_weights_sha256(data, n_bytes, actual) || strcmp(recorded, actual) != 0;
    free(data);
    if (mismatch) set_error(error, size, "%s: weights checksum mismatch (file corrupted after export?)", path);
    return mismatch ? -1 : 0;
}

/* The metadata 'manifold' when present, and the slack of its linear form's check. */
static int read_manifold(surrogate_model *model, const char *path, char *error, size_t size)
{
    const char *json = lookup(model, "manifold");
    char problem[256];
    if (!json) return 0;
    if (sm_parse(json, model->input_names, model->n_inputs, &model->manifold, problem, sizeof problem)) {
        set_error(error, size, "%s: metadata 'manifold' is not valid: %s", path, problem);
        return -1;
    }
    if (!(model->slack = malloc((size_t)model->n_inputs * sizeof *model->slack))) {
        set_error(error, size, "%s: out of memory", path);
        return -1;
    }
    for (int i = 0; i < model->n_inputs; i++) model->slack[i] = 1e-6 * (model->hi[i] - model->lo[i]);
    return 0;
}

/* The metadata 'fpv_table' of a table-backend file, when present: the model must take exactly Z and C, and the
   table must give its outputs. A flaw is SURROGATE_ERR_MODEL with one line. */
static int read_table(surrogate_model *model, const char *path, char *error, size_t size)
{
    const char *json = lookup(model, "fpv_table");
    char problem[256];
    if (!json) return 0;
    model->table_z = index_of(model->input_names, model->n_inputs, "Z");
    model->table_c = index_of(model->input_names, model->n_inputs, "C");
    int failed = model->n_inputs != 2 || model->table_z < 0 || model->table_c < 0;
    if (failed)
        snprintf(problem, sizeof problem, "the model's inputs must be exactly the columns Z and C, not %d columns",
                 model->n_inputs);
    else
        failed = st_parse(json, model->n_outputs, &model->table, problem, sizeof problem);
    if (failed) {
        set_error(error, size, "%s: metadata 'fpv_table' is not valid: %s", path, problem);
        model->open_code = SURROGATE_ERR_MODEL;
    }
    return failed ? -1 : 0;
}

/* Format name and version, the weights' checksum, then names, units and ranges from the metadata, then the
   graph's tensors. */
static int check_and_read_model(surrogate_model *model, const char *path, char *error, size_t size)
{
    if (read_metadata(model, path, error, size)) return -1;
    const char *format = lookup(model, "format"), *version = lookup(model, "format_version");
    if (!format || strcmp(format, SURROGATE_FORMAT) != 0) {
        set_error(error, size,
                  "%s is not a thermo-surrogate model: metadata 'format' is %s%s%s, expected '%s' "
                  "(write one with `surrogate export`)",
                  path, format ? "'" : "missing", format ? format : "", format ? "'" : "", SURROGATE_FORMAT);
        return -1;
    }
    int v1 = version && strcmp(version, "1") == 0;
    if (!v1 && (!version || strcmp(version, SURROGATE_FORMAT_VERSION) != 0)) {
        set_error(error, size, "%s: metadata 'format_version' is '%s'; this wrapper reads versions 1 to %s", path,
                  version ? version : "(missing)", SURROGATE_FORMAT_VERSION);
        model->open_code = SURROGATE_ERR_MODEL;
        return -1;
    }
    if (verify_weights(model, path, error, size) || (v1 ? read_flat_keys : read_signature)(model, path, error, size))
        return -1;
    for (int i = 0; i < model->n_inputs; i++) {
        model->lo_f[i] = (float)model->lo[i];
        model->hi_f[i] = (float)model->hi[i];
    }
    if (read_manifold(model, path, error, size) || read_table(model, path, error, size)) return -1;
    return check_tensor(model, 1, model->input_tensor, model->n_inputs, path, error, size) ||
           check_tensor(model, 0, model->output_tensor, model->n_outputs, path, error, size)
               ? -1 : 0;
}

/* --- opening a model ------------------------------------------------------------------------------------------ */

void surrogate_options_init(surrogate_options *options)
{
    if (!options) return;
    *options = (surrogate_options){.n_threads = SURROGATE_THREADS_AUTO, .policy = SURROGATE_RANGE_CLIP,
                                   .spinning = 0, .global_thread_pool = 0, .cuda = 0, .cuda_device = 0,
                                   .check_manifold = 1, .table_graph = 0};
}

int surrogate_default_threads(void) { return se_default_threads(); }

int surrogate_max_threads(void) { return SURROGATE_THREADS_PER_CPU * se_cpus_online(); }

const char *surrogate_status_text(int status)
{
    static const char *const texts[] = {"ok", "bad argument", "NaN input", "input out of range",
                                        "ONNX Runtime failure", "out of memory", "bad model file",
                                        "model not supported by this wrapper", "execution provider unavailable",
                                        "thread pool conflict"};
    return status >= 0 && status < (int)(sizeof texts / sizeof *texts) ? texts[status] : "unknown status";
}

/* The CUDA execution provider on DEVICE appended to OPTIONS (CPU stays as the fallback for other nodes). */
static int append_cuda(const OrtApi *api, OrtSessionOptions *options, int device, char *error, size_t size)
{
    OrtCUDAProviderOptionsV2 *cuda = NULL;
    char id[16];
    snprintf(id, sizeof id, "%d", device);
    const char *keys[] = {"device_id"}, *values[] = {id};
    OrtStatus *status = api->CreateCUDAProviderOptions(&cuda);
    if (!status) status = api->UpdateCUDAProviderOptions(cuda, keys, values, 1);
    if (!status) status = api->SessionOptionsAppendExecutionProvider_CUDA_V2(options, cuda);
    if (cuda) api->ReleaseCUDAProviderOptions(cuda);
    if (!status) return 0;
    set_error(error, size, "the CUDA execution provider is not available (%s): it needs an ONNX Runtime library "
              "built with CUDA (onnxruntime-gpu) and a visible GPU; open with cuda = 0 for the CPU",
              api->GetErrorMessage(status));
    api->ReleaseStatus(status);
    return -1;
}

/* Session options for OPT: threads (or the global pool), spinning, optimization level, CUDA. */
static int session_options(const OrtApi *api, const surrogate_options *opt, int n_threads, OrtSessionOptions **out,
                           int *code, char *error, size_t size)
{
    OrtSessionOptions *options = NULL;
    const char *spin = opt->spinning ? "1" : "0";
    int failed = ort_failed(api, api->CreateSessionOptions(&options), error, size, "ONNX Runtime session options");
    if (!failed && opt->global_thread_pool)
        failed = ort_failed(api, api->DisablePerSessionThreads(options), error, size, "global thread pool");
    if (!failed && !opt->global_thread_pool)
        failed = ort_failed(api, api->SetIntraOpNumThreads(options, n_threads), error, size, "intra-op threads") ||
                 ort_failed(api, api->SetInterOpNumThreads(options, 1), error, size, "inter-op threads") ||
                 ort_failed(api, api->AddSessionConfigEntry(options, "session.intra_op.allow_spinning", spin), error,
                            size, "thread spinning") ||
                 ort_failed(api, api->AddSessionConfigEntry(options, "session.inter_op.allow_spinning", spin), error,
                            size, "thread spinning");
    if (!failed)
        failed = ort_failed(api, api->SetSessionGraphOptimizationLevel(options, ORT_ENABLE_ALL), error, size,
                            "graph optimization level");
    *code = failed ? SURROGATE_ERR_RUNTIME : SURROGATE_OK;
    if (!failed && opt->cuda && append_cuda(api, options, opt->cuda_device, error, size)) {
        failed = 1;
        *code = SURROGATE_ERR_PROVIDER;
    }
    if (failed && options) {
        api->ReleaseSessionOptions(options);
        options = NULL;
    }
    *out = options;
    return failed ? -1 : 0;
}

/* The arguments of CALLER (surrogate_open or surrogate_create) that concern no file: 0, or -1 with a message
   naming CALLER, the argument and what it may be. */
static int check_arguments(const char *caller, const char *model_path, const surrogate_options *opt, char *error,
                           size_t error_size)
{
    const int most = surrogate_max_threads();
    if (!model_path) {
        set_error(error, error_size, "%s: model_path is NULL", caller);
        return -1;
    }
    if (!valid_policy((int)opt->policy)) {
        set_error(error, error_size, "%s: range policy %d is unknown; expected 0 (clip), 1 (warn), 2 (error) or 3 "
                  "(count)", caller, (int)opt->policy);
        return -1;
    }
    if (opt->n_threads < SURROGATE_THREADS_AUTO || opt->n_threads > most) {
        set_error(error, error_size, "%s: n_threads = %d is out of range; expected SURROGATE_THREADS_AUTO (-1), 0 "
                  "(ONNX Runtime's choice) or 1..%d (%d per CPU of this machine's %d)", caller, opt->n_threads, most,
                  SURROGATE_THREADS_PER_CPU, most / SURROGATE_THREADS_PER_CPU);
        return -1;
    }
    return 0;
}

static surrogate_model *open_model(const char *caller, const char *model_path, const surrogate_options *opt,
                                   int *code, char *error, size_t error_size)
{
    *code = SURROGATE_ERR_ARGUMENT;
    if (check_arguments(caller, model_path, opt, error, error_size)) return NULL;
    FILE *file = fopen(model_path, "rb");
    if (!file) {
        *code = SURROGATE_ERR_FILE;
        set_error(error, error_size, "cannot open model file %s: %s", model_path, strerror(errno));
        return NULL;
    }
    fclose(file);

    const OrtApi *api = OrtGetApiBase()->GetApi(ORT_API_VERSION);
    if (!api) {
        *code = SURROGATE_ERR_RUNTIME;
        set_error(error, error_size,
                  "the ONNX Runtime library (version %s) lacks C API version %d of the headers this program was "
                  "built with: build against headers of that library's version or older",
                  OrtGetApiBase()->GetVersionString(), ORT_API_VERSION);
        return NULL;
    }
    surrogate_model *model = calloc(1, sizeof *model);
    if (!model) {
        *code = SURROGATE_ERR_MEMORY;
        set_error(error, error_size, "out of memory");
        return NULL;
    }
    model->api = api;
    model->id = atomic_fetch_add(&next_id, 1);
    atomic_init(&model->policy, (int)opt->policy);
    model->threads = opt->n_threads == SURROGATE_THREADS_AUTO ? se_default_threads() : opt->n_threads;
    model->cuda = opt->cuda != 0;
    model->check_manifold = opt->check_manifold != 0;
    model->table_graph = opt->table_graph != 0;
    OrtSessionOptions *options = NULL;
    model->env = se_acquire(api, opt->global_thread_pool, model->threads, opt->spinning, code, error, error_size);
    int failed = !model->env || session_options(api, opt, model->threads, &options, code, error, error_size);
    if (opt->global_thread_pool) model->threads = -1;
    OrtStatus *status = failed ? NULL : api->CreateSession(model->env, model_path, options, &model->session);
    if (status) {
        set_error(error, error_size, "cannot load ONNX model %s: not a readable ONNX file (truncated or corrupt?): %s",
                  model_path, api->GetErrorMessage(status));
        api->ReleaseStatus(status);
        *code = SURROGATE_ERR_FILE;
        failed = 1;
    }
    if (options) api->ReleaseSessionOptions(options);
    if (!failed && ort_failed(api, api->CreateCpuMemoryInfo(OrtArenaAllocator, OrtMemTypeDefault, &model->memory),
                              error, error_size, "CPU memory info")) {
        *code = SURROGATE_ERR_RUNTIME;
        failed = 1;
    }
    if (!failed && check_and_read_model(model, model_path, error, error_size)) {
        *code = model->open_code ? model->open_code : SURROGATE_ERR_FILE;
        failed = 1;
    }
    if (failed) {
        surrogate_destroy(model);
        return NULL;
    }
    *code = SURROGATE_OK;
    return model;
}

surrogate_model *surrogate_open(const char *model_path, const surrogate_options *options, int *status, char *error,
                                size_t error_size)
{
    surrogate_options defaults;
    surrogate_options_init(&defaults);
    int code;
    if (error && error_size) error[0] = '\0';
    surrogate_model *model = open_model("surrogate_open", model_path, options ? options : &defaults, &code, error,
                                        error_size);
    if (status) *status = code;
    return model;
}

surrogate_model *surrogate_create(const char *model_path, int n_threads, surrogate_range_policy policy,
                                  char *error, size_t error_size)
{
    surrogate_options options;
    surrogate_options_init(&options);
    options.n_threads = n_threads;
    options.policy = policy;
    options.spinning = 1; /* ONNX Runtime's default, as this call always had */
    if (error && error_size) error[0] = '\0';
    int code;
    return open_model("surrogate_create", model_path, &options, &code, error, error_size);
}

void surrogate_destroy(surrogate_model *model)
{
    if (!model) return;
    for (thread_call *call = atomic_load(&model->thread_calls), *next; call; call = next) {
        next = call->next;
        free(call);
    }
    const OrtApi *api = model->api;
    if (model->memory) api->ReleaseMemoryInfo(model->memory);
    if (model->session) api->ReleaseSession(model->session);
    if (model->env) se_release(api);
    free(model->input_tensor);
    free(model->output_tensor);
    free_strings(model->input_names, model->n_inputs);
    free_strings(model->output_names, model->n_outputs);
    free_strings(model->input_units, model->input_units ? model->n_inputs : 0);
    free_strings(model->output_units, model->output_units ? model->n_outputs : 0);
    for (size_t i = 0; i < model->n_metadata; i++) {
        free(model->metadata[i].key);
        free(model->metadata[i].value);
    }
    free(model->metadata);
    free(model->lo);
    free(model->hi);
    free(model->lo_f);
    free(model->hi_f);
    sm_free(&model->manifold);
    free(model->slack);
    st_free(&model->table);
    free(model);
}

int surrogate_threads(const surrogate_model *model) { return model ? model->threads : 0; }
int surrogate_uses_cuda(const surrogate_model *model) { return model ? model->cuda : 0; }

/* --- checking cells -------------------------------------------------------------------------------------------- */

/* Whether X is NaN, from its bits: isnan() and x != x are folded to 0 by compilers in fast-math modes (-Ofast,
   -ffast-math, Intel's default), which solvers are often built with, and a NaN would then be evaluated. */
static int is_nan(double x)
{
    uint64_t bits;
    memcpy(&bits, &x, sizeof bits);
    return (bits & 0x7ff0000000000000ull) == 0x7ff0000000000000ull && (bits & 0x000fffffffffffffull) != 0;
}

enum { CELL_BOX = 1, CELL_MANIFOLD = 2, CELL_NAN = 4 };

/* The first input of ROW (inside the box) off the manifold bounds at its along input, or -1. Bins: the bin's bounds
   compared in float32. Linear: the interpolated bounds in double, widened by the slack (1e-6 of the box range), so
   a cell clipped onto a bound (rounded to float32) is not flagged again. */
static int off_manifold(const surrogate_model *model, const float *row)
{
    const sm_manifold *m = &model->manifold;
    const int n = model->n_inputs;
    if (m->interpolation == SM_BINS) {
        const size_t bin = (size_t)sm_bin(m, row[m->along]) * (size_t)n;
        for (int i = 0; i < n; i++)
            if (!(row[i] >= m->lo_f[bin + i] && row[i] <= m->hi_f[bin + i])) return i;
        return -1;
    }
    const sm_position p = sm_locate(m, row[m->along]);
    for (int i = 0; i < n; i++) {
        double lo, hi;
        if (!m->bounded[i]) continue;
        sm_range(m, p, i, &lo, &hi);
        if ((double)row[i] < lo - model->slack[i] || (double)row[i] > hi + model->slack[i]) return i;
    }
    return -1;
}

/* What is wrong with ROW (n_inputs floats): CELL_NAN, CELL_BOX (an input outside its range), CELL_MANIFOLD (inside
   the box, outside the manifold bounds of its bin) or 0; *COLUMN names the first offending input. */
static int check_row(const surrogate_model *model, const float *row, int manifold, int *column)
{
    const int n = model->n_inputs;
    int flags = 0;
    for (int i = 0; i < n; i++) {
        float x = row[i];
        if (is_nan(x)) { /* first: under fast-math the range test below may let a NaN through */
            *column = i;
            return CELL_NAN;
        }
        if (x >= model->lo_f[i] && x <= model->hi_f[i]) continue;
        if (!flags) *column = i;
        flags = CELL_BOX;
    }
    if (flags || !manifold) return flags;
    *column = off_manifold(model, row);
    return *column >= 0 ? CELL_MANIFOLD : 0;
}

/* ROW clamped to the box, then onto the manifold bounds at its (clamped) along input. */
static void clip_row(const surrogate_model *model, float *row, int manifold)
{
    const int n = model->n_inputs;
    for (int i = 0; i < n; i++)
        row[i] = row[i] < model->lo_f[i] ? model->lo_f[i] : (row[i] > model->hi_f[i] ? model->hi_f[i] : row[i]);
    if (!manifold) return;
    const sm_manifold *m = &model->manifold;
    if (m->interpolation == SM_BINS) { /* the bin's float32 bounds, as the Python runtime clips */
        const size_t bin = (size_t)sm_bin(m, row[m->along]) * (size_t)n;
        for (int i = 0; i < n; i++) {
            const float lo = m->lo_f[bin + i], hi = m->hi_f[bin + i];
            row[i] = row[i] < lo ? lo : (row[i] > hi ? hi : row[i]);
        }
        return;
    }
    const sm_position p = sm_locate(m, row[m->along]); /* linear: clamped in double, stored as float32 */
    for (int i = 0; i < n; i++) {
        double lo, hi;
        if (!m->bounded[i]) continue;
        sm_range(m, p, i, &lo, &hi);
        const double x = row[i];
        row[i] = (float)(x < lo ? lo : (x > hi ? hi : x));
    }
}

/* The rows of one call: caller's row-major float32 (ROWS), or column arrays gathered chunk by chunk. */
typedef struct cells {
    int64_t n;
    const float *rows;              /* row-major float32, or NULL */
    const surrogate_array *columns; /* one per input when ROWS is NULL */
} cells;

static double read_value(const surrogate_array *a, int64_t cell)
{
    const int64_t k = cell * (a->stride ? a->stride : 1);
    return a->type == SURROGATE_FLOAT64 ? ((const double *)a->data)[k] : (double)((const float *)a->data)[k];
}

/* Rows FIRST .. FIRST+COUNT-1 as float32 rows: a pointer into the caller's rows, or gathered into BUFFER. */
static const float *rows_at(const surrogate_model *model, const cells *in, int64_t first, int64_t count,
                            float *buffer, int copy)
{
    const int n = model->n_inputs;
    if (in->rows && !copy) return in->rows + first * n;
    if (in->rows) {
        memcpy(buffer, in->rows + first * n, (size_t)count * (size_t)n * sizeof *buffer);
        return buffer;
    }
    for (int i = 0; i < n; i++)
        for (int64_t c = 0; c < count; c++) buffer[c * n + i] = (float)read_value(&in->columns[i], first + c);
    return buffer;
}

/* 1 when every cell of ROWS is a number inside the box and, with MANIFOLD (bins), inside its bin's bounds: the
   common case, tested with no branch per value (NaN found from its bits, as is_nan does), so that a clean batch
   costs little beside the network (the per-value checks of check_row cost about 5 % of a call at batch 4096);
   otherwise scan's per-cell checks find, count and describe the offending cells. */
static int rows_clean(const surrogate_model *model, const float *rows, int64_t count, int manifold)
{
    const int n = model->n_inputs;
    const sm_manifold *m = &model->manifold;
    unsigned bad = 0;
    for (int64_t c = 0; c < count; c++) {
        const float *row = rows + c * n;
        for (int i = 0; i < n; i++) {
            uint32_t bits;
            memcpy(&bits, &row[i], sizeof bits);
            bad |= (unsigned)((bits & 0x7fffffffu) > 0x7f800000u) | (unsigned)(row[i] < model->lo_f[i]) |
                   (unsigned)(row[i] > model->hi_f[i]);
        }
        if (!manifold) continue;
        const size_t bin = (size_t)sm_bin(m, row[m->along]) * (size_t)n;
        for (int i = 0; i < n; i++)
            bad |= (unsigned)(row[i] < m->lo_f[bin + i]) | (unsigned)(row[i] > m->hi_f[bin + i]);
    }
    return !bad;
}

typedef struct scan_result {
    int64_t box, manifold; /* cells out of the box; cells in the box, off the manifold */
} scan_result;

/* Every cell checked (NaN is an error under every policy); the first offending cell described in CALL. */
static int scan(const surrogate_model *model, thread_call *call, const cells *in, int manifold, float *buffer,
                int64_t chunk, scan_result *result)
{
    const int n = model->n_inputs;
    const int quick = !manifold || model->manifold.interpolation == SM_BINS; /* rows_clean knows these bounds */
    for (int64_t first = 0; first < in->n; first += chunk) {
        const int64_t count = in->n - first < chunk ? in->n - first : chunk;
        const float *rows = rows_at(model, in, first, count, buffer, 0);
        if (quick && rows_clean(model, rows, count, manifold)) continue;
        for (int64_t c = 0; c < count; c++) {
            const float *row = rows + c * n;
            int column = 0, flags = check_row(model, row, manifold, &column);
            if (!flags) continue;
            const long long cell = (long long)(first + c);
            if (flags == CELL_NAN)
                return set_message(call, SURROGATE_ERR_NAN, "input '%s' of cell %lld is NaN",
                                   model->input_names[column], cell);
            if (!result->box && !result->manifold && flags == CELL_BOX)
                set_message(call, 0, "cell %lld: input '%s' = %.9g is outside its trained range [%.9g, %.9g]", cell,
                            model->input_names[column], (double)row[column], model->lo[column], model->hi[column]);
            if (!result->box && !result->manifold && flags == CELL_MANIFOLD) {
                const sm_manifold *m = &model->manifold;
                double lo, hi;
                sm_range(m, sm_locate(m, row[m->along]), column, &lo, &hi);
                set_message(call, 0, "cell %lld: input '%s' = %.9g is off the trained manifold: [%.9g, %.9g] at "
                            "%s = %.9g", cell, model->input_names[column], (double)row[column], lo, hi,
                            model->input_names[m->along], (double)row[m->along]);
            }
            if (flags == CELL_BOX) result->box++;
            else result->manifold++;
        }
    }
    return SURROGATE_OK;
}

/* --- running --------------------------------------------------------------------------------------------------- */

/* OUTPUTS[count * n_outputs] = graph(INPUTS[count * n_inputs]); both wrap memory ONNX Runtime reads / writes. */
static int ort_run(surrogate_model *model, thread_call *call, int64_t count, const float *inputs, float *outputs)
{
    const OrtApi *api = model->api;
    const char *in_name = model->input_tensor, *out_name = model->output_tensor;
    const int64_t in_shape[2] = {count, model->n_inputs}, out_shape[2] = {count, model->n_outputs};
    OrtValue *in_value = NULL, *out_value = NULL;
    char error[MESSAGE_SIZE] = "";
    int failed =
        ort_failed(api, api->CreateTensorWithDataAsOrtValue(model->memory, (void *)inputs,
                                                            (size_t)count * model->n_inputs * sizeof(float),
                                                            in_shape, 2, ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT,
                                                            &in_value), error, sizeof error, "input tensor") ||
        ort_failed(api, api->CreateTensorWithDataAsOrtValue(model->memory, outputs,
                                                            (size_t)count * model->n_outputs * sizeof(float),
                                                            out_shape, 2, ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT,
                                                            &out_value), error, sizeof error, "output tensor") ||
        ort_failed(api, api->Run(model->session, NULL, &in_name, (const OrtValue *const *)&in_value, 1,
                                 &out_name, 1, &out_value), error, sizeof error, "ONNX Runtime Run");
    if (in_value) api->ReleaseValue(in_value);
    if (out_value) api->ReleaseValue(out_value);
    return failed ? set_message(call, SURROGATE_ERR_RUNTIME, "%s", error) : SURROGATE_OK;
}

/* VALUE into cell CELL of A: as it is into a float64 array, rounded into a float32 one. */
static void write_value(const surrogate_array *a, int64_t cell, double value)
{
    const int64_t k = cell * (a->stride ? a->stride : 1);
    if (a->type == SURROGATE_FLOAT64) ((double *)a->data)[k] = value;
    else ((float *)a->data)[k] = (float)value;
}

/* Whether calls evaluate the compiled table lookup (a table file, unless table_graph asks for its ONNX graph). */
static int compiled_table(const surrogate_model *model)
{
    return model->table.n_z > 0 && !model->table_graph;
}

/* The compiled lookup of COUNT rows (already checked and clipped) into row-major float32 OUT_ROWS, or else into
   the output columns at cells FIRST...: computed in double, so float64 columns get the double results. */
static int table_run(const surrogate_model *model, thread_call *call, int64_t count, const float *rows,
                     float *out_rows, const surrogate_array *out_columns, int64_t first)
{
    const int n_in = model->n_inputs, n_out = model->n_outputs;
    double small[64], *values = n_out <= 64 ? small : malloc((size_t)n_out * sizeof *values);
    if (!values) return set_message(call, SURROGATE_ERR_MEMORY, "out of memory for %d outputs", n_out);
    for (int64_t c = 0; c < count; c++) {
        const float *row = rows + c * n_in;
        st_lookup(&model->table, row[model->table_z], row[model->table_c], values);
        for (int j = 0; j < n_out; j++) {
            if (out_rows) out_rows[c * n_out + j] = (float)values[j];
            else if (out_columns[j].data) write_value(&out_columns[j], first + c, values[j]);
        }
    }
    if (values != small) free(values);
    return SURROGATE_OK;
}

/* COUNT rows evaluated by the backend into OUT_ROWS (row-major float32) or else the output columns at cells
   FIRST...; the network writes into RESULTS (COUNT * n_outputs floats of this call) for columns. */
static int evaluate(surrogate_model *model, thread_call *call, int64_t count, const float *rows, float *out_rows,
                    const surrogate_array *out_columns, int64_t first, float *results)
{
    if (compiled_table(model)) return table_run(model, call, count, rows, out_rows, out_columns, first);
    const int n_out = model->n_outputs;
    int status = ort_run(model, call, count, rows, out_rows ? out_rows : results);
    for (int j = 0; j < n_out && !out_rows && status == SURROGATE_OK; j++)
        if (out_columns[j].data)
            for (int64_t c = 0; c < count; c++) write_value(&out_columns[j], first + c, results[c * n_out + j]);
    return status;
}

/*
 * The one path of every run call: check all cells (so ERROR refuses before anything is evaluated), apply the
 * policy, evaluate. Row-major float32 in and out (OUT_ROWS) without clipping runs on the caller's memory; any
 * other case converts in chunks through buffers of this call (nothing of the handle is written but its atomic
 * counters, so concurrent calls are safe).
 */
static int run_cells(surrogate_model *model, thread_call *call, const cells *in, float *out_rows,
                     const surrogate_array *out_columns, int policy)
{
    const int n_in = model->n_inputs, n_out = model->n_outputs;
    const int manifold = model->check_manifold && model->manifold.n_bins > 0;
    if (policy == SURROGATE_RANGE_DEFAULT) policy = atomic_load(&model->policy);
    /* Row-major callers: chunks of ROW_CHUNK_CELLS per thread, whose activations stay in cache (one call on 1e5
       cells ran at 0.6 of the rate at 4096 on one thread); columns: bounded conversion chunks. */
    const int64_t chunk = in->rows && out_rows ? ROW_CHUNK_CELLS * (int64_t)(model->threads > 0 ? model->threads : 1)
                                               : CHUNK_CELLS;
    const int gathers = !in->rows || !out_rows;
    const size_t rows = (size_t)(in->n < chunk ? in->n : chunk);
    float *buffer = gathers ? malloc(rows * (size_t)n_in * sizeof *buffer) : NULL;
    const int scatters = !out_rows && !compiled_table(model); /* the network's results go to output columns */
    float *results = scatters ? malloc(rows * (size_t)n_out * sizeof *results) : NULL;
    if ((gathers && !buffer) || (scatters && !results)) {
        free(buffer);
        free(results);
        return set_message(call, SURROGATE_ERR_MEMORY, "out of memory for %lld cells", (long long)in->n);
    }
    atomic_fetch_add(&model->calls, 1);
    scan_result found = {0, 0};
    int status = scan(model, call, in, manifold, buffer, chunk, &found);
    const int64_t bad = found.box + found.manifold;
    call->out_of_range_cells = bad;
    atomic_fetch_add(&model->out_of_range_cells, found.box);
    atomic_fetch_add(&model->off_manifold_cells, found.manifold);
    if (status == SURROGATE_OK && bad > 0) {
        char first[MESSAGE_SIZE];
        snprintf(first, sizeof first, "%s", call->message);
        set_message(call, 0, "%lld of %lld cells %s; first: %s", (long long)bad, (long long)in->n,
                    policy == SURROGATE_RANGE_CLIP ? "clipped" : "outside the trained range", first);
        if (policy == SURROGATE_RANGE_ERROR) status = SURROGATE_ERR_RANGE;
        if (policy == SURROGATE_RANGE_WARN && !atomic_exchange(&model->warned, 1))
            fprintf(stderr, "surrogate: warning: %s (printed once per model; surrogate_get_counters counts all)\n",
                    call->message);
    }
    const int clip = bad > 0 && policy == SURROGATE_RANGE_CLIP;
    if (clip && !buffer && !(buffer = malloc(rows * (size_t)n_in * sizeof *buffer)))
        status = set_message(call, SURROGATE_ERR_MEMORY, "out of memory clipping %lld cells", (long long)in->n);
    for (int64_t first = 0; first < in->n && status == SURROGATE_OK; first += chunk) {
        const int64_t count = in->n - first < chunk ? in->n - first : chunk;
        const float *rows = rows_at(model, in, first, count, buffer, clip);
        if (clip)
            for (int64_t c = 0; c < count; c++) clip_row(model, buffer + c * n_in, manifold);
        status = evaluate(model, call, count, rows, out_rows ? out_rows + first * n_out : NULL, out_columns, first,
                          results);
    }
    if (status == SURROGATE_OK) atomic_fetch_add(&model->cells, in->n);
    else if (status == SURROGATE_ERR_RANGE || status == SURROGATE_ERR_NAN) atomic_fetch_add(&model->refused_calls, 1);
    free(buffer);
    free(results);
    return status;
}

int surrogate_run(surrogate_model *model, int64_t n_cells, const float *inputs, float *outputs)
{
    if (!model) return SURROGATE_ERR_ARGUMENT;
    thread_call *call = begin_call(model);
    if (!call) return SURROGATE_ERR_MEMORY;
    if (n_cells < 0 || (n_cells > 0 && (!inputs || !outputs)))
        return set_message(call, SURROGATE_ERR_ARGUMENT, "surrogate_run: %s",
                           n_cells < 0 ? "negative cell count" : "inputs or outputs is NULL");
    if (n_cells == 0) return SURROGATE_OK;
    cells in = {n_cells, inputs, NULL};
    return run_cells(model, call, &in, outputs, NULL, SURROGATE_RANGE_DEFAULT);
}

static int valid_array(const surrogate_array *a, int optional)
{
    return (a->data || optional) && a->stride >= 0 && (a->type == SURROGATE_FLOAT32 || a->type == SURROGATE_FLOAT64);
}

int surrogate_run_arrays(surrogate_model *model, int64_t n_cells, const surrogate_array *inputs,
                         const surrogate_array *outputs, int policy)
{
    if (!model) return SURROGATE_ERR_ARGUMENT;
    thread_call *call = begin_call(model);
    if (!call) return SURROGATE_ERR_MEMORY;
    if (n_cells < 0 || !inputs || !outputs || (policy != SURROGATE_RANGE_DEFAULT && !valid_policy(policy)))
        return set_message(call, SURROGATE_ERR_ARGUMENT, "surrogate_run_arrays: %s",
                           n_cells < 0 ? "negative cell count" : !inputs || !outputs ? "inputs or outputs is NULL"
                                                                                   : "unknown range policy");
    for (int i = 0; i < model->n_inputs; i++)
        if (!valid_array(&inputs[i], 0))
            return set_message(call, SURROGATE_ERR_ARGUMENT, "surrogate_run_arrays: input %d ('%s') has no data, a "
                               "negative stride or an unknown type", i, model->input_names[i]);
    for (int j = 0; j < model->n_outputs; j++)
        if (!valid_array(&outputs[j], 1))
            return set_message(call, SURROGATE_ERR_ARGUMENT, "surrogate_run_arrays: output %d ('%s') has a negative "
                               "stride or an unknown type", j, model->output_names[j]);
    if (n_cells == 0) return SURROGATE_OK;
    cells in = {n_cells, NULL, inputs};
    return run_cells(model, call, &in, NULL, outputs, policy);
}

/* Column views of row-major (STRIDE = columns) or per-field (STRIDE 1) double arrays. */
static int double_views(surrogate_model *model, int64_t n_cells, const double *const *in, double *const *out,
                        const double *in_rows, double *out_rows, int policy)
{
    const int n_in = model->n_inputs, n_out = model->n_outputs;
    surrogate_array *views = malloc((size_t)(n_in + n_out) * sizeof *views);
    if (!views) return SURROGATE_ERR_MEMORY;
    for (int i = 0; i < n_in; i++)
        views[i] = (surrogate_array){(void *)(in_rows ? in_rows + i : in[i]), SURROGATE_FLOAT64, in_rows ? n_in : 1};
    for (int j = 0; j < n_out; j++)
        views[n_in + j] = (surrogate_array){out_rows ? out_rows + j : out[j], SURROGATE_FLOAT64, out_rows ? n_out : 1};
    int status = surrogate_run_arrays(model, n_cells, views, views + n_in, policy);
    free(views);
    return status;
}

int surrogate_run_double(surrogate_model *model, int64_t n_cells, const double *inputs, double *outputs)
{
    if (!model) return SURROGATE_ERR_ARGUMENT;
    if (n_cells < 0 || (n_cells > 0 && (!inputs || !outputs)))
        return set_message(begin_call(model), SURROGATE_ERR_ARGUMENT, "surrogate_run_double: %s",
                           n_cells < 0 ? "negative cell count" : "inputs or outputs is NULL");
    if (n_cells == 0) return surrogate_run(model, 0, NULL, NULL);
    return double_views(model, n_cells, NULL, NULL, inputs, outputs, SURROGATE_RANGE_DEFAULT);
}

int surrogate_run_fields(surrogate_model *model, int64_t n_cells, const double *const *inputs,
                         double *const *outputs)
{
    if (!model) return SURROGATE_ERR_ARGUMENT;
    if (!inputs || !outputs)
        return set_message(begin_call(model), SURROGATE_ERR_ARGUMENT, "surrogate_run_fields: inputs or outputs is "
                           "NULL");
    return double_views(model, n_cells, inputs, outputs, NULL, NULL, SURROGATE_RANGE_DEFAULT);
}

const char *surrogate_message(const surrogate_model *model)
{
    if (!model) return "no model (NULL handle)";
    const thread_call *call = find_call(model);
    if (call) return call->message;
    return thread_no_record == model->id ? "out of memory for this thread's record of its last call" : "";
}

int64_t surrogate_out_of_range_cells(const surrogate_model *model)
{
    const thread_call *call = model ? find_call(model) : NULL;
    return call ? call->out_of_range_cells : 0;
}

int surrogate_get_counters(const surrogate_model *model, surrogate_counters *counters)
{
    if (!model || !counters) return SURROGATE_ERR_ARGUMENT;
    counters->calls = atomic_load(&model->calls);
    counters->cells = atomic_load(&model->cells);
    counters->out_of_range_cells = atomic_load(&model->out_of_range_cells);
    counters->off_manifold_cells = atomic_load(&model->off_manifold_cells);
    counters->refused_calls = atomic_load(&model->refused_calls);
    return SURROGATE_OK;
}

void surrogate_reset_counters(surrogate_model *model)
{
    if (!model) return;
    atomic_store(&model->calls, 0);
    atomic_store(&model->cells, 0);
    atomic_store(&model->out_of_range_cells, 0);
    atomic_store(&model->off_manifold_cells, 0);
    atomic_store(&model->refused_calls, 0);
    atomic_store(&model->warned, 0);
}

int surrogate_set_range_policy(surrogate_model *model, surrogate_range_policy policy)
{
    if (!model || !valid_policy((int)policy)) return SURROGATE_ERR_ARGUMENT;
    atomic_store(&model->policy, (int)policy);
    return SURROGATE_OK;
}

int surrogate_n_inputs(const surrogate_model *model) { return model ? model->n_inputs : 0; }
int surrogate_n_outputs(const surrogate_model *model) { return model ? model->n_outputs : 0; }

static const char *entry(char **strings, int n, int index)
{
    return strings && index >= 0 && index < n ? strings[index] : NULL;
}

const char *surrogate_input_name(const surrogate_model *model, int index)
{
    return model ? entry(model->input_names, model->n_inputs, index) : NULL;
}

const char *surrogate_output_name(const surrogate_model *model, int index)
{
    return model ? entry(model->output_names, model->n_outputs, index) : NULL;
}

const char *surrogate_input_units(const surrogate_model *model, int index)
{
    return model ? entry(model->input_units, model->n_inputs, index) : NULL;
}

const char *surrogate_output_units(const surrogate_model *model, int index)
{
    return model ? entry(model->output_units, model->n_outputs, index) : NULL;
}

int surrogate_input_index(const surrogate_model *model, const char *name)
{
    return model && name ? index_of(model->input_names, model->n_inputs, name) : -1;
}

int surrogate_output_index(const surrogate_model *model, const char *name)
{
    return model && name ? index_of(model->output_names, model->n_outputs, name) : -1;
}

int surrogate_input_range(const surrogate_model *model, int index, double *lo, double *hi)
{
    if (!model || index < 0 || index >= model->n_inputs || !lo || !hi) return SURROGATE_ERR_ARGUMENT;
    *lo = model->lo[index];
    *hi = model->hi[index];
    return SURROGATE_OK;
}

int surrogate_manifold_along(const surrogate_model *model)
{
    return model && model->manifold.n_bins > 0 ? model->manifold.along : -1;
}

int surrogate_manifold_range(const surrogate_model *model, int index, double along, double *lo, double *hi)
{
    if (!model) return SURROGATE_ERR_ARGUMENT;
    /* a refusal says why in the thread's message on MODEL; the count of its last run stays */
    if (surrogate_manifold_along(model) < 0)
        return set_message(own_call(model), SURROGATE_ERR_ARGUMENT, "surrogate_manifold_range: the model has no "
                           "manifold bounds (no metadata 'manifold')");
    if (is_nan(along))
        return set_message(own_call(model), SURROGATE_ERR_ARGUMENT, "surrogate_manifold_range: along is NaN; "
                           "expected a value of input '%s'", model->input_names[model->manifold.along]);
    if (index < 0 || index >= model->n_inputs || !lo || !hi)
        return set_message(own_call(model), SURROGATE_ERR_ARGUMENT, "surrogate_manifold_range: %s",
                           !lo || !hi ? "lo or hi is NULL" : "index is not an input column");
    surrogate_input_range(model, index, lo, hi);
    const sm_manifold *m = &model->manifold;
    double m_lo, m_hi;
    sm_range(m, sm_locate(m, (float)along), index, &m_lo, &m_hi);
    if (isfinite(m_lo)) *lo = m_lo;
    if (isfinite(m_hi)) *hi = m_hi;
    return SURROGATE_OK;
}

const char *surrogate_backend(const surrogate_model *model)
{
    return model && model->table.n_z > 0 ? "table" : "network";
}

const char *surrogate_metadata(const surrogate_model *model, const char *key)
{
    return model && key ? lookup(model, key) : NULL;
}
