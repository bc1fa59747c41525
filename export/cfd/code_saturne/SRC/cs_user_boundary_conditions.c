/*
 * Planar H2/air jet flame: fuel (Z = 1) through the slot, air (Z = 0) around it, both with C = 0; free outlet;
 * slip walls at the sides; the z planes are symmetry planes (2-D case). Zones are the gmsh physical names of
 * the mesh written by export/cfd/code_saturne/mesh.py (groups named by physical number in Code_Saturne 6.0).
 * Code_Saturne 6.0.2 calls this function with bc_type before icodcl (as its SRC/REFERENCE file has it), while
 * cs_prototypes.h names them the other way round: the names below follow the call.
 */

#include "cs_defs.h"

#include "bft_mem.h"
#include "cs_field.h"
#include "cs_field_pointer.h"
#include "cs_mesh.h"
#include "cs_parameters.h"
#include "cs_selector.h"
#include "cs_prototypes.h"

#include "surrogate_flame.h"

BEGIN_C_DECLS

/* Apply TYPE to the faces of GROUP; at inlets also velocity U along x, and Z, C (Dirichlet). */
static void
set_zone(const char *group, int type, double u, double z, int nvar, int bc_type[], int icodcl[],
         cs_real_t rcodcl[])
{
  const cs_lnum_t n_b_faces = cs_glob_mesh->n_b_faces;
  const int k_var = cs_field_key_id("variable_id");
  const int i_u = cs_field_get_key_int(CS_F_(vel), k_var) - 1;
  const int i_z = cs_field_get_key_int(cs_field_by_name("Z"), k_var) - 1;
  const int i_c = cs_field_get_key_int(cs_field_by_name("C"), k_var) - 1;
  cs_lnum_t n_faces = 0, *faces = NULL;
  BFT_MALLOC(faces, n_b_faces, cs_lnum_t);
  cs_selector_get_b_face_list(group, &n_faces, faces);
  for (cs_lnum_t i = 0; i < n_faces; i++) {
    const cs_lnum_t f = faces[i];
    bc_type[f] = type;
    if (type != CS_INLET)
      continue;
    for (int d = 0; d < 3; d++)
      rcodcl[(i_u + d) * n_b_faces + f] = d == 0 ? u : 0.;
    icodcl[i_z * n_b_faces + f] = 1;
    rcodcl[i_z * n_b_faces + f] = z;
    icodcl[i_c * n_b_faces + f] = 1;
    rcodcl[i_c * n_b_faces + f] = 0.;
  }
  BFT_FREE(faces);
  CS_UNUSED(nvar);
}

void
cs_user_boundary_conditions(int nvar, int bc_type[], int icodcl[], cs_real_t rcodcl[])
{
  const surrogate_flame_settings *s = surrogate_flame_settings_get();
  /* Code_Saturne 6.0 names gmsh groups by physical number (mesh.py's PHYSICAL_TAGS) */
  set_zone("2", CS_INLET, s->u_fuel, 1., nvar, bc_type, icodcl, rcodcl);    /* fuel_inlet */
  set_zone("3", CS_INLET, s->u_air, 0., nvar, bc_type, icodcl, rcodcl);     /* air_inlet */
  set_zone("4", CS_OUTLET, 0., 0., nvar, bc_type, icodcl, rcodcl);          /* outlet */
  set_zone("5", CS_SYMMETRY, 0., 0., nvar, bc_type, icodcl, rcodcl);        /* side */
  set_zone("6", CS_SYMMETRY, 0., 0., nvar, bc_type, icodcl, rcodcl);        /* symmetry */
}

END_C_DECLS
