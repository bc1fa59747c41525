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
static int t_index = -1, omega_c_index = -1, rho_index = -1, c_input = -1, z_input = -1;
static int bounded_c = 0;                  /* the model's manifold gives C_min(Z)..C_max(Z) */
static cs_field_t *rho_surrogate = NULL;
static float *in_buffer = NULL, *out_buffer = NULL;
static double *c_lower = NULL, *c_upper = NULL; /* C_min(Z), C_max(Z) of each cell at the last update */
static double *t_previous = NULL;          /* T at the last steadiness check */
static cs_lnum_t buffer_cells = 0;
static long long projected_total = 0;      /* cells whose transported C was moved onto [C_min(Z), C_max(Z)] */
static int projected_max = 0;
static double dT_last = -1;                /* max |T change| over the last steady_interval steps (-1: none yet) */
static int steady = 0;
/* time averages of the dumped cell values over the last average_steps steps, in two halves (first, second) */
static double *mean_sum[2] = {NULL, NULL};
static int mean_count[2] = {0, 0};

/* The values of cell K written to the dump after x, y: inputs, outputs, rho_surrogate, rho_flow, u, v. */
static int dump_width(void) { return n_in + n_out + 4; }

static void dump_values(cs_lnum_t k, double *row)
{
    const cs_real_3_t *u = (const cs_real_3_t *)CS_F_(vel)->val;
    int i = 0;
    for (int j = 0; j < n_in; j++) row[i++] = in_buffer[(size_t)k * n_in + j];
    for (int j = 0; j < n_out; j++) row[i++] = out_buffer[(size_t)k * n_out + j];
    row[i++] = rho_surrogate->val[k];
    row[i++] = CS_F_(rho)->val[k];
    row[i++] = u[k][0];
    row[i++] = u[k][1];
}

/* Add this step's cell values to the half of the averaging window it falls in. */
static void accumulate_means(void)
{
    const int first = settings.n_steps - settings.average_steps, step = cs_glob_time_step->nt_cur;
    if (settings.average_steps <= 0 || step <= first) return;
    const int half = step > first + settings.average_steps / 2;
    const cs_lnum_t n_cells = cs_glob_mesh->n_cells;
    const int width = dump_width();
    if (mean_sum[half] == NULL) {
        BFT_MALLOC(mean_sum[half], (size_t)n_cells * width, double);
        for (size_t i = 0; i < (size_t)n_cells * width; i++) mean_sum[half][i] = 0;
    }
    double row[2 * MAX_OUTPUTS + 4];
    for (cs_lnum_t k = 0; k < n_cells; k++) {
        dump_values(k, row);
        for (int i = 0; i < width; i++) mean_sum[half][(size_t)k * width + i] += row[i];
    }
    mean_count[half]++;
}

