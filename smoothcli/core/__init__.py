"""Stage 1-2 of the pipeline: floating-point formats, the one number grammar, correct rounding to
a dtype, the accumulation model of sums, input limits and the input-error type."""
