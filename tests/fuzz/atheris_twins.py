"""Coverage-guided fuzzing (atheris, libFuzzer) of a compiled parser against its pure twin.

    python tests/fuzz/atheris_twins.py metrics|yamlio -runs=N -max_total_time=T -seed=S DIR

``DIR`` is the corpus (seeded with real files; libFuzzer adds the inputs that reach new
coverage). Every input goes through both twins; a difference, or an exception other than the
documented one, is a crash: libFuzzer writes the input to ``crash-*`` and the process exits
non-zero. Coverage feedback comes from the pure twin (its modules are instrumented); the
Cython twin is not instrumented (that would need a ``-fsanitize=fuzzer`` build), so it is
exercised by the inputs the pure twin's coverage leads to.
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports():
    from trackstore import _metrics_py, _yamlio_parser, _yamlio_py, _yamlio_scanner  # noqa: F401

from _twins import compare

from trackstore import _metrics_c, _yamlio_c

TWINS = {"metrics": (_metrics_py, _metrics_c), "yamlio": (_yamlio_py, _yamlio_c)}


def main(argv: list[str]) -> None:
    target = argv[1]
    py, c = TWINS[target]

    def test_one_input(data: bytes) -> None:
        compare(py, c, target, data)

    atheris.Setup([argv[0], *argv[2:]], test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
