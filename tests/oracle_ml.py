"""Deprecated: merged into oracle.py; only test_peers.py imports it.  Remove with that import."""
from oracle import *  # noqa: F401,F403
from oracle import lse_exact as lse, round_to as round_model, softmax_exact as softmax  # noqa: F401

PREC = 1200  # bits; test_peers.py's working precision (the oracle itself works at oracle.DPS)
