/* Planar H2/air jet flame: the progress variable's source omega_C [kg/(m^3 s)] from the surrogate. */

#include "cs_defs.h"

#include "cs_field.h"
#include "cs_mesh.h"
#include "cs_mesh_quantities.h"
#include "cs_prototypes.h"

#include "surrogate_flame.h"

BEGIN_C_DECLS

void
cs_user_source_terms(cs_domain_t *domain, int f_id, cs_real_t *st_exp, cs_real_t *st_imp)
{
  CS_UNUSED(domain);
  const cs_field_t *c = cs_field_by_name("C");
  if (f_id != c->id)
    return;
  surrogate_flame_progress_source(c->val, st_exp, st_imp);
}

END_C_DECLS
