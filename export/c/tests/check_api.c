/*
 * check_api: the solver-grade parts of surrogate_ort exercised from C, for tests/test_c_api.py. Each mode prints
 * "key=value" lines and exits 0 when its own checks held, 1 with a line on stderr otherwise, 2 on bad usage.
 *
 *   check_api threads MODEL N_CELLS REPEATS  one handle, clip active on every call, run concurrently from OpenMP
 *                                            threads on slices; bitwise equal to the same slices run serially
 *   check_api arrays MODEL N_CELLS           float / double / per-field / strided / selected outputs agree
 *   check_api policy MODEL                   a policy per call, counters, manifold, warn printed once
 *   check_api open MODEL [DECODER]           status codes, thread options, global thread pool
 *   check_api cuda MODEL                     the CUDA execution provider: used, or refused with its status
 *   check_api table MODEL CELLS OUT          a table-backend file on the float32 cells of the raw file CELLS
 *                                            ([n][n_inputs]): writes OUT.compiled.f32 (the compiled lookup),
 *                                            OUT.double.f64 (surrogate_run_double), OUT.graph.f32 (table_graph = 1)
 *   check_api status MODEL                   open it: the status and the one-line message, the backend
 *   check_api manifold MODEL Z C             the manifold at one cell (Z, C, other inputs mid-range): its bounds,
 *                                            counted and clipped onto them; the pure streams; NaN refused (a NaN
 *                                            Z asked of surrogate_manifold_range, a NaN input of a run)
 *   check_api handles MODEL N_HANDLES        one thread on N handles, then OpenMP threads on all of them: each
 *                                            thread's message and count on each handle stay its own
 *   check_api limits MODEL                   thread counts and policies out of range: refused with their status
 *                                            and a message naming the function; the largest count opens; the
 *                                            default count (outside any OpenMP region)
 *   check_api defaults MODEL                 surrogate_default_threads outside and inside an OpenMP parallel
 *                                            region, and the threads of a handle opened in one
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "example_io.h"
#include "surrogate_grid.h"
#include "surrogate_ort.h"

#ifdef _OPENMP
#include <omp.h>
#endif

#define CHECK(condition, ...)                                                                                        \
    do {                                                                                                             \
        if (!(condition)) {                                                                                          \
            fprintf(stderr, "check_api: line %d: ", __LINE__);                                                       \
            fprintf(stderr, __VA_ARGS__);                                                                            \
            fprintf(stderr, "\n");                                                                                   \
            return 1;                                                                                                \
        }                                                                                                            \
    } while (0)

static surrogate_model *open_clip(const char *path, int n_threads)
{
    char error[1024];
    surrogate_options options;
    surrogate_options_init(&options);
    options.n_threads = n_threads;
    surrogate_model *model = surrogate_open(path, &options, NULL, error, sizeof error);
    if (!model) fprintf(stderr, "check_api: %s\n", error);
    return model;
}

/* N cells inside the model's bounds, every third one pushed out of its range (Z above, chi below, C off). */
static float *cells_with_outliers(surrogate_model *model, int64_t n)
{
    const int n_in = surrogate_n_inputs(model);
    float *x = malloc((size_t)n * n_in * sizeof *x);
    if (!x) return NULL;
    cells_generate(model, n, 7, x);
    for (int64_t c = 0; c < n; c += 3) x[c * n_in + c % n_in] = c % 2 ? 1e6f : -1e6f;
    return x;
}

