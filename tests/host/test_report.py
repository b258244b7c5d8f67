"""tools/bench/report.py on a small synthetic results file, in a temporary
directory with its own README: the plots (valid PNGs of the size the
report computes, byte-identical on a rerun of the same data), the image
links above each suite's tables, the ratio and spread computation, and
the schema check of every record (a bad one is rejected with its file,
line and field)."""
import json
import math
import shutil
import struct
import subprocess
import sys

import pytest

from paths import ROOT

REPORT = ROOT / "tools" / "bench" / "report.py"
sys.path.insert(0, str(REPORT.parent))
import report  # noqa: E402  (a script directory, not a package)

pytest.importorskip("matplotlib")  # Debian's python3-matplotlib (tools/setup.sh)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
README_TEXT = """# a project

## Results

Text the report leaves alone.

<!-- results:begin -->
<!-- results:end -->

## After

More text the report leaves alone.
"""


def rings(scenario, impl, value, metric="rtt_ns", env="host", **extra):
    r = {"suite": "rings", "scenario": scenario, "impl": impl, "env": env, "metric": metric,
         "unit": "ns", "value": value, "p50": value, "p99": value * 1.5, "reps": 9,
         "msgs": 1000}
    if env == "host":
        r.update(rounds=9, min=value * 0.9, p10=value * 0.95, p90=value * 1.1,
                 max=value * 1.2, order="interleaved")
    r.update(extra)
    return r


def slab(scenario, impl, value, reps=5):
    return {"suite": "slab", "scenario": scenario, "impl": impl, "env": "host",
            "metric": "ns_per_op", "unit": "ns", "value": value, "p50": value,
            "p99": value * 1.25, "reps": reps, "ops": 20000}


RECORDS = [
    rings("pingpong-spin-56B", "exofusion", 100.0),
    rings("pingpong-spin-56B", "pipe", 400.0),
    rings("pingpong-spin-56B", "futex", 250.0),
    rings("stream-56B", "exofusion", 2e7, metric="msgs_per_s"),
    rings("stream-56B", "pipe", 5e6, metric="msgs_per_s"),
    rings("pingpong-block-56B", "exofusion", 5000.0, env="vm-icount", reps=5),
    rings("pingpong-block-56B", "eventfd", 4000.0, env="vm-icount", reps=5),
    slab("pair-64B", "exofusion-slab", 10.0),
    slab("pair-64B", "glibc", 20.0),
    slab("pair-64B", "mimalloc", 8.0, reps=1),
]


def write_results(path, records):
    path.write_text("".join(json.dumps(r, separators=(",", ":")) + "\n" for r in records))


@pytest.fixture
def workdir(tmp_path):
    write_results(tmp_path / "results.jsonl", RECORDS)
    (tmp_path / "README.md").write_text(README_TEXT)
    return tmp_path


def run_report(workdir, results="results.jsonl"):
    return subprocess.run([sys.executable, str(REPORT), str(workdir / results),
                           "--readme", str(workdir / "README.md"),
                           "--plots", str(workdir / "docs" / "bench")],
                          capture_output=True, text=True, timeout=120, cwd=workdir)


def png_size(path):
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE, f"{path} is not a PNG"
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR" and length == 13
    assert data[-12:-4] == b"\0\0\0\0IEND", f"{path} is truncated"
    return struct.unpack(">II", data[16:24])


def test_plots_are_pngs_of_the_computed_size(workdir):
    res = run_report(workdir)
    assert res.returncode == 0, res.stdout + res.stderr
    plots = sorted(p.name for p in (workdir / "docs" / "bench").iterdir())
    assert plots == ["rings.png", "slab.png"]
    figures = report.load([json.dumps(r) for r in RECORDS])
    for suite in ("rings", "slab"):
        rows, _ = report.plot_rows(figures, suite)
        impls = {i for _, points in rows for i in points}
        width, height = report.figure_inches(len(rows), len(impls))
        assert png_size(workdir / "docs" / "bench" / f"{suite}.png") == (
            round(width * report.DPI), round(height * report.DPI))
        data = (workdir / "docs" / "bench" / f"{suite}.png").read_bytes()
        for chunk in (b"tIME", b"tEXt", b"iTXt", b"zTXt"):
            assert chunk not in data, f"{suite}.png has a {chunk} chunk"


def test_readme_links_each_plot_above_its_tables(workdir):
    res = run_report(workdir)
    assert res.returncode == 0, res.stdout + res.stderr
    text = (workdir / "README.md").read_text()
    assert text.startswith("# a project\n\n## Results\n\nText the report leaves alone.\n")
    assert text.endswith("<!-- results:end -->\n\n## After\n\nMore text the report leaves alone.\n")
    for suite, me, first_table in (("rings", "exofusion", "**pingpong-spin-56B** (rings, host"),
                                   ("slab", "exofusion-slab", "**pair-64B** (slab, host")):
        link = f"![{suite}: each impl relative to {me}](docs/bench/{suite}.png)"
        assert text.count(link) == 1, text
        caption = text.index(f"*Plot ({suite}): ")
        assert text.index(link) < caption < text.index(first_table)
    # Each suite's plot comes after the previous suite's tables.
    assert text.index("(rings, vm-icount") < text.index("docs/bench/slab.png")
    # What has no spread is said so, not drawn: host-insn-like single values,
    # and the mimalloc point of one repetition.
    assert "none: one value per scenario is recorded" in text
    assert "min to max over the interleaved rounds (host)" in text
    # A second run on the same data leaves the README as it was.
    again = run_report(workdir)
    assert again.returncode == 0, again.stderr
    assert (workdir / "README.md").read_text() == text


