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
  CS_UNUSED(st_imp);
  const cs_field_t *omega = cs_field_by_name_try("omega_C");
  if (omega == NULL || f_id != cs_field_by_name("C")->id)
    return;
  const cs_real_t *vol = cs_glob_mesh_quantities->cell_vol;
  for (cs_lnum_t k = 0; k < cs_glob_mesh->n_cells; k++)
    st_exp[k] += omega->val[k] * vol[k];
}

END_C_DECLS
