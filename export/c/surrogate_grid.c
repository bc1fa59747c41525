/* The compiled N-D table lookup; see surrogate_grid.h. */
#include "surrogate_grid.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "surrogate_segment.h"

#define SG_MAGIC "thermo-surrogate-grid"
#define SG_HEADER_MAX 512

/* Whether this host stores numbers little-endian (the file's byte order, read as is). */
static int little_endian(void)
{
    const uint16_t one = 1;
    unsigned char first;
    memcpy(&first, &one, 1);
    return first == 1;
}

/* The header line "thermo-surrogate-grid 1 D n_1 ... n_D n_outputs" into G's sizes. */
static int read_header(FILE *file, const char *path, sg_grid *g, char *problem, size_t size)
{
    char line[SG_HEADER_MAX];
    if (!fgets(line, sizeof line, file) || !strchr(line, '\n')) {
        snprintf(problem, size, "%s: not a grid file (no header line)", path);
        return -1;
    }
    char magic[32];
    int version = 0, used = 0, dims = 0;
    if (sscanf(line, "%31s %d %d%n", magic, &version, &dims, &used) != 3 || strcmp(magic, SG_MAGIC) != 0) {
        snprintf(problem, size, "%s: not a grid file (the header does not start with '%s 1 D')", path, SG_MAGIC);
        return -1;
    }
    if (version != 1 || dims < 1 || dims > SG_MAX_DIMS) {
        snprintf(problem, size, "%s: grid file version %d with %d axes; this reader takes version 1, 1..%d axes",
                 path, version, dims, SG_MAX_DIMS);
        return -1;
    }
    const char *p = line + used;
    for (int k = 0; k <= dims; k++) {
        long value = 0;
        int step = 0;
        if (sscanf(p, "%ld%n", &value, &step) != 1 || value < (k < dims ? 2 : 1) || value > 100000000) {
            snprintf(problem, size, "%s: header entry %d of the sizes is missing or out of range (axes need >= 2 "
                     "nodes, outputs >= 1)", path, k + 1);
            return -1;
        }
        p += step;
        if (k < dims) g->n[k] = (int)value;
        else g->n_outputs = (int)value;
    }
    g->n_dims = dims;
    return 0;
}

/* COUNT items of SIZE bytes from FILE into a malloc'd *OUT. */
static int read_array(FILE *file, const char *path, const char *what, size_t count, size_t item, void **out,
                      char *problem, size_t size)
{
    if (!(*out = malloc(count * item > 0 ? count * item : 1))) {
        snprintf(problem, size, "%s: out of memory for the %s (%zu bytes)", path, what, count * item);
        return -1;
    }
    if (fread(*out, item, count, file) != count) {
        snprintf(problem, size, "%s: the file ends inside the %s (truncated?)", path, what);
        return -1;
    }
    return 0;
}

/* The axes and values after the header, checked. */
static int read_arrays(FILE *file, const char *path, sg_grid *g, char *problem, size_t size)
{
    g->n_values = (size_t)g->n_outputs;
    for (int k = g->n_dims - 1; k >= 0; k--) {
        g->stride[k] = g->n_values;
        g->n_values *= (size_t)g->n[k];
    }
    for (int k = 0; k < g->n_dims; k++) {
        if (read_array(file, path, "axes", (size_t)g->n[k], sizeof(double), (void **)&g->axes[k], problem, size))
            return -1;
        for (int i = 1; i < g->n[k]; i++)
            if (!(g->axes[k][i - 1] < g->axes[k][i])) {
                snprintf(problem, size, "%s: axis %d does not increase strictly (node %d)", path, k + 1, i);
                return -1;
            }
    }
    if (read_array(file, path, "values", g->n_values, sizeof(float), (void **)&g->values, problem, size)) return -1;
    if (fgetc(file) != EOF) {
        snprintf(problem, size, "%s: bytes after the values (the header's sizes do not match the file)", path);
        return -1;
    }
    return 0;
}

int sg_read(const char *path, sg_grid *g, char *problem, size_t size)
{
    if (!little_endian()) {
        snprintf(problem, size, "%s: grid files are little-endian; this host is not", path);
        return -1;
    }
    FILE *file = fopen(path, "rb");
    if (!file) {
        snprintf(problem, size, "cannot open grid file %s: %s", path, strerror(errno));
        return -1;
    }
    int failed = read_header(file, path, g, problem, size) || read_arrays(file, path, g, problem, size);
    fclose(file);
    if (failed) sg_free(g);
    return failed ? -1 : 0;
}

void sg_free(sg_grid *g)
{
    for (int k = 0; k < SG_MAX_DIMS; k++) free(g->axes[k]);
    free(g->values);
    memset(g, 0, sizeof *g);
}

size_t sg_bytes(const sg_grid *g)
{
    size_t bytes = g->n_values * sizeof(float);
    for (int k = 0; k < g->n_dims; k++) bytes += (size_t)g->n[k] * sizeof(double);
    return bytes;
}

void sg_lookup(const sg_grid *g, const double *x, double *out)
{
    const int d = g->n_dims, n_out = g->n_outputs;
    double t[SG_MAX_DIMS];
    size_t base = 0;
    for (int k = 0; k < d; k++) base += (size_t)ss_segment(g->axes[k], g->n[k], x[k], &t[k]) * g->stride[k];
    for (int j = 0; j < n_out; j++) out[j] = 0.0;
    for (unsigned corner = 0; corner < 1u << d; corner++) {
        double w = 1.0;
        size_t offset = base;
        for (int k = 0; k < d; k++) {
            const int up = (int)(corner >> k & 1u);
            w *= up ? t[k] : 1.0 - t[k];
            offset += up ? g->stride[k] : 0;
        }
        const float *v = g->values + offset;
        for (int j = 0; j < n_out; j++) out[j] += w * v[j];
    }
}
