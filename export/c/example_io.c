/* Cell files, generated cells and a metadata printout for the examples; see example_io.h. */
#include "example_io.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static int fail(char *error, size_t size, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    if (error && size) vsnprintf(error, size, format, args);
    va_end(args);
    return -1;
}

/* One line of any length from STREAM into *line (grown with realloc); 0 at end of file. */
static int read_line(FILE *stream, char **line, size_t *capacity)
{
    size_t length = 0;
    int c;
    while ((c = fgetc(stream)) != EOF && c != '\n') {
        if (length + 2 > *capacity) {
            size_t grown_size = *capacity ? 2 * *capacity : 256;
            char *grown = realloc(*line, grown_size);
            if (!grown) return -1;
            *line = grown;
            *capacity = grown_size;
        }
        (*line)[length++] = (char)c;
    }
    if (c == EOF && length == 0) return 0;
    if (!*line && !(*line = malloc(*capacity = 1))) return -1;
    if (length > 0 && (*line)[length - 1] == '\r') length--;
    (*line)[length] = '\0';
    return 1;
}

static void trim(char **start, char **end)
{
    while (**start == ' ' || **start == '\t') (*start)++;
    while (*end > *start && ((*end)[-1] == ' ' || (*end)[-1] == '\t')) (*end)--;
}

static int check_header(char *line, const surrogate_model *model, const char *path, char *error, size_t size)
{
    const int n = surrogate_n_inputs(model);
    char *field = line;
    for (int i = 0; i < n; i++) {
        char *comma = strchr(field, ',');
        char *end = comma ? comma : field + strlen(field);
        char *start = field;
        trim(&start, &end);
        const char *name = surrogate_input_name(model, i);
        if ((size_t)(end - start) != strlen(name) || strncmp(start, name, strlen(name)) != 0 ||
            (i == n - 1 && comma) || (i < n - 1 && !comma))
            return fail(error, size, "%s: header line '%s' does not list the model's %d inputs in order "
                        "(expected column %d to be '%s')", path, line, n, i + 1, name);
        field = comma ? comma + 1 : end;
    }
    return 0;
}

int cells_read_csv(const char *path, const surrogate_model *model, float **cells, int64_t *n_cells, char *error,
                   size_t error_size)
{
    const int n = surrogate_n_inputs(model);
    *cells = NULL;
    *n_cells = 0;
    FILE *stream = fopen(path, "r");
    if (!stream) return fail(error, error_size, "cannot open input file %s: %s", path, strerror(errno));
    char *line = NULL;
    size_t capacity = 0, allocated = 0;
    int status = read_line(stream, &line, &capacity);
    if (status <= 0) {
        status = fail(error, error_size, "%s: empty file (expected a header line with the input names)", path);
    } else {
        status = check_header(line, model, path, error, error_size);
    }
    for (int64_t row = 2; status == 0; row++) {
        int got = read_line(stream, &line, &capacity);
        if (got == 0) break;
        if (got < 0) { status = fail(error, error_size, "%s: out of memory", path); break; }
        if (line[strspn(line, " \t")] == '\0') continue;
        if ((size_t)(*n_cells + 1) * (size_t)n > allocated) {
            size_t grown_size = allocated ? 2 * allocated : 1024 * (size_t)n;
            float *grown = realloc(*cells, grown_size * sizeof *grown);
            if (!grown) { status = fail(error, error_size, "%s: out of memory", path); break; }
            *cells = grown;
            allocated = grown_size;
        }
        char *p = line;
        for (int i = 0; i < n && status == 0; i++) {
            char *end;
            errno = 0;
            float value = strtof(p, &end);
            while (*end == ' ' || *end == '\t') end++;
            if (end == p || (*end != ',' && *end != '\0') || (i < n - 1) != (*end == ','))
                status = fail(error, error_size, "%s line %lld: expected %d comma-separated numbers (one per input), "
                              "got '%s'", path, (long long)row, n, line);
            (*cells)[*n_cells * n + i] = value;
            p = end + (*end == ',');
        }
        if (status == 0) (*n_cells)++;
    }
    free(line);
    fclose(stream);
    if (status) {
        free(*cells);
        *cells = NULL;
        *n_cells = 0;
    }
    return status;
}