static int mode_threads(const char *path, int64_t n, int repeats)
{
    surrogate_model *model = open_clip(path, 1);
    CHECK(model, "open failed");
    const int n_in = surrogate_n_inputs(model), n_out = surrogate_n_outputs(model);
    float *x = cells_with_outliers(model, n);
    float *serial = malloc((size_t)n * n_out * sizeof *serial), *parallel = malloc((size_t)n * n_out * sizeof *parallel);
    CHECK(x && serial && parallel, "out of memory");
    const int slices = 64;
    const int64_t per = (n + slices - 1) / slices;
    for (int s = 0; s < slices; s++) {
        int64_t first = s * per, count = first + per > n ? n - first : per;
        if (count > 0) CHECK(surrogate_run(model, count, x + first * n_in, serial + first * n_out) == SURROGATE_OK,
                             "serial run: %s", surrogate_message(model));
    }
    surrogate_reset_counters(model);
    long long mismatched = 0, failures = 0, clipped = 0, threads_seen = 1;
    double worst = 0;
    for (int r = 0; r < repeats; r++) {
        memset(parallel, 0, (size_t)n * n_out * sizeof *parallel);
#pragma omp parallel for schedule(dynamic, 1) reduction(+ : failures, clipped)
        for (int s = 0; s < slices; s++) {
            int64_t first = s * per, count = first + per > n ? n - first : per;
            if (count <= 0) continue;
            if (surrogate_run(model, count, x + first * n_in, parallel + first * n_out) != SURROGATE_OK) failures++;
            /* this thread's own last call: its count, and a message about its own slice */
            clipped += surrogate_out_of_range_cells(model);
            if (surrogate_out_of_range_cells(model) && !strstr(surrogate_message(model), "clipped")) failures++;
        }
        for (int64_t k = 0; k < n * n_out; k++) {
            double d = fabs((double)parallel[k] - (double)serial[k]);
            if (parallel[k] != serial[k]) mismatched++;
            if (d > worst) worst = d;
        }
    }
#ifdef _OPENMP
    threads_seen = omp_get_max_threads();
#endif
    surrogate_counters counters;
    surrogate_get_counters(model, &counters);
    printf("threads=%lld\nrepeats=%d\nmismatched=%lld\nmax_error=%g\nfailures=%lld\n", threads_seen, repeats,
           mismatched, worst, failures);
    printf("calls=%lld\ncells=%lld\nout_of_range_cells=%lld\nclipped_seen=%lld\n", (long long)counters.calls,
           (long long)counters.cells, (long long)counters.out_of_range_cells, clipped);
    CHECK(mismatched == 0 && failures == 0, "concurrent runs differ from serial ones");
    CHECK(counters.cells == (long long)n * repeats && counters.out_of_range_cells == clipped, "counters");
    free(x);
    free(serial);
    free(parallel);
    surrogate_destroy(model);
    return 0;
}

static int mode_arrays(const char *path, int64_t n)
{
    surrogate_model *model = open_clip(path, 1);
    CHECK(model, "open failed");
    const int n_in = surrogate_n_inputs(model), n_out = surrogate_n_outputs(model);
    float *x = cells_with_outliers(model, n), *y = malloc((size_t)n * n_out * sizeof *y);
    double *xd = malloc((size_t)n * n_in * sizeof *xd), *yd = malloc((size_t)n * n_out * sizeof *yd);
    double **fields_in = malloc(n_in * sizeof *fields_in), **fields_out = malloc(n_out * sizeof *fields_out);
    CHECK(x && y && xd && yd && fields_in && fields_out, "out of memory");
    CHECK(surrogate_run(model, n, x, y) == SURROGATE_OK, "float run: %s", surrogate_message(model));
    for (int64_t k = 0; k < n * n_in; k++) xd[k] = x[k];
    for (int i = 0; i < n_in; i++) {
        fields_in[i] = malloc((size_t)n * sizeof **fields_in);
        for (int64_t c = 0; c < n; c++) fields_in[i][c] = x[c * n_in + i];
    }
    for (int j = 0; j < n_out; j++) fields_out[j] = calloc((size_t)n, sizeof **fields_out);
    /* row-major double */
    CHECK(surrogate_run_double(model, n, xd, yd) == SURROGATE_OK, "double run: %s", surrogate_message(model));
    long long differ = 0;
    for (int64_t k = 0; k < n * n_out; k++) differ += yd[k] != (double)y[k];
    printf("double_rows_differ=%lld\n", differ);
    /* one array per field, one output skipped: it stays untouched */
    const int skipped = n_out - 1;
    double *kept = fields_out[skipped];
    fields_out[skipped] = NULL;
    CHECK(surrogate_run_fields(model, n, (const double *const *)fields_in, fields_out) == SURROGATE_OK, "fields: %s",
          surrogate_message(model));
    differ = 0;
    for (int j = 0; j < skipped; j++)
        for (int64_t c = 0; c < n; c++) differ += fields_out[j][c] != (double)y[c * n_out + j];
    long long touched = 0;
    for (int64_t c = 0; c < n; c++) touched += kept[c] != 0;
    printf("fields_differ=%lld\nskipped_output_touched=%lld\n", differ, touched);
    fields_out[skipped] = kept;
    /* strided float32 in (an array of structs of 2 n_in floats) and one float output with stride 3 */
    float *wide = calloc((size_t)n * 2 * n_in, sizeof *wide), *one = calloc((size_t)n * 3, sizeof *one);
    surrogate_array *in = malloc(n_in * sizeof *in), *out = calloc(n_out, sizeof *out);
    CHECK(wide && one && in && out, "out of memory");
    for (int64_t c = 0; c < n; c++)
        for (int i = 0; i < n_in; i++) wide[c * 2 * n_in + i] = x[c * n_in + i];
    for (int i = 0; i < n_in; i++) in[i] = (surrogate_array){wide + i, SURROGATE_FLOAT32, 2 * n_in};
    const int pick = surrogate_output_index(model, surrogate_output_name(model, 0));
    out[pick] = (surrogate_array){one, SURROGATE_FLOAT32, 3};
    CHECK(surrogate_run_arrays(model, n, in, out, SURROGATE_RANGE_DEFAULT) == SURROGATE_OK, "arrays: %s",
          surrogate_message(model));
    differ = 0;
    for (int64_t c = 0; c < n; c++) differ += one[3 * c] != y[c * n_out + pick] || one[3 * c + 1] != 0;
    printf("strided_differ=%lld\n", differ);
    /* more cells than one chunk of the column path */
    printf("out_of_range=%lld\n", (long long)surrogate_out_of_range_cells(model));
    for (int i = 0; i < n_in; i++) free(fields_in[i]);
    for (int j = 0; j < n_out; j++) free(fields_out[j]);
    free(fields_in), free(fields_out), free(x), free(y), free(xd), free(yd), free(wide), free(one), free(in), free(out);
    surrogate_destroy(model);
    return 0;
}

