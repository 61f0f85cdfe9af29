"""What ``trackstore fsck`` found: findings, their kinds, and the report (text and JSON)."""

from __future__ import annotations

import dataclasses
from typing import Any

#: Every finding kind, with what it means. A kind is repairable or not by nature, except
#: where noted: the repair never invents or drops data, so what only a person can decide
#: (which of two experiments keeps a name, what a non-UTF-8 value meant) is reported only.
KINDS: dict[str, str] = {
    "stray-dir": "a directory at the root or in .trash whose name is not an experiment id "
                 "(MLflow's experiment listing fails on it)",
    "orphan-dir": "a directory where an experiment or a run is expected, holding neither",
    "empty-dir": "an empty directory where an experiment or a run is expected "
                 "(an interrupted creation); repair removes it",
    "misplaced-run": "a run directory at the root or directly in .trash; repair moves it into "
                     "the experiment its meta.yaml names, when that exists and has no such run",
    "experiment-meta-missing": "an experiment directory holding runs but no meta.yaml; repair "
                               "rebuilds it",
    "experiment-meta-invalid": "an experiment meta.yaml that is empty, not YAML, not a mapping, "
                               "or lacks a field or has one of the wrong type; repair rebuilds it",
    "experiment-id-mismatch": "an experiment meta.yaml whose experiment_id is not its directory's "
                              "name; repair writes the directory's name",
    "experiment-stage-mismatch": "an experiment whose lifecycle_stage disagrees with where it is "
                                 "(root: active, .trash: deleted); repair follows the location",
    "duplicate-experiment-name": "two experiments with the same name (reported only)",
    "duplicate-experiment-id": "an experiment id both at the root and in .trash (reported only)",
    "run-meta-missing": "a run directory with data but no meta.yaml; repair rebuilds it",
    "run-meta-invalid": "a run meta.yaml that is empty, not YAML, not a mapping, or lacks a field "
                        "or has one of the wrong type; repair rebuilds it",
    "run-id-mismatch": "a run meta.yaml whose run_id or run_uuid is not its directory's name; "
                       "repair writes the directory's name",
    "run-experiment-mismatch": "a run meta.yaml whose experiment_id is not its experiment "
                               "directory's name; repair writes the directory's name",
    "run-dirs-missing": "a run without its metrics/, params/ or artifacts/ directory (MLflow "
                        ">= 3.8 does not find it by id); repair creates them",
    "duplicate-run-id": "a run id in more than one experiment (reported only)",
    "bad-run-dir-name": "a run directory whose name is not a valid run id (reported only)",
    "metric-torn-tail": "a metric file ending in an unterminated line (a writer was "
                        "interrupted); repair cuts the file after its last whole line",
    "metric-bad-lines": "metric lines that do not parse; repair removes them",
    "metric-empty": "a metric file without a single point (MLflow fails on it); repair removes "
                    "the file",
    "bad-key-name": "a metric, param or tag file whose name is not a valid key (reported only)",
    "value-not-utf8": "a param or tag value that is not UTF-8 (reported only)",
    "yaml-invalid": "a dataset, input or output meta.yaml that cannot be read (reported only)",
    "temp-file": "a temporary file left by an interrupted atomic write; repair removes it",
    "stale-side-file": "a trackstore side file (run index, search summary) that is corrupt or "
                       "names what is not in the tree; repair rewrites or removes it",
    "gc-journal": "the journal of an interrupted trackstore gc (run trackstore gc to finish it)",
}


@dataclasses.dataclass(slots=True)
class Finding:
    """One problem: its *kind* (a key of :data:`KINDS`), the *path* it is about (relative
    to the tree's root, ``/``-separated), a *message*, and whether fsck can repair it."""

    kind: str
    path: str
    message: str
    repairable: bool

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "path": self.path, "message": self.message,
                "repairable": self.repairable}


@dataclasses.dataclass(slots=True)
class Report:
    """The outcome of :func:`trackstore.fsck.check` or :func:`trackstore.fsck.repair`.

    ``findings`` are the problems present now (after a repair: those left). ``repaired``
    lists what a repair fixed, and ``quarantine`` names the archives (at the root) that
    hold every byte the repair removed or replaced (one per round: a run moved into its
    experiment is checked, and repaired, in a second round).
    """

    root: str
    findings: list[Finding]
    experiments: int = 0
    runs: int = 0
    metric_files: int = 0
    seconds: float = 0.0
    repaired: list[Finding] = dataclasses.field(default_factory=list)
    quarantine: list[str] = dataclasses.field(default_factory=list)

    @property
    def clean(self) -> bool:
        """True when nothing is wrong (after a repair: nothing is left)."""
        return not self.findings

    @property
    def repairable(self) -> list[Finding]:
        return [f for f in self.findings if f.repairable]

    def as_dict(self) -> dict[str, Any]:
        return {
            "root": self.root,
            "clean": self.clean,
            "checked": {"experiments": self.experiments, "runs": self.runs,
                        "metric_files": self.metric_files, "seconds": round(self.seconds, 3)},
            "findings": [f.as_dict() for f in self.findings],
            "repaired": [f.as_dict() for f in self.repaired],
            "quarantine": self.quarantine,
        }

    def text(self) -> str:
        """The report for people: one line per finding, then a summary."""
        lines: list[str] = []
        for finding in self.repaired:
            lines.append(f"repaired  {finding.kind}: {finding.path}: {finding.message}")
        for finding in self.findings:
            tag = "repairable" if finding.repairable else "problem   "
            lines.append(f"{tag}  {finding.kind}: {finding.path}: {finding.message}")
        checked = (f"{self.experiments} experiments, {self.runs} runs, "
                   f"{self.metric_files} metric files checked in {self.seconds:.2f} s")
        if self.repaired:
            lines.append(f"{len(self.repaired)} problems repaired; the replaced and removed "
                         f"bytes are in {', '.join(self.quarantine)}")
        if self.clean:
            lines.append(f"{self.root}: clean ({checked})")
        else:
            fixable = len(self.repairable)
            hint = (f"; {fixable} can be repaired with --repair" if fixable and not self.repaired
                    else "")
            lines.append(f"{self.root}: {len(self.findings)} problems{hint} ({checked})")
        return "\n".join(lines)
