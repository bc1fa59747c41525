/*
 * example_c: a thermo-surrogate ONNX model from C, as a solver would call it.
 *
 *   example_c MODEL.onnx [--input CELLS.csv | --generate N] [--output OUT.csv]
 *             [--policy clip|warn|error|count] [--threads T] [--seed S] [--quiet]
 *   example_c MODEL.onnx --bench BATCH [--threads T] [--repeat R]
 *
 * Run mode prints the metadata, evaluates the cells (read from CSV, or N generated inside the trained ranges)
 * under the range policy and writes the outputs as CSV. Bench mode times R calls on BATCH generated cells
 * after one warm-up call and prints one machine-readable line:
 *   bench batch=4096 threads=1 repeat=R seconds=S cells_per_second=X best_cells_per_second=Y
 * (X: all cells over all time; Y: the fastest single call). Exit status: 0 success, 1 failure, 2 bad usage.
 */
#define _POSIX_C_SOURCE 199309L
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "example_io.h"
#include "surrogate_ort.h"

typedef struct options {
    const char *model, *input, *output;
    long long generate, bench, repeat, seed;
    int threads, policy, quiet;
} options;

static int usage(const char *problem)
{
    fprintf(stderr,
            "example_c: %s\n"
            "usage: example_c MODEL.onnx [--input CELLS.csv | --generate N] [--output OUT.csv]\n"
            "                 [--policy clip|warn|error|count] [--threads T] [--seed S] [--quiet]\n"
            "       example_c MODEL.onnx --bench BATCH [--threads T] [--repeat R]\n",
            problem);
    return 2;
}

static int parse_count(const char *text, long long minimum, long long *out)
{
    char *end;
    long long value = text ? strtoll(text, &end, 10) : 0;
    if (!text || *end || end == text || value < minimum) return -1;
    *out = value;
    return 0;
}