static int mode_policy(const char *path)
{
    surrogate_model *model = open_clip(path, 1);
    CHECK(model, "open failed");
    const int n_in = surrogate_n_inputs(model), n_out = surrogate_n_outputs(model);
    const int along = surrogate_manifold_along(model);
    CHECK(along >= 0, "the model has no manifold bounds");
    float x[3 * 8] = {0}, y[3 * 8];
    cells_generate(model, 3, 11, x);
    /* cell 1: inside the box, beyond its bin's manifold bound on the first input where the bin's range is narrower */
    double lo = 0, hi = 0, box_lo = 0, box_hi = 0;
    int other = -1;
    for (int i = 0; i < n_in && other < 0; i++) {
        if (i == along) continue;
        surrogate_manifold_range(model, i, x[n_in + along], &lo, &hi);
        surrogate_input_range(model, i, &box_lo, &box_hi);
        if (hi < box_hi || lo > box_lo) other = i;
    }
    CHECK(other >= 0, "no input narrower on the manifold than in the box at cell 1");
    printf("column=%s\nmanifold_range=%.9g,%.9g\nbox_range=%.9g,%.9g\n", surrogate_input_name(model, other), lo, hi,
           box_lo, box_hi);
    x[n_in + other] = (float)(hi < box_hi ? hi + 0.5 * (box_hi - hi) : box_lo + 0.5 * (lo - box_lo));
    surrogate_array in[8], out[8];
    for (int i = 0; i < n_in; i++) in[i] = (surrogate_array){x + i, SURROGATE_FLOAT32, n_in};
    for (int j = 0; j < n_out; j++) out[j] = (surrogate_array){y + j, SURROGATE_FLOAT32, n_out};
    int refused = surrogate_run_arrays(model, 3, in, out, SURROGATE_RANGE_ERROR);
    printf("error_status=%d\nerror_message=%s\n", refused, surrogate_message(model));
    int counted = surrogate_run_arrays(model, 3, in, out, SURROGATE_RANGE_COUNT);
    int warned1 = surrogate_run_arrays(model, 3, in, out, SURROGATE_RANGE_WARN);
    int warned2 = surrogate_run_arrays(model, 3, in, out, SURROGATE_RANGE_WARN);
    int clipped = surrogate_run(model, 3, x, y); /* the handle's policy: clip */
    printf("count_status=%d\nwarn_status=%d,%d\nclip_status=%d\nclip_message=%s\n", counted, warned1, warned2,
           clipped, surrogate_message(model));
    surrogate_counters counters;
    surrogate_get_counters(model, &counters);
    printf("calls=%lld\ncells=%lld\nout_of_range_cells=%lld\noff_manifold_cells=%lld\nrefused_calls=%lld\n",
           (long long)counters.calls, (long long)counters.cells, (long long)counters.out_of_range_cells,
           (long long)counters.off_manifold_cells, (long long)counters.refused_calls);
    printf("status_text=%s\n", surrogate_status_text(refused));
    surrogate_destroy(model);
    return 0;
}

