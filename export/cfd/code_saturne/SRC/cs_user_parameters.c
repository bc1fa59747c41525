/*
 * Planar H2/air jet flame: laminar flow, no thermal model, two user scalars Z and C (their diffusivity is
 * Code_Saturne's default, the viscosity: Schmidt number 1), settings from
 * surrogate_flame.cfg, and one cell field per surrogate output (created with the model's names).
 */

#include "cs_defs.h"

#include "cs_field.h"
#include "cs_field_pointer.h"
#include "cs_parameters.h"
#include "cs_physical_constants.h"
#include "cs_post.h"
#include "cs_thermal_model.h"
#include "cs_time_step.h"
#include "cs_turbulence_model.h"
#include "cs_prototypes.h"

#include "surrogate_flame.h"

BEGIN_C_DECLS

void
cs_user_model(void)
{
  cs_get_glob_turb_model()->iturb = CS_TURB_NONE;
  cs_get_glob_thermal_model()->itherm = CS_THERMAL_MODEL_NONE;
  cs_parameters_add_variable("Z", 1);
  cs_parameters_add_variable("C", 1);
}

void
cs_user_parameters(cs_domain_t *domain)
{
  const surrogate_flame_settings *s = surrogate_flame_settings_get();

  cs_get_glob_time_step_options()->idtvar = 0;  /* constant time step */
  domain->time_step->dt_ref = s->dt;
  domain->time_step->nt_max = s->n_steps;

  cs_fluid_properties_t *fp = cs_get_glob_fluid_properties();
  fp->ro0 = s->rho0;
  fp->viscl0 = s->mu0;
  fp->p0 = s->pressure;
  fp->irovar = s->variable_density ? 1 : 0;
  fp->ivivar = 0;

  const int k_min = cs_field_key_id("min_scalar_clipping");
  const int k_max = cs_field_key_id("max_scalar_clipping");
  const char *names[2] = {"Z", "C"};
  for (int i = 0; i < 2; i++) {
    cs_field_t *f = cs_field_by_name(names[i]);
    cs_field_set_key_double(f, k_min, 0.);
    cs_field_set_key_double(f, k_max, 1.);
    cs_field_set_key_int(f, cs_field_key_id("post_vis"), CS_POST_ON_LOCATION);
  }

  surrogate_flame_define_fields();  /* after the clipping bounds above: it lowers C's maximum */
}

END_C_DECLS