/* timers [s]: the wrapper's surrogate_run, the whole update (C onto its bounds, chi, packing, run, unpacking), steps */
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
        .n_threads = 1, .n_steps = 300, .dt = 1e-4, .u_fuel = 0.5, .u_air = 2.0, .slot_half_width = 1e-3,
        .rho0 = 1.18, .mu0 = 1e-4 * 1.18, .pressure = 101325.0, .c_init = 0.8,
        .variable_density = 0, .rho_relax = 1.0, .steady_tolerance = 0.0, .steady_interval = 100, .average_steps = 0,
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
        else if (!strcmp(key, "steady_tolerance")) s.steady_tolerance = parse_number(key, value);
        else if (!strcmp(key, "steady_interval")) s.steady_interval = (int)parse_number(key, value);
        else if (!strcmp(key, "average_steps")) s.average_steps = (int)parse_number(key, value);
        else
            bft_error(__FILE__, __LINE__, 0, "%s line %d: unknown key '%s'", CONFIG_FILE, number, key);
    }
    fclose(f);
    if (surrogate_parse_range_policy(s.policy) < 0)
        bft_error(__FILE__, __LINE__, 0, "%s: policy must be clip, warn or error, got '%s'", CONFIG_FILE, s.policy);
    if (s.n_steps < 1 || s.dt <= 0 || s.rho0 <= 0 || s.mu0 <= 0 || s.rho_relax <= 0 ||
        s.rho_relax > 1 || s.steady_tolerance < 0 || s.steady_interval < 1 || s.average_steps < 0 ||
        s.average_steps > s.n_steps)
        bft_error(__FILE__, __LINE__, 0, "%s: n_steps >= 1, dt, rho0, mu0 > 0, 0 < rho_relax <= 1, "
                  "steady_tolerance >= 0, steady_interval >= 1 and 0 <= average_steps <= n_steps expected", CONFIG_FILE);
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
        if (!strcmp(name, "Z")) input_source[z_input = i] = 0;
        else if (!strcmp(name, "C")) {
            /* C above the model's largest value would be clipped at the model's input and keep its source:
               Code_Saturne clips the transported C to the trained range, and each update moves it onto the
               manifold's C_min(Z)..C_max(Z) when the model has one */
            double lo, hi;
            input_source[c_input = i] = 1;
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
        if (!strcmp(name, "rho")) rho_index = j;
    }
    bounded_c = c_input >= 0 && z_input >= 0 && surrogate_manifold_along(model) == z_input;
    if (t_index < 0)
        bft_error(__FILE__, __LINE__, 0, "surrogate: %s has no output 'T' (train with --outputs ...,T,omega_C)",
                  s->model);
    rho_surrogate = cell_field("rho_surrogate");
    bft_printf("\nsurrogate: %s (%s backend), %d inputs, %d outputs, ONNX Runtime %s, policy %s, %d thread(s), "
               "%s density, density %s%s%s\n",
               s->model, surrogate_backend(model), n_in, n_out, surrogate_runtime_version(), s->policy,
               s->n_threads, s->variable_density ? "variable" : "constant",
               rho_index >= 0 ? "from the model's output rho" : "of the ideal gas at the model's T and Y_k",
               bounded_c ? ", C kept on C_min(Z)..C_max(Z)" : "",
               omega_c_index < 0 ? "; no omega_C output: C has no source" : "");
}

/* The model's density: its output rho (the table's own definition) when it has one, else the ideal gas at
   (T, Y_k) of the known species (their mass fractions renormalized); 0 if neither. */
