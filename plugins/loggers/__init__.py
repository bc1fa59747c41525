"""Built-in experiment loggers (entry-point group ``surrogate.loggers``): the run's history.csv, TensorBoard and
MLflow."""
