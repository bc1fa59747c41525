/*
 * Planar H2/air jet flame, initial field: the jet's velocity and mixture fraction spread downstream by
 * diffusion (Z = erfc profile around the slot edges, width sqrt(4 D x / u)), and a burning flame to start
 * from: C = c_init times the complete-combustion water mass fraction at that Z (Burke-Schumann, H2/air).
 */

#include "cs_defs.h"

#include <math.h>

#include "cs_field.h"
#include "cs_field_pointer.h"
#include "cs_mesh.h"
#include "cs_mesh_quantities.h"
#include "cs_prototypes.h"

#include "surrogate_flame.h"

BEGIN_C_DECLS

#define Z_ST 0.0285     /* stoichiometric mixture fraction of H2/air */
#define Y_H2O_ST 0.255  /* water mass fraction of the complete stoichiometric burn */

void
cs_user_initialization(cs_domain_t *domain)
{
  CS_UNUSED(domain);
  const surrogate_flame_settings *s = surrogate_flame_settings_get();
  const cs_lnum_t n_cells = cs_glob_mesh->n_cells;
  const cs_real_3_t *xyz = (const cs_real_3_t *)cs_glob_mesh_quantities->cell_cen;
  cs_real_3_t *u = (cs_real_3_t *)CS_F_(vel)->val;
  cs_real_t *z = cs_field_by_name("Z")->val, *c = cs_field_by_name("C")->val;
  const double d = s->mu0 / s->rho0;

  for (cs_lnum_t k = 0; k < n_cells; k++) {
    const double x = xyz[k][0], y = fabs(xyz[k][1]);
    const double width = sqrt(4. * d * (x + 1e-4) / s->u_fuel);
    const double zk = 0.5 * erfc((y - s->slot_half_width) / width);
    z[k] = zk;
    c[k] = s->c_init * Y_H2O_ST * fmin(zk / Z_ST, (1. - zk) / (1. - Z_ST));
    u[k][0] = s->u_air + (s->u_fuel - s->u_air) * zk;
    u[k][1] = u[k][2] = 0.;
  }
}

END_C_DECLS
