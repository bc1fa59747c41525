"""The planar H2/air jet flame in Code_Saturne 6.0 with the surrogate through the C wrapper (see case.py, demo.py)."""
