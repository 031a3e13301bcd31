"""Home Assistant entities by MQTT discovery: one device per vehicle, state and commands."""
