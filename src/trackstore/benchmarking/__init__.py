"""Performance-regression testing: pytest-benchmark results recorded as trackstore runs.

* :mod:`.pytest_plugin` records a pytest session's benchmarks as one run (``--trackstore-record``);
* :mod:`.keys` maps a benchmark and a statistic to a metric key, and back to the names;
* :mod:`.ci` reads the commit, branch and CI job from the environment;
* :mod:`.compare` judges a candidate run against a baseline (``trackstore compare``);
* :mod:`.report` writes a Markdown or HTML history report with plots (``trackstore report``).

Nothing is imported here: the pytest plugin is loaded in every pytest session of an
environment and must stay cheap until recording is asked for. See docs/benchmarking.md.
"""