int cells_write_csv(const char *path, const surrogate_model *model, const float *outputs, int64_t n_cells,
                    char *error, size_t error_size)
{
    const int n = surrogate_n_outputs(model);
    size_t length = strlen(path) + 5;
    char *temporary = malloc(length);
    if (!temporary) return fail(error, error_size, "out of memory");
    snprintf(temporary, length, "%s.tmp", path);
    FILE *stream = fopen(temporary, "w");
    if (!stream) {
        int status = fail(error, error_size, "cannot write %s: %s", temporary, strerror(errno));
        free(temporary);
        return status;
    }
    for (int j = 0; j < n; j++) fprintf(stream, "%s%s", surrogate_output_name(model, j), j + 1 < n ? "," : "\n");
    for (int64_t cell = 0; cell < n_cells; cell++)
        for (int j = 0; j < n; j++) fprintf(stream, "%.9g%s", outputs[cell * n + j], j + 1 < n ? "," : "\n");
    int status = ferror(stream) | fclose(stream);
    if (status || rename(temporary, path) != 0) {
        status = fail(error, error_size, "cannot write %s: %s", path, strerror(errno));
        remove(temporary);
    }
    free(temporary);
    return status;
}

/* splitmix64 (Steele, Lea & Flood 2014): a small, seedable generator with the same stream everywhere. */
static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* A value drawn in [lo, hi] (log-uniform for a positive range spanning > 2 decades), as a float inside it. */
static float draw(uint64_t *state, double lo, double hi)
{
    double u = (double)(splitmix64(state) >> 11) * 0x1.0p-53;
    double x = (lo > 0 && hi / lo > 100) ? lo * pow(hi / lo, u) : lo + u * (hi - lo);
    float f = (float)x;
    return f < lo ? nextafterf(f, INFINITY) : (f > hi ? nextafterf(f, -INFINITY) : f);
}

void cells_generate(const surrogate_model *model, int64_t n_cells, uint64_t seed, float *cells)
{
    const int n = surrogate_n_inputs(model), along = surrogate_manifold_along(model);
    uint64_t state = seed;
    for (int64_t cell = 0; cell < n_cells; cell++) {
        float *row = cells + cell * n;
        double lo, hi;
        if (along >= 0) { /* the binned input first, then the others inside its bin's manifold bounds */
            surrogate_input_range(model, along, &lo, &hi);
            row[along] = draw(&state, lo, hi);
        }
        for (int i = 0; i < n; i++) {
            if (i == along) continue;
            if (along < 0 || surrogate_manifold_range(model, i, row[along], &lo, &hi) != SURROGATE_OK)
                surrogate_input_range(model, i, &lo, &hi);
            row[i] = draw(&state, lo, hi);
        }
    }
}

void surrogate_print_info(const surrogate_model *model, const char *path, FILE *stream)
{
    static const char *const provenance[] = {"model", "weighting", "precision", "toolkit_version", "table_sha256"};
    fprintf(stream, "model %s (ONNX Runtime %s)\n", path, surrogate_runtime_version());
    for (size_t k = 0; k < sizeof provenance / sizeof *provenance; k++) {
        const char *value = surrogate_metadata(model, provenance[k]);
        fprintf(stream, "  %-16s %s\n", provenance[k], value ? value : "(not given)");
    }
    fprintf(stream, "  %-16s %s\n", "backend", surrogate_backend(model));
    fprintf(stream, "  %d inputs:\n", surrogate_n_inputs(model));
    for (int i = 0; i < surrogate_n_inputs(model); i++) {
        double lo, hi;
        surrogate_input_range(model, i, &lo, &hi);
        fprintf(stream, "    %-12s [%.9g, %.9g] %s\n", surrogate_input_name(model, i), lo, hi,
                surrogate_input_units(model, i));
    }
    fprintf(stream, "  %d outputs:\n", surrogate_n_outputs(model));
    for (int j = 0; j < surrogate_n_outputs(model); j++)
        fprintf(stream, "    %-12s %s\n", surrogate_output_name(model, j), surrogate_output_units(model, j));
}
