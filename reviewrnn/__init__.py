"""reviewrnn: a recurrent-network sentiment classifier for reviews, with a command line."""

__version__ = "0.1.0"
