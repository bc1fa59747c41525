"""Built-in physics losses and regularizers: plugins that add named loss terms computed from a batch."""