static int mode_open(const char *path, const char *decoder)
{
    char error[1024];
    int status = -1;
    surrogate_model *model = surrogate_open("/nonexistent/model.onnx", NULL, &status, error, sizeof error);
    printf("missing_status=%d\nmissing_message=%s\n", status, error);
    CHECK(!model, "a missing file opened");
    if (decoder) {
        model = surrogate_open(decoder, NULL, &status, error, sizeof error);
        printf("decoder_status=%d\n", status);
        CHECK(!model, "a decoder opened");
    }
    surrogate_options options;
    surrogate_options_init(&options);
    options.global_thread_pool = 1;
    options.n_threads = 2;
    surrogate_model *a = surrogate_open(path, &options, &status, error, sizeof error);
    CHECK(a, "global pool A: %s", error);
    surrogate_model *b = surrogate_open(path, &options, &status, error, sizeof error);
    CHECK(b, "global pool B: %s", error);
    surrogate_options_init(&options);
    options.n_threads = SURROGATE_THREADS_AUTO;
    surrogate_model *c = surrogate_open(path, &options, &status, error, sizeof error);
    CHECK(c, "per-handle pool next to the global one: %s", error);
    printf("global_threads=%d,%d\nauto_threads=%d\ndefault_threads=%d\n", surrogate_threads(a), surrogate_threads(b),
           surrogate_threads(c), surrogate_default_threads());
    float x[64 * 8], ya[64 * 16], yb[64 * 16], yc[64 * 16];
    cells_generate(a, 64, 5, x);
    CHECK(surrogate_run(a, 64, x, ya) == 0 && surrogate_run(b, 64, x, yb) == 0 && surrogate_run(c, 64, x, yc) == 0,
          "runs on the global pool");
    double worst = 0;
    const size_t bytes = 64 * (size_t)surrogate_n_outputs(a) * sizeof *ya;
    for (int k = 0; k < 64 * surrogate_n_outputs(a); k++)
        worst = fmax(worst, fmax(fabs(ya[k] - yb[k]), fabs(ya[k] - yc[k])) / fmax(fabs(yc[k]), 1e-30));
    printf("pool_outputs_equal=%d\npool_outputs_rel=%g\n", !memcmp(ya, yb, bytes) && !memcmp(ya, yc, bytes),
           worst);
    surrogate_destroy(a);
    surrogate_destroy(b);
    surrogate_destroy(c);
    /* a handle without the global pool first: the pool cannot come afterwards */
    c = open_clip(path, 1);
    options.global_thread_pool = 1;
    a = surrogate_open(path, &options, &status, error, sizeof error);
    printf("late_pool_status=%d\nlate_pool_message=%s\n", status, error);
    CHECK(!a, "a late global pool opened");
    surrogate_destroy(c);
    return 0;
}

static int mode_cuda(const char *path)
{
    char error[1024];
    int status = -1;
    surrogate_options options;
    surrogate_options_init(&options);
    options.cuda = 1;
    surrogate_model *gpu = surrogate_open(path, &options, &status, error, sizeof error);
    printf("cuda_status=%d\ncuda_message=%s\n", status, gpu ? "" : error);
    if (!gpu) return 0;
    surrogate_model *cpu = open_clip(path, 1);
    CHECK(cpu, "cpu open");
    const int n = 4096, n_out = surrogate_n_outputs(cpu);
    float *x = malloc((size_t)n * 8 * sizeof *x), *yg = malloc((size_t)n * n_out * sizeof *x),
          *yc = malloc((size_t)n * n_out * sizeof *x);
    cells_generate(cpu, n, 3, x);
    CHECK(surrogate_run(gpu, n, x, yg) == 0 && surrogate_run(cpu, n, x, yc) == 0, "runs: %s", surrogate_message(gpu));
    double worst = 0;
    for (int j = 0; j < n_out; j++) {
        double scale = 0, error_j = 0;
        for (int c = 0; c < n; c++) {
            scale = fmax(scale, fabs(yc[c * n_out + j]));
            error_j = fmax(error_j, fabs(yg[c * n_out + j] - yc[c * n_out + j]));
        }
        worst = fmax(worst, error_j / fmax(scale, 1e-30));
    }
    printf("uses_cuda=%d\ncuda_vs_cpu_rel=%g\n", surrogate_uses_cuda(gpu), worst);
    free(x), free(yg), free(yc);
    surrogate_destroy(gpu);
    surrogate_destroy(cpu);
    return 0;
}

