"""Table generators on Cantera, registered through the ``surrogate.tables`` entry-point group.

Nothing here imports torch: these modules turn Cantera solutions into thermo-surrogate HDF5 tables.
"""