static int parse_options(int argc, char **argv, options *opt)
{
    *opt = (options){.repeat = 20, .seed = 1, .threads = 1, .policy = SURROGATE_RANGE_ERROR};
    for (int k = 1; k < argc; k++) {
        const char *arg = argv[k], *value = k + 1 < argc ? argv[k + 1] : NULL;
        long long number = 0;
        if (strcmp(arg, "--quiet") == 0) { opt->quiet = 1; continue; }
        if (arg[0] != '-') {
            if (opt->model) return usage("more than one model file given");
            opt->model = arg;
            continue;
        }
        if (!value) return usage("an option lacks its value");
        k++;
        if (strcmp(arg, "--input") == 0) opt->input = value;
        else if (strcmp(arg, "--output") == 0) opt->output = value;
        else if (strcmp(arg, "--policy") == 0) {
            if ((opt->policy = surrogate_parse_range_policy(value)) < 0)
                return usage("--policy is clip, warn, error or count");
        } else if (parse_count(value, 0, &number) != 0) {
            return usage("--generate, --bench, --repeat, --threads and --seed take a non-negative integer");
        } else if (strcmp(arg, "--generate") == 0) opt->generate = number;
        else if (strcmp(arg, "--bench") == 0) opt->bench = number;
        else if (strcmp(arg, "--repeat") == 0) opt->repeat = number;
        else if (strcmp(arg, "--threads") == 0) /* a count out of range: the wrapper's error names the range */
            opt->threads = number > INT_MAX ? INT_MAX : (int)number;
        else if (strcmp(arg, "--seed") == 0) opt->seed = number;
        else return usage("unknown option");
    }
    if (!opt->model) return usage("no model file given");
    if (!opt->bench && !opt->input == !opt->generate) return usage("give either --input or --generate (or --bench)");
    if (opt->bench && opt->repeat < 1) return usage("--repeat must be at least 1");
    return 0;
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int bench(surrogate_model *model, const options *opt)
{
    const int64_t batch = opt->bench;
    float *cells = malloc((size_t)batch * surrogate_n_inputs(model) * sizeof *cells);
    float *outputs = malloc((size_t)batch * surrogate_n_outputs(model) * sizeof *outputs);
    int status = cells && outputs ? 0 : 1;
    if (status) fprintf(stderr, "example_c: error: out of memory for a batch of %lld cells\n", (long long)batch);
    else cells_generate(model, batch, (uint64_t)opt->seed, cells);
    double total = 0, best = 1e300;
    for (long long r = -1; r < opt->repeat && !status; r++) { /* r = -1: warm-up, not timed */
        double start = now();
        status = surrogate_run(model, batch, cells, outputs);
        double elapsed = now() - start;
        if (r >= 0) {
            total += elapsed;
            if (elapsed < best) best = elapsed;
        }
    }
    if (status) fprintf(stderr, "example_c: error: %s\n", surrogate_message(model));
    else
        printf("bench batch=%lld threads=%d repeat=%lld seconds=%.6g cells_per_second=%.6g best_cells_per_second=%.6g\n",
               (long long)batch, opt->threads, opt->repeat, total, (double)batch * opt->repeat / total,
               (double)batch / best);
    free(cells);
    free(outputs);
    return status ? 1 : 0;
}

static int run(surrogate_model *model, const options *opt)
{
    char error[1024];
    float *cells = NULL, *outputs = NULL;
    int64_t n_cells = opt->generate;
    if (opt->input) {
        if (cells_read_csv(opt->input, model, &cells, &n_cells, error, sizeof error)) {
            fprintf(stderr, "example_c: error: %s\n", error);
            return 1;
        }
    } else if ((cells = malloc((size_t)n_cells * surrogate_n_inputs(model) * sizeof *cells))) {
        cells_generate(model, n_cells, (uint64_t)opt->seed, cells);
    }
    outputs = malloc(((size_t)n_cells + 1) * surrogate_n_outputs(model) * sizeof *outputs);
    int status = 1;
    if (!cells || !outputs) {
        fprintf(stderr, "example_c: error: out of memory for %lld cells\n", (long long)n_cells);
    } else if (surrogate_run(model, n_cells, cells, outputs) != SURROGATE_OK) {
        fprintf(stderr, "example_c: error: %s\n", surrogate_message(model));
    } else if (opt->output && cells_write_csv(opt->output, model, outputs, n_cells, error, sizeof error)) {
        fprintf(stderr, "example_c: error: %s\n", error);
    } else {
        status = 0;
        if (!opt->quiet)
            printf("ran %lld cells: %lld outside the trained range%s\n", (long long)n_cells,
                   (long long)surrogate_out_of_range_cells(model),
                   surrogate_out_of_range_cells(model) && opt->policy == SURROGATE_RANGE_CLIP ? " (clipped)" : "");
        if (surrogate_out_of_range_cells(model) && opt->policy == SURROGATE_RANGE_CLIP)
            fprintf(stderr, "example_c: note: %s\n", surrogate_message(model));
        surrogate_counters totals;
        surrogate_get_counters(model, &totals);
        if (!opt->quiet)
            printf("counters: calls=%lld cells=%lld out_of_range=%lld off_manifold=%lld\n", (long long)totals.calls,
                   (long long)totals.cells, (long long)totals.out_of_range_cells, (long long)totals.off_manifold_cells);
    }
    free(cells);
    free(outputs);
    return status;
}

int main(int argc, char **argv)
{
    options opt;
    int status = parse_options(argc, argv, &opt);
    if (status) return status;
    char error[1024];
    surrogate_model *model = surrogate_create(opt.model, opt.threads, (surrogate_range_policy)opt.policy, error,
                                              sizeof error);
    if (!model) {
        fprintf(stderr, "example_c: error: %s\n", error);
        return 1;
    }
    if (!opt.quiet && !opt.bench) surrogate_print_info(model, opt.model, stdout);
    status = opt.bench ? bench(model, &opt) : run(model, &opt);
    surrogate_destroy(model);
    return status;
}
