"""Trajectory data of 1-D periodic PDEs (``surrogate.tables`` entry points ``kdv`` and ``cahn-hilliard``).

The reference configuration of Matsubara et al. (2020, "Deep energy-based modeling of discrete-time physics"),
used by *Imbalance-aware learning for deep physics modeling* (anonymous, under review): 50-point periodic
grids, central-difference semi-discretizations that conserve (KdV) or dissipate (Cahn–Hilliard) their discrete
energy exactly, solved in time by classical RK4 with sub-steps. NumPy only: no torch here.
"""
