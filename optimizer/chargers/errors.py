"""Charger errors: each says which charger and what to check, because the person who reads them
is standing next to the wallbox, not reading our code."""

from optimizer.errors import UserError


class ChargerError(UserError):
    """A charger refused, did not answer, or is not reachable."""


class DeviceFault(ChargerError):
    """The box answered, but with something no working box says (NaN, all-0xFFFF registers,
    a value outside the map's physical range, bytes that are not text): nothing it reports is
    trusted until it answers sensibly again."""
