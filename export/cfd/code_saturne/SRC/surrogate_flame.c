/*
 * The planar H2/air jet flame's shared state (see surrogate_flame.h): settings, the surrogate model, the
 * per-step inference through the toolkit's C wrapper, its timers and the final dump.
 */

#include "cs_defs.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bft_error.h"
#include "bft_mem.h"
#include "bft_printf.h"
#include "cs_field.h"
#include "cs_field_operator.h"
#include "cs_field_pointer.h"
#include "cs_mesh.h"
#include "cs_mesh_location.h"
#include "cs_mesh_quantities.h"
#include "cs_post.h"
#include "cs_time_step.h"

#include "surrogate_ort.h"
#include "surrogate_flame.h"

#define CONFIG_FILE "surrogate_flame.cfg"
#define GAS_CONSTANT 8.314462618 /* J/(mol K) */
#define MAX_OUTPUTS 64

static surrogate_flame_settings settings;
static int settings_read = 0;

static surrogate_model *model = NULL;
static int n_in = 0, n_out = 0;
static int input_source[MAX_OUTPUTS];      /* per model input: 0 Z, 1 C, 2 chi, 3 pressure */
static cs_field_t *output_field[MAX_OUTPUTS];
static double output_molar_mass[MAX_OUTPUTS]; /* kg/mol for Y_k outputs of known species, else 0 */
static int t_index = -1, omega_c_index = -1;
static cs_field_t *rho_surrogate = NULL;
static float *in_buffer = NULL, *out_buffer = NULL;
static cs_lnum_t buffer_cells = 0;

/* timers [s]: the wrapper's surrogate_run, the whole update (gradient, packing, run, unpacking), whole steps */
static double t_run = 0, t_update = 0, t_steps = 0, t_last_end = -1;
static double t_run_step = 0, t_update_step = 0;
static int n_timed_steps = 0, n_updates = 0;
static long long out_of_range_total = 0;
static int out_of_range_max = 0;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s)) s++;
    char *end = s + strlen(s);
    while (end > s && isspace((unsigned char)end[-1])) *--end = '\0';
    return s;
}

static double parse_number(const char *key, const char *value)
{
    char *end;
    errno = 0;
    double x = strtod(value, &end);
    if (errno || end == value || *trim(end) != '\0')
        bft_error(__FILE__, __LINE__, 0, "%s: '%s' must be a number, got '%s'", CONFIG_FILE, key, value);
    return x;
}

static void copy_text(char *dest, size_t size, const char *key, const char *value)
{
    if (strlen(value) >= size)
        bft_error(__FILE__, __LINE__, 0, "%s: '%s' is longer than %zu characters", CONFIG_FILE, key, size - 1);
    strcpy(dest, value);
}

