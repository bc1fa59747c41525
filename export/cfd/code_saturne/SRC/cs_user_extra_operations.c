/* Planar H2/air jet flame: step timers for the inference share, and the final dump of the cell fields. */

#include "cs_defs.h"

#include "cs_prototypes.h"

#include "surrogate_flame.h"

BEGIN_C_DECLS

void
cs_user_extra_operations(cs_domain_t *domain)
{
  CS_UNUSED(domain);
  surrogate_flame_end_step();
}

void
cs_user_extra_operations_finalize(cs_domain_t *domain)
{
  CS_UNUSED(domain);
  surrogate_flame_finalize();
}

END_C_DECLS
