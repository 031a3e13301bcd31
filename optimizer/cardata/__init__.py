"""BMW CarData: device-code login, the MQTT stream, the REST API and its daily quota."""
