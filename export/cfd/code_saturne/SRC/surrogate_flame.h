/*
 * The planar H2/air jet flame's shared state: case settings, the surrogate model handle, the per-step
 * inference and its timers. Used by the case's Code_Saturne user routines (cs_user_*.c in this folder).
 *
 * The solver transports Z (mixture fraction) and C (progress variable); every time step, before the
 * equations are solved, surrogate_flame_update() evaluates the exported ONNX model through the toolkit's C
 * wrapper (export/c/surrogate_ort.h) at each cell's (Z, C, chi = 2 D |grad Z|^2) and stores every model
 * output in a cell field of the same name (T, Y_OH, omega_C, ...), plus the density of the ideal gas at
 * (T, Y_k), or the model's own output rho when it has one, field "rho_surrogate". omega_C is the source of C,
 * linearized so C stays on the model's C_min(Z)..C_max(Z); with variable_density = 1 that density also becomes the
 * flow's density (two-way coupling). The model is a network or a table backend: the same calls serve both.
 */
#ifndef SURROGATE_FLAME_H
#define SURROGATE_FLAME_H

#include "cs_defs.h"
#include "cs_domain.h"

typedef struct {
    char model[1024];       /* ONNX file (relative to the run directory) */
    char dump[1024];        /* CSV of cell fields written at the end ("" for none) */
    char timing[1024];      /* JSON of the inference timers written at the end */
    char policy[16];        /* range policy of the wrapper: clip | warn | error */
    int n_threads;          /* ONNX Runtime intra-op threads */
    int n_steps;            /* time steps */
    double dt;              /* time step [s] */
    double u_fuel, u_air;   /* inlet velocities [m/s] */
    double slot_half_width; /* fuel slot half width [m] (initial field only; the mesh carries the zones) */
    double rho0, mu0;       /* reference density [kg/m^3] and dynamic viscosity [Pa s]; Schmidt number 1:
                               rho D of Z and C = mu0 (Code_Saturne's default scalar diffusivity), and
                               chi = 2 (mu0 / rho) |grad Z|^2 */
    double pressure;        /* thermodynamic pressure [Pa] (ideal-gas density; input "p" when the model has one) */
    double c_init;          /* initial C as a fraction of the complete-combustion C at the cell's Z */
    int variable_density;   /* 0: density rho0 (one-way), 1: rho from the surrogate (two-way) */
    double rho_relax;       /* under-relaxation of the density update (1: none) */
    double steady_tolerance; /* stop when T changes by at most this [K] over steady_interval steps (0: never) */
    int steady_interval;    /* steps between steadiness checks */
    int average_steps;      /* > 0: run n_steps and average the cell values over the last average_steps steps
                               (fields_mean.csv), for flames whose anchoring edge flickers periodically */
} surrogate_flame_settings;

/* The settings, read once from surrogate_flame.cfg in the run directory (key = value lines). */
const surrogate_flame_settings *surrogate_flame_settings_get(void);

/* Open the model (once), create a cell field for each of its outputs and for rho_surrogate, and clip the
   transported C to the model's range of C. */
void surrogate_flame_define_fields(void);

/* Evaluate the model on every cell and update the output fields (and the density when variable). */
void surrogate_flame_update(void);

/* Add C's source omega_C to Code_Saturne's explicit and implicit parts, linearized so that the new C stays within
   C_min(Z)..C_max(Z) (C: the transported values before the step). */
void surrogate_flame_progress_source(const cs_real_t *c, cs_real_t *st_exp, cs_real_t *st_imp);

/* Mark the end of a time step (for the share of the step spent in inference) and check for a steady state. */
void surrogate_flame_end_step(void);

/* Write the cell dump and the timers, and free the model. */
void surrogate_flame_finalize(void);

#endif /* SURROGATE_FLAME_H */