/* The whole raw file PATH as a malloc'd buffer of *N_BYTES. */
static void *read_raw(const char *path, size_t *n_bytes)
{
    FILE *file = fopen(path, "rb");
    long length = -1;
    void *data = NULL;
    if (file && fseek(file, 0, SEEK_END) == 0 && (length = ftell(file)) >= 0 && fseek(file, 0, SEEK_SET) == 0 &&
        (data = malloc(length ? (size_t)length : 1)) && fread(data, 1, (size_t)length, file) != (size_t)length) {
        free(data);
        data = NULL;
    }
    if (file) fclose(file);
    *n_bytes = data ? (size_t)length : 0;
    return data;
}

/* N_BYTES of DATA into PREFIX.SUFFIX. */
static int write_raw(const char *prefix, const char *suffix, const void *data, size_t n_bytes)
{
    char path[4096];
    snprintf(path, sizeof path, "%s.%s", prefix, suffix);
    FILE *file = fopen(path, "wb");
    int ok = file && fwrite(data, 1, n_bytes, file) == n_bytes;
    if (file) ok = fclose(file) == 0 && ok;
    return ok ? 0 : -1;
}

static surrogate_model *open_table(const char *path, int table_graph)
{
    char error[1024];
    surrogate_options options;
    surrogate_options_init(&options);
    options.n_threads = 1;
    options.table_graph = table_graph;
    surrogate_model *model = surrogate_open(path, &options, NULL, error, sizeof error);
    if (!model) fprintf(stderr, "check_api: %s\n", error);
    return model;
}

static int mode_table(const char *path, const char *cells_path, const char *out)
{
    surrogate_model *compiled = open_table(path, 0), *graph = open_table(path, 1);
    CHECK(compiled && graph, "open failed");
    const int n_in = surrogate_n_inputs(compiled), n_out = surrogate_n_outputs(compiled);
    size_t n_bytes;
    float *x = read_raw(cells_path, &n_bytes);
    CHECK(x && n_bytes % (n_in * sizeof *x) == 0, "cannot read %s as float32 [n][%d]", cells_path, n_in);
    const int64_t n = (int64_t)(n_bytes / (n_in * sizeof *x));
    float *y = malloc((size_t)n * n_out * sizeof *y), *yg = malloc((size_t)n * n_out * sizeof *yg);
    double *xd = malloc((size_t)n * n_in * sizeof *xd), *yd = malloc((size_t)n * n_out * sizeof *yd);
    CHECK(y && yg && xd && yd, "out of memory");
    for (int64_t k = 0; k < n * n_in; k++) xd[k] = x[k];
    const int status = surrogate_run(compiled, n, x, y), graph_status = surrogate_run(graph, n, x, yg);
    const int double_status = surrogate_run_double(compiled, n, xd, yd);
    long long rounded_differ = 0;
    for (int64_t k = 0; k < n * n_out; k++) rounded_differ += (float)yd[k] != y[k];
    surrogate_counters counters;
    surrogate_get_counters(compiled, &counters);
    printf("backend=%s\ngraph_backend=%s\ncells=%lld\nstatus=%d\ngraph_status=%d\ndouble_status=%d\n",
           surrogate_backend(compiled), surrogate_backend(graph), (long long)n, status, graph_status, double_status);
    printf("message=%s\nout_of_range_cells=%lld\noff_manifold_cells=%lld\ndouble_rounded_differ=%lld\n",
           surrogate_message(compiled), (long long)counters.out_of_range_cells,
           (long long)counters.off_manifold_cells, rounded_differ);
    CHECK(!write_raw(out, "compiled.f32", y, (size_t)n * n_out * sizeof *y) &&
          !write_raw(out, "graph.f32", yg, (size_t)n * n_out * sizeof *yg) &&
          !write_raw(out, "double.f64", yd, (size_t)n * n_out * sizeof *yd), "cannot write %s.*", out);
    free(x), free(y), free(yg), free(xd), free(yd);
    surrogate_destroy(compiled);
    surrogate_destroy(graph);
    return 0;
}

