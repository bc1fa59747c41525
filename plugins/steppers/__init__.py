"""Time-stepping models (``surrogate.models`` entry points ``node``, ``hnn++``, ``conservative-stencil``):
vector fields du/dt = f(u) of a state on a periodic 1-D grid, built from one small periodic stencil network.

They work in the task's model space: state and rate divided by their scales, grid spacing 1 (a physical
spacing would only multiply the difference operators by constants, which the scales and the learned weights
absorb), so no model needs the grid spacing.
"""
