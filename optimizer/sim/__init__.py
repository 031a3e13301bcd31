"""A local stand-in for BMW's CarData cloud, used by the tests and the demo.

It is built to behave like reference/cardata.md says the real service does: a real mosquitto
broker behind TLS 1.3 with password auth (username = gcid, password = id_token), the OAuth
device-code and token endpoints, the REST API with its daily quota, and vehicles that stream
CarData-format messages with the real quirks (sparse SoC, stale re-sends, split GPS fixes).
"""
