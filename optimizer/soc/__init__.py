"""State-of-charge estimation between sparse CarData reports (issue 4).

`estimator.SocEstimator` is the pure per-vehicle core, `learning.LearnedVehicle` what it learns
(efficiency, taper), `replay` drives estimators from recorded streams and meter files, and
`evaluation` measures them against simulated truth built from real charge curves and sessions.
"""
