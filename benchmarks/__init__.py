"""man_rl benchmarks: ``python -m benchmarks`` (or ``make bench``) prints a table of ratios."""
