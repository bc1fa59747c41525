! Planar H2/air jet flame: the boundary conditions are set in C (cs_user_boundary_conditions.c). Code_Saturne 6.0
! stops when the case does not provide this Fortran routine too (its library default says "must be completed"),
! so it is here, empty.
subroutine cs_f_user_boundary_conditions &
 ( nvar   , nscal  ,                                              &
   icodcl , itrifb , itypfb , izfppp ,                            &
   dt     ,                                                       &
   rcodcl )

use mesh, only: nfabor, ncelet

implicit none

integer          nvar   , nscal
integer          icodcl(nfabor,nvar)
integer          itrifb(nfabor), itypfb(nfabor)
integer          izfppp(nfabor)
double precision dt(ncelet)
double precision rcodcl(nfabor,nvar,3)

return
end subroutine cs_f_user_boundary_conditions
