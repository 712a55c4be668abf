"""The evaluation engine: inputs (typed, files, stdin, sweep grids) in, rows out."""
