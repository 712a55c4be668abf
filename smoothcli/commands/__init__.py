"""One module per subcommand: each turns parsed options into a Report by running the pipeline."""
