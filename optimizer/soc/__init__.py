"""State-of-charge estimation between sparse CarData reports (issue 4).

`estimator.SocEstimator` is the pure per-vehicle core and `learning.LearnedVehicle` what it
learns (efficiency, taper, average power); `replay` drives estimators from recorded streams and
meter files (the `estimate` command); `baseline` is the linear method to beat. The simulated
traces built from the real data and the evaluation harness live in `bench/` (`soc_traces.py`,
`soc_evaluation.py`): they read data that is not part of the installed package.
"""
