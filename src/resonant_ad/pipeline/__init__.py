"""The Snakemake layer: path patterns, config loading, target lists, script glue.

Nothing in the package imports it; it imports everything below."""
