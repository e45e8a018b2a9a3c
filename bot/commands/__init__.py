"""The `cobra` subcommands, one module per area."""
