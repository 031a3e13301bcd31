"""The planning core: pure functions from a request (SoC, target, departure, prices) to a plan.

See README.md in this folder for the cases it handles and the solver it picks for each.
"""

from optimizer.planner.planner import (
    DEFAULT_EFFICIENCY,
    PlanOptions,
    PlanRequest,
    check_horizon,
    plan,
    validate_request,
)

__all__ = [
    "DEFAULT_EFFICIENCY",
    "PlanOptions",
    "PlanRequest",
    "check_horizon",
    "plan",
    "validate_request",
]
