"""Charger errors: each says which charger and what to check, because the person who reads them
is standing next to the wallbox, not reading our code."""

from optimizer.errors import UserError


class ChargerError(UserError):
    """A charger refused, did not answer, or is not reachable."""