static void read_settings(void)
{
    surrogate_flame_settings s = {
        .model = "model.onnx", .dump = "fields.csv", .timing = "timing.json", .policy = "clip",
        .n_threads = 1, .n_steps = 300, .dt = 1e-4, .u_fuel = 2.0, .u_air = 0.5, .slot_half_width = 1e-3,
        .rho0 = 1.18, .mu0 = 1e-4 * 1.18, .pressure = 101325.0, .c_init = 0.8,
        .variable_density = 0, .rho_relax = 1.0,
    };
    FILE *f = fopen(CONFIG_FILE, "r");
    if (!f)
        bft_error(__FILE__, __LINE__, 0, "cannot open %s in the run directory (copied from DATA/)", CONFIG_FILE);
    char line[2048];
    int number = 0;
    while (fgets(line, sizeof line, f)) {
        number++;
        char *text = trim(line);
        if (*text == '\0' || *text == '#') continue;
        char *eq = strchr(text, '=');
        if (!eq)
            bft_error(__FILE__, __LINE__, 0, "%s line %d: expected 'key = value', got '%s'", CONFIG_FILE, number,
                      text);
        *eq = '\0';
        char *key = trim(text), *value = trim(eq + 1);
        if (!strcmp(key, "model")) copy_text(s.model, sizeof s.model, key, value);
        else if (!strcmp(key, "dump")) copy_text(s.dump, sizeof s.dump, key, value);
        else if (!strcmp(key, "timing")) copy_text(s.timing, sizeof s.timing, key, value);
        else if (!strcmp(key, "policy")) copy_text(s.policy, sizeof s.policy, key, value);
        else if (!strcmp(key, "n_threads")) s.n_threads = (int)parse_number(key, value);
        else if (!strcmp(key, "n_steps")) s.n_steps = (int)parse_number(key, value);
        else if (!strcmp(key, "dt")) s.dt = parse_number(key, value);
        else if (!strcmp(key, "u_fuel")) s.u_fuel = parse_number(key, value);
        else if (!strcmp(key, "u_air")) s.u_air = parse_number(key, value);
        else if (!strcmp(key, "slot_half_width")) s.slot_half_width = parse_number(key, value);
        else if (!strcmp(key, "rho0")) s.rho0 = parse_number(key, value);
        else if (!strcmp(key, "mu0")) s.mu0 = parse_number(key, value);
        else if (!strcmp(key, "pressure")) s.pressure = parse_number(key, value);
        else if (!strcmp(key, "c_init")) s.c_init = parse_number(key, value);
        else if (!strcmp(key, "variable_density")) s.variable_density = (int)parse_number(key, value);
        else if (!strcmp(key, "rho_relax")) s.rho_relax = parse_number(key, value);
        else
            bft_error(__FILE__, __LINE__, 0, "%s line %d: unknown key '%s'", CONFIG_FILE, number, key);
    }
    fclose(f);
    if (surrogate_parse_range_policy(s.policy) < 0)
        bft_error(__FILE__, __LINE__, 0, "%s: policy must be clip, warn or error, got '%s'", CONFIG_FILE, s.policy);
    if (s.n_steps < 1 || s.dt <= 0 || s.rho0 <= 0 || s.mu0 <= 0 || s.rho_relax <= 0 ||
        s.rho_relax > 1)
        bft_error(__FILE__, __LINE__, 0, "%s: n_steps >= 1, dt, rho0, mu0 > 0 and 0 < rho_relax <= 1 "
                  "expected", CONFIG_FILE);
    settings = s;
    settings_read = 1;
}

const surrogate_flame_settings *surrogate_flame_settings_get(void)
{
    if (!settings_read) read_settings();
    return &settings;
}

/* Molar mass [kg/mol] of the species of an output "Y_<species>", or 0 when it is not a species known here. */
static double species_molar_mass(const char *name)
{
    static const struct { const char *species; double w; } table[] = {
        {"H2", 2.016e-3}, {"H", 1.008e-3}, {"O", 15.999e-3}, {"O2", 31.998e-3}, {"OH", 17.007e-3},
        {"H2O", 18.015e-3}, {"HO2", 33.006e-3}, {"H2O2", 34.014e-3}, {"N2", 28.014e-3}, {"AR", 39.948e-3},
        {"Ar", 39.948e-3}, {"HE", 4.0026e-3}, {"He", 4.0026e-3},
    };
    if (strncmp(name, "Y_", 2) != 0) return 0;
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (!strcmp(name + 2, table[i].species)) return table[i].w;
    return 0;
}

static cs_field_t *cell_field(const char *name)
{
    if (cs_field_by_name_try(name) != NULL)
        bft_error(__FILE__, __LINE__, 0, "model output '%s' clashes with an existing Code_Saturne field", name);
    cs_field_t *f = cs_field_create(name, CS_FIELD_PROPERTY | CS_FIELD_USER, CS_MESH_LOCATION_CELLS, 1, false);
    cs_field_set_key_int(f, cs_field_key_id("post_vis"), CS_POST_ON_LOCATION);
    cs_field_set_key_int(f, cs_field_key_id("log"), 1);
    return f;
}

