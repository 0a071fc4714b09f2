"""One module per command group; cli.py joins them into the `reviewrnn` app."""
