"""Built-in weighting strategies: each turns named element-wise loss terms into one scalar loss.

Conventions shared by all of them (see :mod:`plugins.weightings.weights`; term names are :mod:`surrogate.terms`'):

- a strategy is built with the names of every term the run produces and resolves everything name-based
  there (balanced terms, per-term options, learnable parameters), so a wrong name fails before training;
- the combined loss is ``sum_i w_i * mean(term_i)`` and the reported weight of a term is its ``w_i``;
- static strategies weight ``data/...`` terms and leave every other term at weight 1 (physics and
  regularization plugins carry their own ``weight`` option);
- dynamic strategies balance the terms selected by their ``balance`` option (``data``: data terms only;
  ``all``: every term except ``reg/...``, whose strength stays the user's choice) and normalize the
  balanced weights to sum to the number of balanced terms, unless the method says otherwise.
"""
