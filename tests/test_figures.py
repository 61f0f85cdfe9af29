"""tests/_figures.py: figures appended by many processes, merged into one table."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from tests import _figures


def _write(path: str, index: int) -> None:
    import os
    os.environ[_figures.ENV] = path
    for _ in range(50):
        _figures.record("crash", "sqlite", trials=1, lost=0, points_per_s=float(index))


def test_records_from_many_processes_merge(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "figures.jsonl"
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_write, args=(str(path), i)) for i in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    rows = _figures.load(str(path))
    assert len(rows) == 200  # no line torn or lost by concurrent appends
    [merged] = _figures.summarize(rows)
    assert merged["trials"] == 200 and merged["lost"] == 0
    assert merged["points_per_s"] == 3.0  # a rate is the best seen, not a sum
    table = _figures.markdown([merged])
    assert "| crash | sqlite |" in table and "trials 200" in table


def test_nothing_is_written_without_the_variable(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(_figures.ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    _figures.record("fuzz", "grammar", inputs=10)
    assert list(tmp_path.iterdir()) == []


def test_differing_text_values_are_flagged() -> None:
    rows = [{"area": "fuzz", "name": "x", "tool": "atheris", "inputs": 5, "seconds_min": 2.0},
            {"area": "fuzz", "name": "x", "tool": "hypothesis", "inputs": 7, "seconds_min": 1.0}]
    [merged] = _figures.summarize(rows)
    assert merged["tool"] == "(varies)" and merged["inputs"] == 12 and merged["seconds_min"] == 1.0


@pytest.mark.parametrize(("raw", "expected"), [("", 1.0), ("0.25", 0.25), ("2", 2.0)])
def test_scale(monkeypatch: pytest.MonkeyPatch, raw: str, expected: float) -> None:
    monkeypatch.setenv(_figures.SCALE_ENV, raw)
    assert _figures.scale() == expected
    assert _figures.scaled(100) == round(100 * expected)
    assert _figures.scaled(1, minimum=3) == 3


@pytest.mark.parametrize("raw", ["0", "-1", "1000", "x"])
def test_bad_scale_is_refused(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    monkeypatch.setenv(_figures.SCALE_ENV, raw)
    with pytest.raises(ValueError):
        _figures.scale()


def test_main_prints_the_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                               capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "f.jsonl"
    monkeypatch.setenv(_figures.ENV, str(path))
    _figures.record("load", "postgresql", points=1000, points_per_s=500.0)
    assert _figures.main([str(path)]) == 0
    assert "| load | postgresql |" in capsys.readouterr().out
    assert _figures.main([]) == 2
