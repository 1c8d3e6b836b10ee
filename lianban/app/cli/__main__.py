"""`python -m lianban.app.cli`: the same command as `lianban`."""

from lianban.app.cli import main

main()
