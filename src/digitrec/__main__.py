"""`python -m digitrec` runs the command line."""

from .cli import main

main()
