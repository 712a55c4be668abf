"""Stage 3 of the pipeline: the kernels that evaluate each function in a dtype, as ML code does
(naive and stable forms), with the intermediates the flags are read from."""
