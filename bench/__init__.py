"""Benchmarks at realistic scale: a data generator, cases timed through the dispatcher,
and a report (RESULTS.md). Run `python -m bench --help`."""
