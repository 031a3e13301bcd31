"""Chargers that carry a plan out: OCPP central system, Modbus TCP wallboxes, Home Assistant."""
