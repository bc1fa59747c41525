/* surrogate_ort: thermo-surrogate ONNX models through ONNX Runtime's C API; see surrogate_ort.h. */
#include "surrogate_ort.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <onnxruntime_c_api.h>

#include "surrogate_checksum.h"
#include "surrogate_json.h"
#include "surrogate_signature.h"

#define MESSAGE_SIZE 512

typedef struct metadata_entry {
    char *key;
    char *value;
} metadata_entry;

struct surrogate_model {
    const OrtApi *api;
    OrtEnv *env;
    OrtSession *session;
    OrtMemoryInfo *memory;
    surrogate_range_policy policy;

    char *input_tensor, *output_tensor; /* graph tensor names: "inputs" / "outputs" in version 1 */
    int n_inputs, n_outputs;             /* elements per cell: the fixed second axis of each tensor */
    char **input_names, **output_names;
    char **input_units, **output_units;
    double *lo, *hi;             /* trained range per input, from the metadata (-inf, inf when it has none) */
    float *lo_f, *hi_f;          /* the same in float32, the precision of the inputs: checked and clipped to */
    metadata_entry *metadata;
    size_t n_metadata;

    float *scratch;              /* clipped copy of the inputs */
    size_t scratch_size;
    int64_t out_of_range_cells;
    char message[MESSAGE_SIZE];
};

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

static int set_message(surrogate_model *model, int code, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    format_into(model->message, sizeof model->message, format, args);
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
    return -1;
}

static int valid_policy(int policy)
{
    return policy == SURROGATE_RANGE_CLIP || policy == SURROGATE_RANGE_WARN || policy == SURROGATE_RANGE_ERROR;
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
        return -1;
    }
    if (verify_weights(model, path, error, size) || (v1 ? read_flat_keys : read_signature)(model, path, error, size))
        return -1;
    for (int i = 0; i < model->n_inputs; i++) {
        model->lo_f[i] = (float)model->lo[i];
        model->hi_f[i] = (float)model->hi[i];
    }
    return check_tensor(model, 1, model->input_tensor, model->n_inputs, path, error, size) ||
           check_tensor(model, 0, model->output_tensor, model->n_outputs, path, error, size)
               ? -1 : 0;
}

surrogate_model *surrogate_create(const char *model_path, int n_threads, surrogate_range_policy policy,
                                  char *error, size_t error_size)
{
    if (error && error_size) error[0] = '\0';
    if (!model_path) {
        set_error(error, error_size, "surrogate_create: model_path is NULL");
        return NULL;
    }
    if (!valid_policy((int)policy) || n_threads < 0) {
        set_error(error, error_size, "surrogate_create: %s (policy 0 clip, 1 warn, 2 error; threads >= 0)",
                  n_threads < 0 ? "negative thread count" : "unknown range policy");
        return NULL;
    }
    FILE *file = fopen(model_path, "rb");
    if (!file) {
        set_error(error, error_size, "cannot open model file %s: %s", model_path, strerror(errno));
        return NULL;
    }
    fclose(file);

    const OrtApi *api = OrtGetApiBase()->GetApi(ORT_API_VERSION);
    if (!api) {
        set_error(error, error_size,
                  "the ONNX Runtime library (version %s) lacks C API version %d of the headers this program was "
                  "built with: build against headers of that library's version or older",
                  OrtGetApiBase()->GetVersionString(), ORT_API_VERSION);
        return NULL;
    }
    surrogate_model *model = calloc(1, sizeof *model);
    if (!model) {
        set_error(error, error_size, "out of memory");
        return NULL;
    }
    model->api = api;
    model->policy = policy;
    OrtSessionOptions *options = NULL;
    int failed =
        ort_failed(api, api->CreateEnv(ORT_LOGGING_LEVEL_WARNING, "surrogate_ort", &model->env), error, error_size,
                   "cannot start ONNX Runtime") ||
        ort_failed(api, api->CreateSessionOptions(&options), error, error_size, "ONNX Runtime session options") ||
        ort_failed(api, api->SetIntraOpNumThreads(options, n_threads), error, error_size, "intra-op threads") ||
        ort_failed(api, api->SetInterOpNumThreads(options, 1), error, error_size, "inter-op threads") ||
        ort_failed(api, api->SetSessionGraphOptimizationLevel(options, ORT_ENABLE_ALL), error, error_size,
                   "graph optimization level");
    OrtStatus *status = failed ? NULL : api->CreateSession(model->env, model_path, options, &model->session);
    if (status) {
        set_error(error, error_size, "cannot load ONNX model %s: not a readable ONNX file (truncated or corrupt?): %s",
                  model_path, api->GetErrorMessage(status));
        api->ReleaseStatus(status);
        failed = 1;
    }
    if (options) api->ReleaseSessionOptions(options);
    failed = failed ||
             ort_failed(api, api->CreateCpuMemoryInfo(OrtArenaAllocator, OrtMemTypeDefault, &model->memory), error,
                        error_size, "CPU memory info") ||
             check_and_read_model(model, model_path, error, error_size);
    if (failed) {
        surrogate_destroy(model);
        return NULL;
    }
    return model;
}

void surrogate_destroy(surrogate_model *model)
{
    if (!model) return;
    const OrtApi *api = model->api;
    if (model->memory) api->ReleaseMemoryInfo(model->memory);
    if (model->session) api->ReleaseSession(model->session);
    if (model->env) api->ReleaseEnv(model->env);
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
    free(model->scratch);
    free(model);
}

/*
 * Scan the inputs: NaN is an error under every policy; count the cells with an input outside its range and
 * describe the first one in model->message. Returns SURROGATE_OK or SURROGATE_ERR_NAN.
 */
