"""Live day-ahead price feeds, their cache and schedule, and the forecast past their horizon."""
