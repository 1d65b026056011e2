"""Real networks of the spaces' archs: exact MACs and parameter counts (:mod:`.ofa_counts`, no torch)
and the ``count:SPACE`` search evaluator (:mod:`.evaluator`)."""
