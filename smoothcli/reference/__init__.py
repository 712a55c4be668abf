"""Stage 4 of the pipeline: the exact values, with mpmath (``exact``) and vectorised with a proven
bound that falls back to mpmath where the bound is not enough (``fast``)."""