def test_other_suites_keep_their_plot_link(workdir):
    assert run_report(workdir).returncode == 0
    write_results(workdir / "rings.jsonl", [r for r in RECORDS if r["suite"] == "rings"])
    res = run_report(workdir, "rings.jsonl")
    assert res.returncode == 0, res.stdout + res.stderr
    text = (workdir / "README.md").read_text()
    assert text.count("(docs/bench/slab.png)") == 1
    assert text.index("(docs/bench/slab.png)") < text.index("**pair-64B** (slab, host")


def test_rerun_on_unchanged_data_gives_identical_pngs(workdir):
    assert run_report(workdir).returncode == 0
    first = {p.name: p.read_bytes() for p in (workdir / "docs" / "bench").iterdir()}
    shutil.rmtree(workdir / "docs")
    assert run_report(workdir).returncode == 0
    second = {p.name: p.read_bytes() for p in (workdir / "docs" / "bench").iterdir()}
    assert first.keys() == second.keys() and all(first[k] == second[k] for k in first)


def test_ratio_and_spread():
    figures = report.load([json.dumps(r) for r in RECORDS])
    mine = figures[("rings", "host", "pingpong-spin-56B", "rtt_ns", "exofusion")]
    pipe = figures[("rings", "host", "pingpong-spin-56B", "rtt_ns", "pipe")]
    # min .. max over the rounds, divided by exofusion's median.
    rel = report.relative(pipe, mine)
    assert rel["kind"] == "range"
    assert math.isclose(rel["ratio"], 4.0)
    assert math.isclose(rel["low"], 3.6) and math.isclose(rel["high"], 4.8)
    own = report.relative(mine, mine)
    assert own["ratio"] == 1.0 and math.isclose(own["low"], 0.9) and math.isclose(own["high"], 1.2)
    # rtt_ns's p99 is over round trips, not repetitions: no spread.
    vm = report.relative(figures[("rings", "vm-icount", "pingpong-block-56B", "rtt_ns",
                                  "eventfd")],
                         figures[("rings", "vm-icount", "pingpong-block-56B", "rtt_ns",
                                  "exofusion")])
    assert vm == {"ratio": 0.8, "low": None, "high": None, "kind": None}
    # Repetitions with a p99 over them: the upper side only.
    me = figures[("slab", "host", "pair-64B", "ns_per_op", "exofusion-slab")]
    glibc = report.relative(figures[("slab", "host", "pair-64B", "ns_per_op", "glibc")], me)
    assert glibc["kind"] == "p99"
    assert math.isclose(glibc["ratio"], 2.0) and math.isclose(glibc["low"], 2.0)
    assert math.isclose(glibc["high"], 2.5)
    one = report.relative(figures[("slab", "host", "pair-64B", "ns_per_op", "mimalloc")], me)
    assert one == {"ratio": 0.8, "low": None, "high": None, "kind": None}
    # Nothing to divide by.
    assert report.relative(pipe, dict(mine, value=0.0)) is None
    # Rows: sorted, the suite's own impl needed, a zero leaves its point out.
    zero = dict(RECORDS[1], value=0.0, min=0.0, p10=0.0, p90=0.0, max=0.0)
    rows, left_out = report.plot_rows(report.load([json.dumps(r) for r in RECORDS[:3] + [zero]]),
                                      "rings")
    assert [key for key, _ in rows] == [("host", "pingpong-spin-56B", "rtt_ns")]
    assert sorted(rows[0][1]) == ["exofusion", "futex"]
    assert left_out == [("host pingpong-spin-56B rtt_ns pipe", "0 on a log scale")]


@pytest.mark.parametrize("lineno, change, field", [
    (3, {"value": "fast"}, "value"),
    (5, {"reps": 0}, "reps"),
    (2, {"speed": 1}, "speed"),
    (8, {"suite": "gpu"}, "suite"),
    (9, {"ops": None}, "ops"),
    (4, {"max": 1.0}, "value"),  # outside its rounds' min .. max
])
def test_a_malformed_record_is_rejected_with_its_line(workdir, lineno, change, field):
    records = [dict(r) for r in RECORDS]
    records[lineno - 1].update(change)
    write_results(workdir / "bad.jsonl", records)
    res = run_report(workdir, "bad.jsonl")
    assert res.returncode != 0
    assert f"bad.jsonl:{lineno}: field '{field}':" in res.stderr, res.stderr
    assert not (workdir / "docs").exists(), "plots written from a bad file"
    assert (workdir / "README.md").read_text() == README_TEXT


def test_a_missing_field_and_a_line_that_is_not_json(workdir):
    records = [dict(r) for r in RECORDS]
    del records[6]["impl"]
    write_results(workdir / "bad.jsonl", records)
    res = run_report(workdir, "bad.jsonl")
    assert res.returncode != 0 and "bad.jsonl:7: field 'impl': missing" in res.stderr, res.stderr
    lines = (workdir / "results.jsonl").read_text().splitlines()
    lines[3] = lines[3][:40]
    (workdir / "bad.jsonl").write_text("\n".join(lines) + "\n")
    res = run_report(workdir, "bad.jsonl")
    assert res.returncode != 0 and "bad.jsonl:4: record: not JSON" in res.stderr, res.stderr


def test_the_schema_is_documented_field_by_field():
    doc = (ROOT / report.SCHEMA_DOC).read_text()
    section = doc[doc.index("## The results file"):]
    for field in report.FIELD_TYPES:
        assert f"`{field}`" in section, f"{field} is not documented in {report.SCHEMA_DOC}"
    for suite in report.SUITE_FIELDS:
        assert f"`{suite}`" in section, suite
