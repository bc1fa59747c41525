"""thermo-surrogate core: table schema, datasets, plugin contracts and registry, trainer, CLI."""

__version__ = "0.1.0"