void surrogate_flame_define_fields(void)
{
    const surrogate_flame_settings *s = surrogate_flame_settings_get();
    char error[1024];
    model = surrogate_create(s->model, s->n_threads, (surrogate_range_policy)surrogate_parse_range_policy(s->policy),
                             error, sizeof error);
    if (!model) bft_error(__FILE__, __LINE__, 0, "surrogate: %s", error);
    n_in = surrogate_n_inputs(model);
    n_out = surrogate_n_outputs(model);
    if (n_in > MAX_OUTPUTS || n_out > MAX_OUTPUTS)
        bft_error(__FILE__, __LINE__, 0, "surrogate: %s has more than %d inputs or outputs", s->model, MAX_OUTPUTS);
    for (int i = 0; i < n_in; i++) {
        const char *name = surrogate_input_name(model, i);
        if (!strcmp(name, "Z")) input_source[i] = 0;
        else if (!strcmp(name, "C")) {
            /* C above the manifold's largest value would be clipped at the model's input and keep its source:
               Code_Saturne clips the transported C to the trained range instead */
            double lo, hi;
            input_source[i] = 1;
            if (surrogate_input_range(model, i, &lo, &hi) == 0 && isfinite(hi))
                cs_field_set_key_double(cs_field_by_name("C"), cs_field_key_id("max_scalar_clipping"), hi);
        }
        else if (!strcmp(name, "chi")) input_source[i] = 2;
        else if (!strcmp(name, "p")) input_source[i] = 3;
        else
            bft_error(__FILE__, __LINE__, 0, "surrogate: %s takes input '%s'; this case provides Z, C, chi and p",
                      s->model, name);
    }
    for (int j = 0; j < n_out; j++) {
        const char *name = surrogate_output_name(model, j);
        output_field[j] = cell_field(name);
        output_molar_mass[j] = species_molar_mass(name);
        if (!strcmp(name, "T")) t_index = j;
        if (!strcmp(name, "omega_C")) omega_c_index = j;
    }
    if (t_index < 0)
        bft_error(__FILE__, __LINE__, 0, "surrogate: %s has no output 'T' (train with --outputs ...,T,omega_C)",
                  s->model);
    rho_surrogate = cell_field("rho_surrogate");
    bft_printf("\nsurrogate: %s, %d inputs, %d outputs, ONNX Runtime %s, policy %s, %d thread(s), %s density%s\n",
               s->model, n_in, n_out, surrogate_runtime_version(), s->policy, s->n_threads,
               s->variable_density ? "variable" : "constant",
               omega_c_index < 0 ? "; no omega_C output: C has no source" : "");
}

/* Ideal-gas density at (T, Y_k) of the known species (their mass fractions renormalized), 0 if none known. */
static double ideal_gas_density(const float *y)
{
    double sum_y = 0, sum_y_over_w = 0;
    for (int j = 0; j < n_out; j++)
        if (output_molar_mass[j] > 0) {
            double yj = y[j] > 0 ? y[j] : 0;
            sum_y += yj;
            sum_y_over_w += yj / output_molar_mass[j];
        }
    if (sum_y <= 0 || sum_y_over_w <= 0) return 0;
    double molar_mass = sum_y / sum_y_over_w;
    return settings.pressure * molar_mass / (GAS_CONSTANT * y[t_index]);
}

void surrogate_flame_update(void)
{
    const double t0 = now();
    if (t_last_end < 0) t_last_end = t0;
    const cs_lnum_t n_cells = cs_glob_mesh->n_cells;
    const cs_lnum_t n_cells_ext = cs_glob_mesh->n_cells_with_ghosts;
    const cs_real_t *z = cs_field_by_name("Z")->val, *c = cs_field_by_name("C")->val;
    cs_real_t *rho = CS_F_(rho)->val;

    if (buffer_cells < n_cells) {
        BFT_REALLOC(in_buffer, (size_t)n_cells * n_in, float);
        BFT_REALLOC(out_buffer, (size_t)n_cells * n_out, float);
        buffer_cells = n_cells;
    }
    cs_real_3_t *grad;
    BFT_MALLOC(grad, n_cells_ext, cs_real_3_t);
    cs_field_gradient_scalar(cs_field_by_name("Z"), false, 1, true, grad);

    for (cs_lnum_t k = 0; k < n_cells; k++) {
        const double chi = 2.0 * settings.mu0 / rho[k] *
                           (grad[k][0] * grad[k][0] + grad[k][1] * grad[k][1] + grad[k][2] * grad[k][2]);
        const double source[4] = {z[k], c[k], chi, settings.pressure};
        for (int i = 0; i < n_in; i++) in_buffer[(size_t)k * n_in + i] = (float)source[input_source[i]];
    }
    BFT_FREE(grad);

    const double t1 = now();
    const int status = surrogate_run(model, n_cells, in_buffer, out_buffer);
    const double t2 = now();
    if (status != SURROGATE_OK) bft_error(__FILE__, __LINE__, 0, "surrogate_run: %s", surrogate_message(model));
    const int outside = (int)surrogate_out_of_range_cells(model);
    out_of_range_total += outside;
    if (outside > out_of_range_max) out_of_range_max = outside;

    const double relax = settings.rho_relax;
    for (cs_lnum_t k = 0; k < n_cells; k++) {
        const float *y = out_buffer + (size_t)k * n_out;
        for (int j = 0; j < n_out; j++) output_field[j]->val[k] = y[j];
        const double r = ideal_gas_density(y);
        rho_surrogate->val[k] = r;
        if (settings.variable_density && r > 0) rho[k] = (1 - relax) * rho[k] + relax * r;
    }
    if (settings.variable_density) {
        const cs_lnum_t n_b_faces = cs_glob_mesh->n_b_faces;
        const cs_lnum_t *b_face_cells = cs_glob_mesh->b_face_cells;
        cs_real_t *rho_b = CS_F_(rho_b)->val;
        for (cs_lnum_t f = 0; f < n_b_faces; f++) rho_b[f] = rho[b_face_cells[f]];
    }
    const double t3 = now();
    t_run_step += t2 - t1;
    t_update_step += t3 - t0;
    n_updates++;
}