/* The N-D lookup (surrogate_grid.h) of the grid file PATH at the float64 points [n][D] of POINTS_PATH, written to
   OUT (float64 [n][n_outputs]); a file the reader refuses prints its one-line reason as problem=... and exits 0. */
static int mode_grid(const char *path, const char *points_path, const char *out)
{
    sg_grid grid;
    memset(&grid, 0, sizeof grid);
    char problem[1024];
    if (sg_read(path, &grid, problem, sizeof problem)) {
        printf("problem=%s\n", problem);
        return 0;
    }
    size_t n_bytes;
    double *x = read_raw(points_path, &n_bytes);
    CHECK(x && n_bytes % (grid.n_dims * sizeof *x) == 0, "cannot read %s as float64 [n][%d]", points_path,
          grid.n_dims);
    const size_t n = n_bytes / (grid.n_dims * sizeof *x);
    double *y = malloc(n * grid.n_outputs * sizeof *y + 1);
    CHECK(y, "out of memory");
    for (size_t c = 0; c < n; c++) sg_lookup(&grid, x + c * grid.n_dims, y + c * grid.n_outputs);
    printf("dims=%d\noutputs=%d\nbytes=%zu\npoints=%zu\n", grid.n_dims, grid.n_outputs, sg_bytes(&grid), n);
    CHECK(!write_raw(out, "f64", y, n * grid.n_outputs * sizeof *y), "cannot write %s.f64", out);
    free(x), free(y);
    sg_free(&grid);
    return 0;
}

/* One cell: Z, C and the other inputs in the middle of their manifold range at Z; ROW[n_inputs]. */
static void manifold_cell(surrogate_model *model, double z, double c, float *row)
{
    const int along = surrogate_manifold_along(model), ic = surrogate_input_index(model, "C");
    for (int i = 0; i < surrogate_n_inputs(model); i++) {
        double lo, hi;
        surrogate_manifold_range(model, i, z, &lo, &hi);
        row[i] = i == along ? (float)z : (i == ic ? (float)c : (float)(0.5 * (lo + hi)));
    }
}

static int mode_manifold(const char *path, double z, double c)
{
    surrogate_model *model = open_clip(path, 1);
    CHECK(model, "open failed");
    const int n_in = surrogate_n_inputs(model), n_out = surrogate_n_outputs(model);
    const int ic = surrogate_input_index(model, "C");
    CHECK(surrogate_manifold_along(model) >= 0 && ic >= 0 && n_in <= 8 && n_out <= 64, "no manifold or no C");
    double lo, hi, nan_lo = -7, nan_hi = -7;
    surrogate_manifold_range(model, ic, z, &lo, &hi);
    const int nan_status = surrogate_manifold_range(model, ic, NAN, &nan_lo, &nan_hi);
    printf("backend=%s\nC_range=%.17g,%.17g\nnan_status=%d\nnan_untouched=%d\nnan_message=%s\n",
           surrogate_backend(model), lo, hi, nan_status, nan_lo == -7 && nan_hi == -7, surrogate_message(model));
    /* the cell as given (counted), the same clipped, and the cell on its bound: the clipped one lands there */
    float x[8], bound[8], y[64], y_clip[64], y_bound[64];
    manifold_cell(model, z, c, x);
    manifold_cell(model, z, c > hi ? hi : (c < lo ? lo : c), bound);
    surrogate_array in[8], out[64];
    for (int i = 0; i < n_in; i++) in[i] = (surrogate_array){x + i, SURROGATE_FLOAT32, n_in};
    for (int j = 0; j < n_out; j++) out[j] = (surrogate_array){y + j, SURROGATE_FLOAT32, n_out};
    const int counted = surrogate_run_arrays(model, 1, in, out, SURROGATE_RANGE_COUNT);
    const long long counted_cells = (long long)surrogate_out_of_range_cells(model);
    const int clipped = surrogate_run(model, 1, x, y_clip);
    printf("count_status=%d\ncounted_cells=%lld\nclip_status=%d\nclip_message=%s\n", counted, counted_cells,
           clipped, surrogate_message(model));
    const int on_bound = surrogate_run(model, 1, bound, y_bound);
    printf("bound_status=%d\nbound_cells=%lld\nclipped_equals_bound=%d\nbound_C=%.9g\n", on_bound,
           (long long)surrogate_out_of_range_cells(model), !memcmp(y_clip, y_bound, n_out * sizeof *y), bound[ic]);
    /* the pure streams (Z = 0 and 1, C = 0) under the error policy: neither flagged */
    float streams[16];
    manifold_cell(model, 0.0, 0.0, streams);
    manifold_cell(model, 1.0, 0.0, streams + n_in);
    surrogate_reset_counters(model);
    surrogate_set_range_policy(model, SURROGATE_RANGE_ERROR);
    const int stream_status = surrogate_run(model, 2, streams, y);
    surrogate_counters counters;
    surrogate_get_counters(model, &counters);
    printf("streams_status=%d\nstreams_message=%s\nstreams_flagged=%lld\n", stream_status,
           surrogate_message(model), (long long)(counters.out_of_range_cells + counters.off_manifold_cells));
    printf("streams_outputs=");
    for (int k = 0; k < 2 * n_out; k++) printf("%s%.9g", k ? "," : "", y[k]);
    printf("\n");
    x[ic] = NAN; /* a NaN input: refused under every policy */
    surrogate_set_range_policy(model, SURROGATE_RANGE_CLIP);
    const int nan_cell = surrogate_run(model, 1, x, y);
    printf("nan_cell_status=%d\nnan_cell_message=%s\n", nan_cell, surrogate_message(model));
    surrogate_destroy(model);
    return 0;
}

