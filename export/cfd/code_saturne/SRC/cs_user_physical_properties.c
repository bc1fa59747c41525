/* Planar H2/air jet flame: the surrogate is evaluated on every cell at the start of each time step. */

#include "cs_defs.h"

#include "cs_prototypes.h"

#include "surrogate_flame.h"

BEGIN_C_DECLS

void
cs_user_physical_properties(cs_domain_t *domain)
{
  CS_UNUSED(domain);
  surrogate_flame_update();
}

END_C_DECLS
