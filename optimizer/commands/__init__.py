"""One module per `ev-optimizer` subcommand, each with `register(subparsers)`.

A module sets `handler` on its parser with `set_defaults(handler=...)`; the handler takes the
parsed arguments and returns the exit code.
"""