void surrogate_flame_end_step(void)
{
    const double t = now();
    /* the first step also pays for set-up (model load, first ONNX Runtime call): left out of the share */
    if (t_last_end >= 0 && cs_glob_time_step->nt_cur > cs_glob_time_step->nt_prev + 1) {
        t_steps += t - t_last_end;
        t_run += t_run_step;
        t_update += t_update_step;
        n_timed_steps++;
    }
    t_run_step = t_update_step = 0;
    t_last_end = t;
}

static void write_dump(const char *path)
{
    const cs_lnum_t n_cells = cs_glob_mesh->n_cells;
    const cs_real_t *xyz = cs_glob_mesh_quantities->cell_cen;
    const cs_real_3_t *u = (const cs_real_3_t *)CS_F_(vel)->val;
    FILE *f = fopen(path, "w");
    if (!f) bft_error(__FILE__, __LINE__, errno, "cannot write %s", path);
    fprintf(f, "x,y");
    for (int i = 0; i < n_in; i++) fprintf(f, ",%s", surrogate_input_name(model, i));
    for (int j = 0; j < n_out; j++) fprintf(f, ",%s", surrogate_output_name(model, j));
    fprintf(f, ",rho_surrogate,rho,u,v\n");
    for (cs_lnum_t k = 0; k < n_cells; k++) {
        fprintf(f, "%.9g,%.9g", xyz[3 * k], xyz[3 * k + 1]);
        for (int i = 0; i < n_in; i++) fprintf(f, ",%.9g", in_buffer[(size_t)k * n_in + i]);
        for (int j = 0; j < n_out; j++) fprintf(f, ",%.9g", out_buffer[(size_t)k * n_out + j]);
        fprintf(f, ",%.9g,%.9g,%.9g,%.9g\n", rho_surrogate->val[k], CS_F_(rho)->val[k], u[k][0], u[k][1]);
    }
    if (fclose(f) != 0) bft_error(__FILE__, __LINE__, errno, "cannot write %s", path);
}

static void write_timing(const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f) bft_error(__FILE__, __LINE__, errno, "cannot write %s", path);
    fprintf(f, "{\"cells\": %ld, \"steps\": %d, \"timed_steps\": %d, \"updates\": %d, \"threads\": %d,\n"
               " \"step_seconds\": %.9g, \"surrogate_run_seconds\": %.9g, \"update_seconds\": %.9g,\n"
               " \"out_of_range_cells_total\": %lld, \"out_of_range_cells_max_per_step\": %d,\n"
               " \"variable_density\": %d, \"onnxruntime\": \"%s\"}\n",
            (long)cs_glob_mesh->n_cells, cs_glob_time_step->nt_cur, n_timed_steps, n_updates, settings.n_threads,
            t_steps, t_run, t_update, out_of_range_total, out_of_range_max, settings.variable_density,
            surrogate_runtime_version());
    if (fclose(f) != 0) bft_error(__FILE__, __LINE__, errno, "cannot write %s", path);
}

void surrogate_flame_finalize(void)
{
    if (!model) return;
    if (cs_glob_n_ranks > 1 && cs_glob_rank_id > 0) {
        /* each rank would overwrite rank 0's files: this case writes them from a single-rank run */
    } else if (n_updates > 0) {
        if (settings.dump[0]) write_dump(settings.dump);
        write_timing(settings.timing);
    }
    if (t_steps > 0)
        bft_printf("\nsurrogate: %d timed steps, %.3f s; surrogate_run %.3f s (%.1f %%), whole update %.3f s "
                   "(%.1f %%); out-of-range cells: %lld in all, at most %d per step\n",
                   n_timed_steps, t_steps, t_run, 100 * t_run / t_steps, t_update, 100 * t_update / t_steps,
                   out_of_range_total, out_of_range_max);
    surrogate_destroy(model);
    model = NULL;
    BFT_FREE(in_buffer);
    BFT_FREE(out_buffer);
}
