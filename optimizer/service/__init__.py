"""The charging service: the asyncio shell around the pure session state machine."""
