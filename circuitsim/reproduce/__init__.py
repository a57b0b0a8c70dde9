"""``circuitsim reproduce``: the four papers' claims at our scale."""
