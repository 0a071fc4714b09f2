"""`python -m reviewrnn` runs the same command line as `reviewrnn`."""

from reviewrnn.cli import main

main()