static double model_density(const float *y)
{
    if (rho_index >= 0) return y[rho_index];
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

/* C_min(Z)..C_max(Z) of every cell from the model's continuous bounds (the whole range of C without them), and
   the transported C moved onto them: the table (or its surrogate) has no state beyond, and a C past C_max(Z) would
   be clipped at the model's input while keeping its source. Cells moved by more than 1e-6 of C's range count. */
static void project_progress_variable(cs_lnum_t n_cells, const cs_real_t *z, cs_real_t *c)
{
    double box_lo = 0, box_hi = 1;
    if (c_input >= 0) surrogate_input_range(model, c_input, &box_lo, &box_hi);
    const double slack = 1e-6 * (box_hi - box_lo);
    int projected = 0;
    for (cs_lnum_t k = 0; k < n_cells; k++) {
        double lo = box_lo, hi = box_hi;
        if (bounded_c) surrogate_manifold_range(model, c_input, z[k], &lo, &hi);
        c_lower[k] = lo;
        c_upper[k] = hi;
        if (c[k] < lo - slack || c[k] > hi + slack) projected++;
        c[k] = c[k] < lo ? lo : (c[k] > hi ? hi : c[k]);
    }
    projected_total += projected;
    if (projected > projected_max) projected_max = projected;
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
        BFT_REALLOC(c_lower, n_cells, double);
        BFT_REALLOC(c_upper, n_cells, double);
        buffer_cells = n_cells;
    }
    project_progress_variable(n_cells, z, cs_field_by_name("C")->val);
    int wants_chi = 0; /* chi = 2 D |grad Z|^2 only for a model that takes it (the FPV backends do not) */
    for (int i = 0; i < n_in; i++) wants_chi |= input_source[i] == 2;
    cs_real_3_t *grad = NULL;
    if (wants_chi) {
        BFT_MALLOC(grad, n_cells_ext, cs_real_3_t);
        cs_field_gradient_scalar(cs_field_by_name("Z"), false, 1, true, grad);
    }

    for (cs_lnum_t k = 0; k < n_cells; k++) {
        const double chi = wants_chi ? 2.0 * settings.mu0 / rho[k] *
                           (grad[k][0] * grad[k][0] + grad[k][1] * grad[k][1] + grad[k][2] * grad[k][2]) : 0.0;
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
        const double r = model_density(y);
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

void surrogate_flame_progress_source(const cs_real_t *c, cs_real_t *st_exp, cs_real_t *st_imp)
{
    if (omega_c_index < 0) return;
    const cs_real_t *vol = cs_glob_mesh_quantities->cell_vol;
    const cs_real_t *omega = output_field[omega_c_index]->val;
    for (cs_lnum_t k = 0; k < cs_glob_mesh->n_cells; k++) {
        /* one-way: the flow's density rho0 carries C, so the source per unit mass is the table's omega_C / rho */
        const double scale = settings.variable_density || rho_surrogate->val[k] <= 0
                           ? 1.0 : settings.rho0 / rho_surrogate->val[k];
        const double w = omega[k] * scale * vol[k];
        if (w > 0) { /* w (C_max - C_new) / (C_max - C_old): C_new cannot pass C_max(Z) */
            const double gap = fmax(c_upper[k] - c[k], 1e-12);
            st_exp[k] += w * c_upper[k] / gap;
            st_imp[k] -= w / gap;
        } else if (w < 0) { /* w (C_new - C_min) / (C_old - C_min): nor fall below C_min(Z) */
            const double gap = fmax(c[k] - c_lower[k], 1e-12);
            st_exp[k] -= w * c_lower[k] / gap;
            st_imp[k] += w / gap;
        }
    }
}

/* Every steady_interval steps: the largest change of T since the last check; at or below steady_tolerance the run
   stops after this step (steady state). */
static void check_steadiness(void)
{
    const cs_time_step_t *ts = cs_glob_time_step;
    if (t_index < 0 || settings.steady_tolerance <= 0 || ts->nt_cur % settings.steady_interval) return;
    const cs_lnum_t n_cells = cs_glob_mesh->n_cells;
    const cs_real_t *t = output_field[t_index]->val;
    if (t_previous != NULL) {
        double change = 0;
        cs_lnum_t where = 0;
        for (cs_lnum_t k = 0; k < n_cells; k++)
            if (fabs(t[k] - t_previous[k]) > change) {
                change = fabs(t[k] - t_previous[k]);
                where = k;
            }
        dT_last = change;
        const cs_real_t *xyz = cs_glob_mesh_quantities->cell_cen;
        bft_printf("surrogate: step %d, max |T change| over %d steps %.3g K at x = %.3g mm, y = %.3g mm\n",
                   ts->nt_cur, settings.steady_interval, change, 1e3 * xyz[3 * where], 1e3 * xyz[3 * where + 1]);
        steady = change <= settings.steady_tolerance;
        if (steady && settings.average_steps == 0) {
            cs_time_step_define_nt_max(ts->nt_cur);
        }
    } else {
        BFT_MALLOC(t_previous, n_cells, double);
    }
    for (cs_lnum_t k = 0; k < n_cells; k++) t_previous[k] = t[k];
}

void surrogate_flame_end_step(void)
{
    check_steadiness();
    accumulate_means();
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

/* The cell values as CSV: the last step's (MEAN NULL), or the means of both halves of the averaging window. */
static void write_dump(const char *path, int mean)
{
    const cs_lnum_t n_cells = cs_glob_mesh->n_cells;
    const cs_real_t *xyz = cs_glob_mesh_quantities->cell_cen;
    const int width = dump_width(), count = mean_count[0] + mean_count[1];
    FILE *f = fopen(path, "w");
    if (!f) bft_error(__FILE__, __LINE__, errno, "cannot write %s", path);
    fprintf(f, "x,y");
    for (int i = 0; i < n_in; i++) fprintf(f, ",%s", surrogate_input_name(model, i));
    for (int j = 0; j < n_out; j++) fprintf(f, ",%s", surrogate_output_name(model, j));
    fprintf(f, ",rho_surrogate,rho_flow,u,v\n");
    double row[2 * MAX_OUTPUTS + 4];
    for (cs_lnum_t k = 0; k < n_cells; k++) {
        if (mean)
            for (int i = 0; i < width; i++)
                row[i] = (mean_sum[0][(size_t)k * width + i] + mean_sum[1][(size_t)k * width + i]) / count;
        else
            dump_values(k, row);
        fprintf(f, "%.9g,%.9g", xyz[3 * k], xyz[3 * k + 1]);
        for (int i = 0; i < width; i++) fprintf(f, ",%.9g", row[i]);
        fprintf(f, "\n");
    }
    if (fclose(f) != 0) bft_error(__FILE__, __LINE__, errno, "cannot write %s", path);
}

/* Largest |mean of the first half - mean of the second half| of T over the cells (-1 without averages). */
static double mean_T_drift(void)
{
    if (mean_count[0] == 0 || mean_count[1] == 0 || t_index < 0) return -1;
    const int width = dump_width(), column = n_in + t_index;
    double drift = 0;
    for (cs_lnum_t k = 0; k < cs_glob_mesh->n_cells; k++)
        drift = fmax(drift, fabs(mean_sum[0][(size_t)k * width + column] / mean_count[0] -
                                 mean_sum[1][(size_t)k * width + column] / mean_count[1]));
    return drift;
}

static void write_timing(const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f) bft_error(__FILE__, __LINE__, errno, "cannot write %s", path);
    fprintf(f, "{\"cells\": %ld, \"steps\": %d, \"timed_steps\": %d, \"updates\": %d, \"threads\": %d,\n"
               " \"step_seconds\": %.9g, \"surrogate_run_seconds\": %.9g, \"update_seconds\": %.9g,\n"
               " \"out_of_range_cells_total\": %lld, \"out_of_range_cells_max_per_step\": %d,\n"
               " \"projected_cells_total\": %lld, \"projected_cells_max_per_step\": %d,\n"
               " \"steady\": %d, \"steady_interval\": %d, \"max_dT_last_interval\": %.9g, \"backend\": \"%s\",\n"
               " \"average_steps\": %d, \"mean_T_drift\": %.9g,\n"
               " \"variable_density\": %d, \"onnxruntime\": \"%s\"}\n",
            (long)cs_glob_mesh->n_cells, cs_glob_time_step->nt_cur, n_timed_steps, n_updates, settings.n_threads,
            t_steps, t_run, t_update, out_of_range_total, out_of_range_max, projected_total, projected_max, steady,
            settings.steady_interval, dT_last, surrogate_backend(model), settings.average_steps, mean_T_drift(),
            settings.variable_density,
            surrogate_runtime_version());
    if (fclose(f) != 0) bft_error(__FILE__, __LINE__, errno, "cannot write %s", path);
}

void surrogate_flame_finalize(void)
{
    if (!model) return;
    if (cs_glob_n_ranks > 1 && cs_glob_rank_id > 0) {
        /* each rank would overwrite rank 0's files: this case writes them from a single-rank run */
    } else if (n_updates > 0) {
        if (settings.dump[0]) write_dump(settings.dump, 0);
        if (settings.dump[0] && mean_count[0] > 0 && mean_count[1] > 0) write_dump("fields_mean.csv", 1);
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
    BFT_FREE(c_lower);
    BFT_FREE(c_upper);
    BFT_FREE(t_previous);
    BFT_FREE(mean_sum[0]);
    BFT_FREE(mean_sum[1]);
}
