"""Settings shared by every test: property tests draw the same examples on every run.

Hypothesis normally explores new random examples each run, so a rare counter-example can turn CI
red on one run and green on the next. Derandomised, a run is reproducible: a failure on CI fails
the same way on a laptop.
"""

from hypothesis import settings

settings.register_profile("reproducible", derandomize=True, database=None)
settings.load_profile("reproducible")
