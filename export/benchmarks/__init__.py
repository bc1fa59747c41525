"""Benchmarks of the inference side, each measuring the toolkit and its baseline in the same run:
:mod:`.inference` (ONNX Runtime from Python and C, PyTorch eager, the table lookup; memory), :mod:`.lookup`
(the network against compiled N-D table lookups, the wrapper against a raw ONNX Runtime session) on the grids of
:mod:`.grid_file`, :mod:`.kernel_profile` (where a call's time goes) and :mod:`.gpu_inference` (CUDA)."""