/* 16 cells inside the ranges with the first K (1..16) pushed above the range of input 0: a run clips K cells. */
static void outliers(surrogate_model *model, int k, float *x)
{
    const int n_in = surrogate_n_inputs(model);
    double lo, hi;
    cells_generate(model, 16, 3, x);
    surrogate_input_range(model, 0, &lo, &hi);
    for (int c = 0; c < k; c++) x[c * n_in] = (float)(hi + 1.0 + fabs(hi));
}

/* Whether the calling thread's last call on MODEL clipped K cells, by its count and its message. */
static int remembers(surrogate_model *model, int k)
{
    char expected[64];
    snprintf(expected, sizeof expected, "%d of 16 cells clipped", k);
    return surrogate_out_of_range_cells(model) == k && strstr(surrogate_message(model), expected) != NULL;
}

static int mode_handles(const char *path, int n)
{
    surrogate_model **models = calloc((size_t)n, sizeof *models);
    CHECK(models && n > 0, "out of memory");
    for (int h = 0; h < n; h++) CHECK(models[h] = open_clip(path, 1), "open of handle %d failed", h);
    const int n_in = surrogate_n_inputs(models[0]), n_out = surrogate_n_outputs(models[0]);
    CHECK(n_in <= 8 && n_out <= 64, "too many columns");
    float x[16 * 8], y[16 * 64];
    long long forgotten = 0, thread_forgotten = 0;
    for (int h = 0; h < n; h++) { /* handle h clips h % 16 + 1 cells */
        outliers(models[h], h % 16 + 1, x);
        CHECK(surrogate_run(models[h], 16, x, y) == SURROGATE_OK, "run: %s", surrogate_message(models[h]));
    }
    for (int h = n - 1; h >= 0; h--) forgotten += !remembers(models[h], h % 16 + 1);
    printf("first_count=%lld\nfirst_message=%s\n", (long long)surrogate_out_of_range_cells(models[0]),
           surrogate_message(models[0]));
    int threads = 1;
#pragma omp parallel reduction(+ : thread_forgotten)
    { /* thread t: handle h clips (h + t) % 16 + 1 cells; every record read back after all runs */
        int t = 0;
#ifdef _OPENMP
        t = omp_get_thread_num();
#pragma omp single
        threads = omp_get_num_threads();
#endif
        float xt[16 * 8], yt[16 * 64];
        for (int h = 0; h < n; h++) {
            outliers(models[h], (h + t) % 16 + 1, xt);
            thread_forgotten += surrogate_run(models[h], 16, xt, yt) != SURROGATE_OK;
        }
        for (int h = 0; h < n; h++) thread_forgotten += !remembers(models[h], (h + t) % 16 + 1);
    }
    printf("handles=%d\nforgotten=%lld\nthreads=%d\nthread_forgotten=%lld\n", n, forgotten, threads,
           thread_forgotten);
    for (int h = 0; h < n; h++) surrogate_destroy(models[h]);
    free(models);
    return 0;
}

