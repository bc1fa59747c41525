"""ONNX export and inference: the file a solver loads, and the runtimes that call it.

- :mod:`export.metadata`: the ONNX contract (graph IO, metadata keys) shared with the C/C++/Fortran side;
- :mod:`export.checksum`: the checksum of a file's weights, recorded at export and verified at every load;
- :mod:`export.onnx_export`: torch.export-based export of a run with a parity check (optionally fp16);
- :mod:`export.runtime`: :class:`~export.runtime.Surrogate`, the Python runtime (NumPy, torch, CuPy);
- :mod:`export.io`: chunked input readers (.h5, .npy, .csv) and the prediction file writers (same formats);
- :mod:`export.lookup`: the structured-table lookup a surrogate replaces;
- :mod:`export.benchmarks.inference`: throughput and memory of all of these;
- ``export/c``: the C API example, C wrapper, C++ and Fortran callers.
"""
