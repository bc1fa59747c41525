"""PDE problems for physics-informed training: the equations with their exact solutions (:mod:`.equations`),
how collocation points are sampled (:mod:`.sampling`) and the table generators that write each problem as a
collocation dataset (:mod:`.generators`)."""
