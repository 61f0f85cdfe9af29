"""``trackstore fsck``: check an ``mlruns`` tree, and repair it without losing data.

::

    report = trackstore.fsck.check("mlruns")     # reads only
    report = trackstore.fsck.repair("mlruns")    # quarantines, then fixes what it can
    report.clean, report.findings, report.as_dict(), report.text()

A check finds what would make MLflow's FileStore or trackstore's fail, skip or disagree:
torn and malformed metric lines, empty or invalid ``meta.yaml``, orphans, id mismatches,
duplicates, invalid key names, non-UTF-8 values, leftover temporary files and stale
trackstore side files (:data:`~trackstore.fsck.report.KINDS` lists them all). A repair keeps
every byte it removes or replaces in a quarantine archive at the root first
(:mod:`.fixes`), fixes what the tree itself proves (:mod:`.metas`), and reports the rest.
Run a repair on a tree nothing is writing to. See docs/fsck.md.
"""

from __future__ import annotations

import time

from .fixes import apply, write_quarantine
from .report import KINDS, Finding, Report
from .scan import Scanner, check_root

__all__ = ["KINDS", "Finding", "Report", "check", "repair"]

#: A repair that moves a misplaced run into its experiment checks that run in the next
#: round; more rounds than this never have anything left to do.
_ROUNDS = 3


def _scan(root: str) -> Scanner:
    scanner = Scanner(root)
    scanner.run()
    return scanner


def _report(scanner: Scanner, started: float) -> Report:
    return Report(root=scanner.root, findings=scanner.findings,
                  experiments=scanner.experiments, runs=scanner.runs,
                  metric_files=scanner.metric_files, seconds=time.perf_counter() - started)


def check(path: str) -> Report:
    """Check the tree at *path*; nothing is written.

    Raises TrackstoreError (``RESOURCE_DOES_NOT_EXIST`` / ``INVALID_PARAMETER_VALUE``) when
    *path* is missing or not an mlruns tree.
    """
    started = time.perf_counter()
    return _report(_scan(check_root(path)), started)


def repair(path: str) -> Report:
    """Check the tree at *path* and repair what can be repaired without losing data.

    The report's findings are what is left after the repair; ``repaired`` what was fixed,
    ``quarantine`` the archives holding every byte removed or replaced.
    """
    started = time.perf_counter()
    root = check_root(path)
    repaired: list[Finding] = []
    archives: list[str] = []
    scanner = _scan(root)
    for _ in range(_ROUNDS):
        if not scanner.fixes:
            break
        archives.append(write_quarantine(root, scanner.fixes))
        applied = False
        for fix in scanner.fixes:
            if apply(fix):
                repaired.extend(fix.findings)
                applied = True
        scanner = _scan(root)
        if not applied:
            break
    report = _report(scanner, started)
    report.repaired = repaired
    report.quarantine = archives
    return report
