/*
 * bench_lookup: the network against compiled table lookups, and the wrapper against a raw ONNX Runtime session, in
 * one process, on one thread of calls (what `surrogate bench infer` runs).
 *
 *   bench_lookup NETWORK.onnx --batches 1,100,4096 [--threads T] [--min-time S] [--table TABLE.onnx]
 *                [--grid GRID.bin]... [--seed S]
 *
 * Engines, each called with the same batch of cells:
 *   wrapper   surrogate_run on NETWORK.onnx (surrogate_open: T intra-op threads, clip, manifold check on)
 *   raw       ONNX Runtime's C API on the same file with the same session options (tensors over the caller's
 *             arrays, Run), no checks: the floor of what a wrapper can cost
 *   table     surrogate_run on a table-backend file (its compiled (Z, Lambda) lookup)
 *   grid<k>   sg_lookup (surrogate_grid.h) on the k-th grid file, cells drawn uniformly in the grid's box
 *
 * Every call takes the next cells of its engine's pool (at least POOL_CELLS cells, drawn once), so no call finds
 * the table cells of the one before in the caches. Per batch size the engines are called in turn, one call each
 * per round (in a new random order each round), until every engine has run for --min-time seconds (at least 3
 * rounds after one untimed warm-up round), so load from elsewhere and the caches left by the engine before hit all
 * alike.
 * Output, one line per grid and one per engine and batch:
 *   grid index=K dims=D bytes=B file=PATH
 *   bench engine=E batch=B calls=N seconds=S cells_per_second=X best_cells_per_second=Y median_cells_per_second=M
 * (X: all cells over all timed calls, the mean call; Y: the fastest call; M: the median call, which calls that the
 * system preempted on a shared machine do not move). Exit status 0, 1 failure, 2 bad usage.
 */
#define _POSIX_C_SOURCE 199309L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <onnxruntime_c_api.h>

#include "example_io.h"
#include "surrogate_grid.h"
#include "surrogate_ort.h"

#define MAX_BATCHES 32
#define MAX_ENGINES (3 + SG_MAX_DIMS * 4)
#define MAX_ROUNDS 100000
#define POOL_CELLS 65536 /* cells each engine's calls take turns through, at least: new cells at every call */

typedef struct options {
    const char *network, *table, *grids[MAX_ENGINES];
    int n_grids, threads, n_batches;
    long long batches[MAX_BATCHES];
    double min_time;
    unsigned long long seed;
} options;

/* The raw session: ONNX Runtime's C API with the wrapper's session options for T threads. */
typedef struct raw_session {
    const OrtApi *api;
    OrtEnv *env;
    OrtSession *session;
    OrtMemoryInfo *memory;
    OrtAllocator *allocator; /* owns the tensor names */
    char *in_name, *out_name;
    int n_in, n_out;
} raw_session;

typedef struct engine {
    char name[16];
    int kind; /* ENGINE_* */
    surrogate_model *model;
    raw_session *raw;
    sg_grid *grid;
    int n_in, n_out;
    float *in, *out; /* inputs of the pool (float32, or double for a grid), outputs of the largest batch */
    double *in_grid;
    int64_t pool, next; /* cells in the pool; where the next call's cells start */
    double calls, seconds, best;
    double *durations; /* of every timed call (MAX_ROUNDS), for the median */
} engine;

enum { ENGINE_WRAPPER, ENGINE_RAW, ENGINE_TABLE, ENGINE_GRID };

static int usage(const char *problem)
{
    fprintf(stderr, "bench_lookup: %s\nusage: bench_lookup NETWORK.onnx --batches 1,100,4096 [--threads T] "
                    "[--min-time S] [--table TABLE.onnx] [--grid GRID.bin]... [--seed S]\n", problem);
    return 2;
}

static int parse_batches(const char *text, options *opt)
{
    char *end;
    for (const char *p = text; *p; p = *end ? end + 1 : end) {
        long long value = strtoll(p, &end, 10);
        if (end == p || (*end && *end != ',') || value < 1 || opt->n_batches == MAX_BATCHES) return -1;
        opt->batches[opt->n_batches++] = value;
    }
    return opt->n_batches ? 0 : -1;
}

