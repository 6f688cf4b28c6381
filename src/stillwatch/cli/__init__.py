"""The `stillwatch` command line (Typer + Rich)."""
