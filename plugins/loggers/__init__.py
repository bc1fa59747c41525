"""Built-in experiment loggers (entry-point group ``surrogate.loggers``): the run's history.csv, TensorBoard and
MLflow."""

INSTALL = "pip install 'thermo-surrogate[tracking]'"  # what a logger's missing-package message tells the user
