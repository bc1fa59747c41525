"""PDE problems and the datasets that pose them, each registered as a ``surrogate.problems`` entry point (what
the problem is) and a ``surrogate.tables`` entry point (how its dataset is written), under the same name.

- Collocation problems with exact solutions (:mod:`.equations`, multi-scale cases after MMPINN, arXiv
  2308.06672) and their generators (:mod:`.generators`): no stored samples, the ``pinn`` task samples points.
- Periodic 1-D trajectories (:mod:`.kdv`, :mod:`.cahn_hilliard` on :mod:`.periodic`): the reference
  configuration of Matsubara et al. (2020, "Deep energy-based modeling of discrete-time physics"), 50-point
  periodic grids, central-difference semi-discretizations that conserve (KdV) or dissipate (Cahn–Hilliard)
  their discrete energy exactly (:mod:`.stencils`, :mod:`.functionals`), solved in time by classical RK4 with
  sub-steps; NumPy only, the ``rollout`` task trains time-steppers on them.
"""
