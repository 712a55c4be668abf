"""Stage 5 of the pipeline: errors against the reference (abs, rel, ULP, Herbie bits), flags and
the Blanchard-Higham-Higham error bounds, as data."""