static int scan_ranges(surrogate_model *model, int64_t n_cells, const float *inputs)
{
    const int n = model->n_inputs;
    int64_t bad_cells = 0;
    for (int64_t cell = 0; cell < n_cells; cell++) {
        const float *row = inputs + cell * n;
        int bad = 0;
        for (int i = 0; i < n; i++) {
            float x = row[i];
            if (x >= model->lo_f[i] && x <= model->hi_f[i]) continue;
            if (isnan(x))
                return set_message(model, SURROGATE_ERR_NAN, "input '%s' of cell %lld is NaN", model->input_names[i],
                                   (long long)cell);
            if (!bad_cells && !bad)
                set_message(model, 0, "cell %lld: input '%s' = %.9g is outside its trained range [%.9g, %.9g]",
                            (long long)cell, model->input_names[i], (double)x, model->lo[i], model->hi[i]);
            bad = 1;
        }
        bad_cells += bad;
    }
    model->out_of_range_cells = bad_cells;
    return SURROGATE_OK;
}

static const float *clipped_copy(surrogate_model *model, int64_t n_cells, const float *inputs)
{
    const int n = model->n_inputs;
    size_t count = (size_t)n_cells * (size_t)n;
    if (count > model->scratch_size) {
        float *grown = realloc(model->scratch, count * sizeof *grown);
        if (!grown) return NULL;
        model->scratch = grown;
        model->scratch_size = count;
    }
    for (size_t k = 0; k < count; k++) {
        int i = (int)(k % (size_t)n);
        float x = inputs[k];
        model->scratch[k] = x < model->lo_f[i] ? model->lo_f[i] : (x > model->hi_f[i] ? model->hi_f[i] : x);
    }
    return model->scratch;
}

int surrogate_run(surrogate_model *model, int64_t n_cells, const float *inputs, float *outputs)
{
    if (!model) return SURROGATE_ERR_ARGUMENT;
    model->message[0] = '\0';
    model->out_of_range_cells = 0;
    if (n_cells < 0 || (n_cells > 0 && (!inputs || !outputs)))
        return set_message(model, SURROGATE_ERR_ARGUMENT, "surrogate_run: %s",
                           n_cells < 0 ? "negative cell count" : "inputs or outputs is NULL");
    if (n_cells == 0) return SURROGATE_OK;

    int status = scan_ranges(model, n_cells, inputs);
    if (status != SURROGATE_OK) return status;
    const float *feed = inputs;
    if (model->out_of_range_cells > 0) {
        char first[MESSAGE_SIZE];
        snprintf(first, sizeof first, "%s", model->message);
        const char *verb = model->policy == SURROGATE_RANGE_CLIP ? "clipped" : "outside the trained range";
        set_message(model, 0, "%lld of %lld cells %s; first: %s", (long long)model->out_of_range_cells,
                    (long long)n_cells, verb, first);
        if (model->policy == SURROGATE_RANGE_ERROR) return SURROGATE_ERR_RANGE;
        if (model->policy == SURROGATE_RANGE_WARN) fprintf(stderr, "surrogate: warning: %s\n", model->message);
        if (model->policy == SURROGATE_RANGE_CLIP && !(feed = clipped_copy(model, n_cells, inputs)))
            return set_message(model, SURROGATE_ERR_MEMORY, "out of memory clipping %lld cells", (long long)n_cells);
    }

    const OrtApi *api = model->api;
    const char *in_name = model->input_tensor, *out_name = model->output_tensor;
    const int64_t in_shape[2] = {n_cells, model->n_inputs}, out_shape[2] = {n_cells, model->n_outputs};
    OrtValue *in_value = NULL, *out_value = NULL;
    char error[MESSAGE_SIZE] = "";
    /* Both tensors wrap the caller's memory: ONNX Runtime reads the inputs and writes the outputs in place. */
    int failed =
        ort_failed(api, api->CreateTensorWithDataAsOrtValue(model->memory, (void *)feed,
                                                            (size_t)n_cells * model->n_inputs * sizeof(float),
                                                            in_shape, 2, ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT,
                                                            &in_value), error, sizeof error, "input tensor") ||
        ort_failed(api, api->CreateTensorWithDataAsOrtValue(model->memory, outputs,
                                                            (size_t)n_cells * model->n_outputs * sizeof(float),
                                                            out_shape, 2, ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT,
                                                            &out_value), error, sizeof error, "output tensor") ||
        ort_failed(api, api->Run(model->session, NULL, &in_name, (const OrtValue *const *)&in_value, 1,
                                 &out_name, 1, &out_value), error, sizeof error, "ONNX Runtime Run");
    if (in_value) api->ReleaseValue(in_value);
    if (out_value) api->ReleaseValue(out_value);
    if (failed) return set_message(model, SURROGATE_ERR_RUNTIME, "%s", error);
    return SURROGATE_OK;
}

const char *surrogate_message(const surrogate_model *model)
{
    return model ? model->message : "no model (NULL handle)";
}

int64_t surrogate_out_of_range_cells(const surrogate_model *model)
{
    return model ? model->out_of_range_cells : 0;
}

int surrogate_set_range_policy(surrogate_model *model, surrogate_range_policy policy)
{
    if (!model || !valid_policy((int)policy)) return SURROGATE_ERR_ARGUMENT;
    model->policy = policy;
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

int surrogate_input_range(const surrogate_model *model, int index, double *lo, double *hi)
{
    if (!model || index < 0 || index >= model->n_inputs || !lo || !hi) return SURROGATE_ERR_ARGUMENT;
    *lo = model->lo[index];
    *hi = model->hi[index];
    return SURROGATE_OK;
}

const char *surrogate_metadata(const surrogate_model *model, const char *key)
{
    return model && key ? lookup(model, key) : NULL;
}
