# Code_Saturne run settings of the planar H2/air jet flame (read by `code_saturne run`).
#
# The mesh and the C wrapper's compile and link flags come from DATA/surrogate_build.json, which
# export/cfd/code_saturne/case.py writes when it assembles the case:
#   {"mesh": "/abs/path/jet.msh", "cflags": "-I...", "libs": "/abs/libsurrogate_ort.a -L... -lonnxruntime ..."}
import json
import os


def define_domain_parameters(domain):
    """Mesh (gmsh 2.2) and the flags that compile SRC/ against the surrogate's C wrapper."""
    with open(os.path.join(domain.data_dir, "surrogate_build.json")) as f:
        build = json.load(f)
    if domain.param is None:
        domain.mesh_dir = os.path.dirname(build["mesh"])
        domain.meshes = [os.path.basename(build["mesh"])]
        domain.compile_cflags = build["cflags"]
        domain.compile_libs = build["libs"]
