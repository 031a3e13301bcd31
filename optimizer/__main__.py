"""`python -m optimizer` is the same as the `ev-optimizer` console script."""

from optimizer.cli import run

run()
