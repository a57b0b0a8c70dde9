"""circuitsim: ngspice decks, simulations and surrogates for analog in-memory training hardware."""

__version__ = "0.1.0"
