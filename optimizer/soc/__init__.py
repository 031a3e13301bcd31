"""State-of-charge estimation between sparse CarData reports (issue 4).

`estimator.SocEstimator` is the pure per-vehicle core and `learning.LearnedVehicle` what it
learns (efficiency, taper, average power); `replay` drives estimators from recorded streams and
meter files (the `estimate` command); `traces` simulates realistic charges with a known true SoC
from the real data, `baseline` is the linear method to beat, and `evaluation` compares them.
"""
