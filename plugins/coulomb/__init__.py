"""Coulomb-explosion imaging of OCS (Ghanaatian 2024): the ``coulomb-explosion`` table generator and its physics.

NumPy only here (the table builds without torch): the explosion integrator (:mod:`.physics`), the geometry
distributions (:mod:`.geometry`), the resumable chunked build (:mod:`.chunks`, :mod:`.generator`) and the
judgement of predicted geometries (:mod:`.judge`). The torch side lives in :mod:`.frame` (the momentum frame).
"""
