"""EV smart-charging optimizer for BMW and MINI cars.

CarData says what the car does, the SoC estimator fills the gaps between sparse reports, the
planner finds the cheapest charging that still meets the departure, and a charger carries it out.
"""

__version__ = "0.1.0"