static int parse_options(int argc, char **argv, options *opt)
{
    *opt = (options){.threads = 1, .min_time = 0.3, .seed = 1};
    for (int k = 1; k < argc; k++) {
        const char *arg = argv[k], *value = k + 1 < argc ? argv[k + 1] : NULL;
        char *end = NULL;
        if (arg[0] != '-') {
            if (opt->network) return usage("more than one network file given");
            opt->network = arg;
            continue;
        }
        if (!value) return usage("an option lacks its value");
        k++;
        if (strcmp(arg, "--batches") == 0) {
            if (parse_batches(value, opt)) return usage("--batches takes up to 32 comma-separated positive integers");
        } else if (strcmp(arg, "--threads") == 0) {
            opt->threads = (int)strtol(value, &end, 10);
            if (*end || opt->threads < 0) return usage("--threads takes a non-negative integer");
        } else if (strcmp(arg, "--min-time") == 0) {
            opt->min_time = strtod(value, &end);
            if (*end || !(opt->min_time > 0)) return usage("--min-time takes a positive number of seconds");
        } else if (strcmp(arg, "--seed") == 0) {
            opt->seed = strtoull(value, &end, 10);
            if (*end) return usage("--seed takes a non-negative integer");
        } else if (strcmp(arg, "--table") == 0) {
            opt->table = value;
        } else if (strcmp(arg, "--grid") == 0) {
            if (opt->n_grids == MAX_ENGINES - 3) return usage("too many --grid files");
            opt->grids[opt->n_grids++] = value;
        } else {
            return usage("unknown option");
        }
    }
    if (!opt->network) return usage("no network file given");
    if (!opt->n_batches) return usage("--batches is required");
    return 0;
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int ort_check(const OrtApi *api, OrtStatus *status, const char *what)
{
    if (!status) return 0;
    fprintf(stderr, "bench_lookup: error: raw ONNX Runtime session: %s: %s\n", what, api->GetErrorMessage(status));
    api->ReleaseStatus(status);
    return -1;
}

/* The network file in a session of its own with the wrapper's options (surrogate_ort.c, session_options). */
static int raw_open(raw_session *raw, const char *path, int threads, int n_in, int n_out)
{
    const OrtApi *api = raw->api = OrtGetApiBase()->GetApi(ORT_API_VERSION);
    OrtSessionOptions *so = NULL;
    raw->n_in = n_in;
    raw->n_out = n_out;
    int failed = ort_check(api, api->CreateEnv(ORT_LOGGING_LEVEL_WARNING, "bench_lookup", &raw->env), "CreateEnv") ||
                 ort_check(api, api->CreateSessionOptions(&so), "CreateSessionOptions") ||
                 ort_check(api, api->SetIntraOpNumThreads(so, threads), "SetIntraOpNumThreads") ||
                 ort_check(api, api->SetInterOpNumThreads(so, 1), "SetInterOpNumThreads") ||
                 ort_check(api, api->AddSessionConfigEntry(so, "session.intra_op.allow_spinning", "0"), "spinning") ||
                 ort_check(api, api->AddSessionConfigEntry(so, "session.inter_op.allow_spinning", "0"), "spinning") ||
                 ort_check(api, api->SetSessionGraphOptimizationLevel(so, ORT_ENABLE_ALL), "optimization level") ||
                 ort_check(api, api->CreateSession(raw->env, path, so, &raw->session), "CreateSession") ||
                 ort_check(api, api->CreateCpuMemoryInfo(OrtArenaAllocator, OrtMemTypeDefault, &raw->memory),
                           "CreateCpuMemoryInfo") ||
                 ort_check(api, api->GetAllocatorWithDefaultOptions(&raw->allocator), "allocator") ||
                 ort_check(api, api->SessionGetInputName(raw->session, 0, raw->allocator, &raw->in_name), "input name") ||
                 ort_check(api, api->SessionGetOutputName(raw->session, 0, raw->allocator, &raw->out_name), "output name");
    if (so) api->ReleaseSessionOptions(so);
    return failed ? -1 : 0;
}

/* One call of the raw session: tensors over IN and OUT, Run, release: what a caller of the bare C API does. */
static int raw_run(const raw_session *raw, int64_t count, const float *in, float *out)
{
    const OrtApi *api = raw->api;
    const int64_t in_shape[2] = {count, raw->n_in}, out_shape[2] = {count, raw->n_out};
    OrtValue *in_value = NULL, *out_value = NULL;
    const char *in_name = raw->in_name, *out_name = raw->out_name;
    int failed =
        ort_check(api, api->CreateTensorWithDataAsOrtValue(raw->memory, (void *)in, (size_t)count * raw->n_in * 4,
                                                           in_shape, 2, ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT,
                                                           &in_value), "input tensor") ||
        ort_check(api, api->CreateTensorWithDataAsOrtValue(raw->memory, out, (size_t)count * raw->n_out * 4,
                                                           out_shape, 2, ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT,
                                                           &out_value), "output tensor") ||
        ort_check(api, api->Run(raw->session, NULL, &in_name, (const OrtValue *const *)&in_value, 1, &out_name, 1,
                                &out_value), "Run");
    if (in_value) api->ReleaseValue(in_value);
    if (out_value) api->ReleaseValue(out_value);
    return failed;
}

/* COUNT cells looked up in the grid, the doubles rounded into float32 rows as a solver's arrays would hold them. */
static void grid_run(const sg_grid *g, int64_t count, const double *in, float *out)
{
    double values[256];
    for (int64_t c = 0; c < count; c++) {
        sg_lookup(g, in + c * g->n_dims, values);
        for (int j = 0; j < g->n_outputs; j++) out[c * g->n_outputs + j] = (float)values[j];
    }
}

/* One call on the next BATCH cells of E's pool (from its start again when too few are left), so that no call
   finds the table cells of the call before in the caches: random cells of a large domain, the lookup's worst case. */
static int call(engine *e, int64_t batch)
{
    const int64_t first = e->next + batch <= e->pool ? e->next : 0;
    e->next = first + batch;
    switch (e->kind) {
    case ENGINE_RAW: return raw_run(e->raw, batch, e->in + first * e->n_in, e->out);
    case ENGINE_GRID: grid_run(e->grid, batch, e->in_grid + first * e->n_in, e->out); return 0;
    default:
        if (surrogate_run(e->model, batch, e->in + first * e->n_in, e->out) == SURROGATE_OK) return 0;
        fprintf(stderr, "bench_lookup: error: %s: %s\n", e->name, surrogate_message(e->model));
        return -1;
    }
}

/* The next number of a splitmix64 sequence. */
static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* ORDER[N] shuffled (Fisher-Yates). */
static void shuffle(int *order, int n, uint64_t *state)
{
    for (int k = n - 1; k > 0; k--) {
        const int j = (int)(splitmix64(state) % (uint64_t)(k + 1)), swap = order[k];
        order[k] = order[j];
        order[j] = swap;
    }
}

/* Uniform cells in the grid's box. */
static void grid_cells(const sg_grid *g, int64_t n, unsigned long long seed, double *cells)
{
    uint64_t state = seed;
    for (int64_t c = 0; c < n; c++)
        for (int k = 0; k < g->n_dims; k++) {
            const double u = (double)(splitmix64(&state) >> 11) * 0x1.0p-53;
            const double lo = g->axes[k][0], hi = g->axes[k][g->n[k] - 1];
            cells[c * g->n_dims + k] = lo + u * (hi - lo);
        }
}

/* E's pool of input cells (generated once; at least the largest batch) and its outputs of the largest batch. */
static int allocate(engine *e, int64_t most, unsigned long long seed)
{
    e->pool = most > POOL_CELLS ? most : POOL_CELLS;
    e->out = malloc((size_t)most * (size_t)e->n_out * sizeof *e->out);
    if (!(e->durations = malloc(MAX_ROUNDS * sizeof *e->durations))) return -1;
    if (e->kind == ENGINE_GRID) {
        if ((e->in_grid = malloc((size_t)e->pool * (size_t)e->n_in * sizeof *e->in_grid)))
            grid_cells(e->grid, e->pool, seed, e->in_grid);
        return e->out && e->in_grid ? 0 : -1;
    }
    if ((e->in = malloc((size_t)e->pool * (size_t)e->n_in * sizeof *e->in)) && e->model)
        cells_generate(e->model, e->pool, seed, e->in);
    return e->out && e->in ? 0 : -1;
}

static int ascending(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Every engine at BATCH, round-robin (see the top of the file); one line each. */
static int measure(engine *engines, int n, int64_t batch, double min_time)
{
    for (int k = 0; k < n; k++) {
        engines[k].calls = engines[k].seconds = 0;
        engines[k].best = 1e300;
        if (call(&engines[k], batch)) return -1; /* warm-up */
    }
    int done = 0, order[MAX_ENGINES];
    uint64_t state = (uint64_t)batch;
    for (int k = 0; k < n; k++) order[k] = k;
    for (long rounds = 0; !done && rounds < MAX_ROUNDS; rounds++) {
        done = rounds >= 3;
        shuffle(order, n, &state); /* a new order each round: no engine always follows the grid lookups that sweep
                                      the caches, nor always precedes another network call */
        for (int j = 0; j < n; j++) {
            const int k = order[j];
            const double start = now();
            if (call(&engines[k], batch)) return -1;
            const double elapsed = now() - start;
            engines[k].durations[(long)engines[k].calls++] = elapsed;
            engines[k].seconds += elapsed;
            if (elapsed < engines[k].best) engines[k].best = elapsed;
            done = done && engines[k].seconds >= min_time;
        }
    }
    for (int k = 0; k < n; k++) {
        engine *e = &engines[k];
        qsort(e->durations, (size_t)e->calls, sizeof *e->durations, ascending);
        const size_t middle = (size_t)e->calls / 2;
        const double median = (size_t)e->calls % 2 ? e->durations[middle]
                                                   : 0.5 * (e->durations[middle - 1] + e->durations[middle]);
        printf("bench engine=%s batch=%lld calls=%.0f seconds=%.6g cells_per_second=%.6g best_cells_per_second=%.6g "
               "median_cells_per_second=%.6g\n", e->name, (long long)batch, e->calls, e->seconds,
               (double)batch * e->calls / e->seconds, (double)batch / e->best, (double)batch / median);
    }
    fflush(stdout);
    return 0;
}

/* The network (wrapper and raw), the table-backend file and the grids as engines; the count made, or -1. */
static int open_engines(const options *opt, engine *engines, surrogate_model **models, raw_session *raw,
                        sg_grid *grids)
{
    char error[1024];
    int status, n = 0;
    surrogate_options so;
    surrogate_options_init(&so);
    so.n_threads = opt->threads;
    const char *paths[2] = {opt->network, opt->table};
    for (int m = 0; m < 2 && paths[m]; m++) {
        if (!(models[m] = surrogate_open(paths[m], &so, &status, error, sizeof error))) {
            fprintf(stderr, "bench_lookup: error: %s\n", error);
            return -1;
        }
        engines[n++] = (engine){.kind = m ? ENGINE_TABLE : ENGINE_WRAPPER, .model = models[m],
                                .n_in = surrogate_n_inputs(models[m]), .n_out = surrogate_n_outputs(models[m])};
        snprintf(engines[n - 1].name, sizeof engines[n - 1].name, "%s", m ? "table" : "wrapper");
        if (m) continue;
        if (raw_open(raw, opt->network, opt->threads, engines[0].n_in, engines[0].n_out)) return -1;
        engines[n++] = (engine){.name = "raw", .kind = ENGINE_RAW, .raw = raw, .model = models[0], /* for its cells */
                                .n_in = engines[0].n_in, .n_out = engines[0].n_out};
    }
    for (int k = 0; k < opt->n_grids; k++) {
        if (sg_read(opt->grids[k], &grids[k], error, sizeof error)) {
            fprintf(stderr, "bench_lookup: error: %s\n", error);
            return -1;
        }
        if (grids[k].n_outputs > 256) {
            fprintf(stderr, "bench_lookup: error: %s: %d outputs; at most 256\n", opt->grids[k], grids[k].n_outputs);
            return -1;
        }
        printf("grid index=%d dims=%d bytes=%zu file=%s\n", k, grids[k].n_dims, sg_bytes(&grids[k]), opt->grids[k]);
        engines[n] = (engine){.kind = ENGINE_GRID, .grid = &grids[k], .n_in = grids[k].n_dims,
                              .n_out = grids[k].n_outputs};
        snprintf(engines[n++].name, sizeof engines[0].name, "grid%d", k);
    }
    return n;
}

int main(int argc, char **argv)
{
    options opt;
    int status = parse_options(argc, argv, &opt);
    if (status) return status;
    engine engines[MAX_ENGINES];
    sg_grid grids[MAX_ENGINES];
    memset(engines, 0, sizeof engines);
    memset(grids, 0, sizeof grids);
    surrogate_model *models[2] = {NULL, NULL};
    raw_session raw = {0};
    int n = open_engines(&opt, engines, models, &raw, grids);
    long long most = 0;
    for (int b = 0; b < opt.n_batches; b++) most = opt.batches[b] > most ? opt.batches[b] : most;
    status = n < 0;
    for (int k = 0; k < n && !status; k++) /* the raw session gets the wrapper's cells (engine 0's seed) */
        if (allocate(&engines[k], most, opt.seed + (unsigned long long)(engines[k].kind == ENGINE_RAW ? 0 : k))) {
            fprintf(stderr, "bench_lookup: error: out of memory for %lld cells of %s\n", most, engines[k].name);
            status = 1;
        }
    for (int b = 0; b < opt.n_batches && !status; b++) status = measure(engines, n, opt.batches[b], opt.min_time) != 0;
    for (int k = 0; k < (n > 0 ? n : 0); k++) {
        free(engines[k].in);
        free(engines[k].in_grid);
        free(engines[k].out);
        free(engines[k].durations);
    }
    for (int k = 0; k < opt.n_grids; k++) sg_free(&grids[k]);
    if (raw.in_name) ort_check(raw.api, raw.api->AllocatorFree(raw.allocator, raw.in_name), "free");
    if (raw.out_name) ort_check(raw.api, raw.api->AllocatorFree(raw.allocator, raw.out_name), "free");
    if (raw.session) raw.api->ReleaseSession(raw.session);
    if (raw.memory) raw.api->ReleaseMemoryInfo(raw.memory);
    if (raw.env) raw.api->ReleaseEnv(raw.env);
    for (int m = 0; m < 2; m++) surrogate_destroy(models[m]);
    return status;
}