/* surrogate_open's and surrogate_create's refusals: status and message of OPTIONS, on one line each. */
static void refused(const char *label, const char *path, const surrogate_options *options)
{
    char error[1024] = "";
    int status = -1;
    surrogate_model *model = surrogate_open(path, options, &status, error, sizeof error);
    printf("%s_status=%d\n%s_message=%s\n", label, status, label, error);
    surrogate_destroy(model);
}

static int mode_limits(const char *path)
{
    surrogate_options options;
    surrogate_options_init(&options);
    options.n_threads = 1000000;
    refused("huge", path, &options);
    options.n_threads = -5;
    refused("negative", path, &options);
    options.n_threads = 1;
    options.policy = (surrogate_range_policy)9;
    refused("policy", path, &options);
    refused("null_path", NULL, NULL);
    char error[1024] = "";
    surrogate_model *model = surrogate_create(path, 1000000, SURROGATE_RANGE_CLIP, error, sizeof error);
    printf("create_refused=%d\ncreate_message=%s\n", model == NULL, error);
    surrogate_destroy(model);
    surrogate_options_init(&options);
    options.n_threads = surrogate_max_threads();
    int status = -1;
    model = surrogate_open(path, &options, &status, error, sizeof error);
    printf("max_threads=%d\nmax_status=%d\nmax_handle_threads=%d\ndefault_threads=%d\n", surrogate_max_threads(),
           status, surrogate_threads(model), surrogate_default_threads());
    surrogate_destroy(model);
    return 0;
}

static int mode_defaults(const char *path)
{
    int inside = 0, handle_threads = 0, in_region = 0;
#pragma omp parallel
    {
#pragma omp single
        {
            surrogate_model *model = open_clip(path, SURROGATE_THREADS_AUTO);
            inside = surrogate_default_threads();
            handle_threads = surrogate_threads(model);
#ifdef _OPENMP
            in_region = omp_in_parallel();
#endif
            surrogate_destroy(model);
        }
    }
    surrogate_model *model = open_clip(path, SURROGATE_THREADS_AUTO);
    printf("outside_default=%d\noutside_handle_threads=%d\nin_region=%d\ninside_default=%d\n"
           "inside_handle_threads=%d\n", surrogate_default_threads(), surrogate_threads(model), in_region, inside,
           handle_threads);
    surrogate_destroy(model);
    return 0;
}

static int mode_status(const char *path)
{
    char error[1024] = "";
    int status = -1;
    surrogate_model *model = surrogate_open(path, NULL, &status, error, sizeof error);
    printf("open_status=%d\nopen_message=%s\nbackend=%s\n", status, error, surrogate_backend(model));
    surrogate_destroy(model);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 5 && strcmp(argv[1], "threads") == 0) return mode_threads(argv[2], atoll(argv[3]), atoi(argv[4]));
    if (argc >= 4 && strcmp(argv[1], "arrays") == 0) return mode_arrays(argv[2], atoll(argv[3]));
    if (argc >= 3 && strcmp(argv[1], "policy") == 0) return mode_policy(argv[2]);
    if (argc >= 3 && strcmp(argv[1], "open") == 0) return mode_open(argv[2], argc >= 4 ? argv[3] : NULL);
    if (argc >= 3 && strcmp(argv[1], "cuda") == 0) return mode_cuda(argv[2]);
    if (argc >= 5 && strcmp(argv[1], "table") == 0) return mode_table(argv[2], argv[3], argv[4]);
    if (argc >= 3 && strcmp(argv[1], "status") == 0) return mode_status(argv[2]);
    if (argc >= 5 && strcmp(argv[1], "manifold") == 0) return mode_manifold(argv[2], atof(argv[3]), atof(argv[4]));
    if (argc >= 4 && strcmp(argv[1], "handles") == 0) return mode_handles(argv[2], atoi(argv[3]));
    if (argc >= 3 && strcmp(argv[1], "limits") == 0) return mode_limits(argv[2]);
    if (argc >= 3 && strcmp(argv[1], "defaults") == 0) return mode_defaults(argv[2]);
    if (argc >= 5 && strcmp(argv[1], "grid") == 0) return mode_grid(argv[2], argv[3], argv[4]);
    fprintf(stderr, "usage: check_api threads|arrays|policy|open|cuda|table|status|manifold|handles|limits|defaults|"
            "grid MODEL ...\n");
    return 2;
}
