"""Readable at 80 columns, parseable when piped: list, data check, table and the run summary."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
from conftest import digits_spec
from rich.cells import cell_len
from rich.console import Console
from typer.testing import CliRunner

from snnrepro.cli import app
from snnrepro.spec import spec_files
from snnrepro.textout import Col, fit_widths, format_rows, print_rows

MD5 = re.compile(r"\b[0-9a-f]{32}\b")


def invoke(*args: str):
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def test_list_at_80_columns_keeps_every_id_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    res = invoke("list")
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    assert max(cell_len(line) for line in lines) <= 80
    tokens = {t for line in lines for t in line.replace("│", " ").split()}
    ids = set(spec_files())
    assert len(ids) > 50 and ids <= tokens  # `snnrepro list | grep mnist-stdbp-cnn` finds its line
    assert any("mnist-stdbp-cnn" in line.split() for line in lines if "│" in line)
    assert "…" not in res.stdout


def test_list_is_wider_where_there_is_room(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    header = next(line for line in invoke("list").stdout.splitlines() if "id" in line.split())
    assert "dataset" in header and "table / row" in header


def test_list_json_and_tsv_are_parseable() -> None:
    rows = json.loads(invoke("list", "--format", "json").stdout)
    assert {r["id"] for r in rows} == set(spec_files())
    r = next(r for r in rows if r["id"] == "mnist-stdbp-cnn")
    assert r["paper"] == "stdbp" and r["dataset"] == "mnist" and r["reported"] == pytest.approx(99.2)
    assert isinstance(r["results"], list)
    tsv = list(csv.reader(io.StringIO(invoke("list", "--format", "tsv").stdout), delimiter="\t"))
    header = ["paper", "dataset", "id", "table", "row", "reported", "results", "cpu_h_per_seed", "gpu_h_per_seed",
              "blocker"]  # fmt: skip
    assert tsv[0] == header
    assert len(tsv) == len(rows) + 1 and all(len(line) == len(header) for line in tsv)
    assert "table|json|tsv" in invoke("list", "--help").stdout


def test_data_check_at_80_columns_never_splits_an_md5(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    res = invoke("data", "check", "--data-root", str(tmp_path))
    assert res.exit_code == 0, res.output
    assert max(cell_len(line) for line in res.stdout.splitlines()) <= 80
    rows = json.loads(invoke("data", "check", "--data-root", str(tmp_path), "--format", "json").stdout)
    shown = set(MD5.findall(res.stdout))
    expected = {m for r in rows for f in r["missing"][:8] for m in MD5.findall(f)}
    assert len(expected) > 10 and expected <= shown
    for r in rows:  # every dataset name and status starts a line, whole
        assert any(line.split()[:2] == [r["dataset"], r["status"]] for line in res.stdout.splitlines() if line.strip())


def test_data_check_json_tsv_and_selected_names(tmp_path) -> None:
    res = invoke("data", "check", "digits", "mnist", "--data-root", str(tmp_path), "--format", "json")
    rows = json.loads(res.stdout)
    assert [r["dataset"] for r in rows] == ["digits", "mnist"]
    assert rows[0]["status"] == "present" and rows[1]["status"] != "present" and rows[1]["missing"]
    tsv = invoke("data", "check", "digits", "--data-root", str(tmp_path), "--format", "tsv").stdout.splitlines()
    assert tsv[0].split("\t") == ["dataset", "status", "folder", "missing", "note"]
    assert tsv[1].split("\t")[:2] == ["digits", "present"]
    assert invoke("data", "check", "no-such-set").exit_code == 2


LONG_ID = "digits-relu-a-rather-long-spec-id-for-width"


def test_table_formats_round_numbers_and_leave_std_empty_for_one_seed(spec_env, monkeypatch) -> None:
    spec_env({**digits_spec(LONG_ID), "reported": 90.0}, {**digits_spec("digits-relu-two", seeds=2), "reported": 91.0})
    monkeypatch.setenv("COLUMNS", "80")
    res = invoke("run", LONG_ID, "digits-relu-two", "--device", "cpu")
    assert res.exit_code == 0, res.output
    summary = res.stderr[res.stderr.index("run summary") :]
    assert max(cell_len(line) for line in summary.splitlines()) <= 80
    assert sum(LONG_ID in line.split() for line in summary.splitlines()) == 1  # the summary keeps the id whole
    rows = {r["id"]: r for r in csv.DictReader(io.StringIO(invoke("table", "digits", "--format", "csv").stdout))}
    one, two = rows[LONG_ID], rows["digits-relu-two"]
    assert one["n"] == "1" and one["std"] == "" and two["n"] == "2" and two["std"] != ""
    for r in (one, two):
        assert re.fullmatch(r"\d+\.\d{1,2}", r["mean"]) and re.fullmatch(r"-?\d+\.\d{1,2}", r["delta"])
    js = {r["id"]: r for r in json.loads(invoke("table", "digits", "--format", "json").stdout)}
    assert js[LONG_ID]["std"] is None and js[LONG_ID]["mean"] == pytest.approx(float(one["mean"]))
    tsv = list(csv.DictReader(io.StringIO(invoke("table", "digits", "--format", "tsv").stdout), delimiter="\t"))
    assert {r["id"] for r in tsv} == {LONG_ID, "digits-relu-two"} and tsv[0]["mean"] == rows[tsv[0]["id"]]["mean"]
    term = invoke("table", LONG_ID, "--format", "table").stdout
    assert max(cell_len(line) for line in term.splitlines()) <= 80 and LONG_ID in term
    both = json.loads(invoke("table", LONG_ID, "digits-relu-two", "--format", "json").stdout)
    assert [r["id"] for r in both] == [LONG_ID, "digits-relu-two"]
    monkeypatch.setenv("COLUMNS", "200")
    assert "md|csv|json|tsv|table" in invoke("table", "--help").stdout  # --help lists the fixed choices


def test_fit_widths_drops_columns_then_falls_back_to_blocks() -> None:
    cols = [Col("id", "id", wrap="none"), Col("note", "note", wrap="fold", drop=1), Col("md5", "md5")]
    rows = [{"id": "x" * 30, "note": "free text " * 10, "md5": "file.bin (md5 " + "a" * 32 + ")"}]
    wide = fit_widths(cols, rows, 120)
    assert [c.name for c, _ in wide] == ["id", "note", "md5"]
    narrow = fit_widths(cols, rows, 80)
    assert [c.name for c, _ in narrow] == ["id", "md5"]  # the note went; the md5 column keeps its token
    assert dict((c.name, w) for c, w in narrow)["md5"] >= 37
    assert fit_widths(cols, rows, 50) is None
    out = io.StringIO()
    print_rows(cols, rows, console=Console(file=out, width=50))
    text = out.getvalue()
    assert "a" * 32 in text and "x" * 30 in text and max(cell_len(line) for line in text.splitlines()) <= 50
    assert format_rows([{"a": "x\ty", "b": [1, 2]}], ["a", "b"], "tsv") == "a\tb\nx y\t1,2\n"
