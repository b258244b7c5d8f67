"""The benchmark scenarios append JSON lines to build/bench/results.jsonl,
which this session starts afresh."""
import pytest

from paths import ROOT

RESULTS = ROOT / "build" / "bench" / "results.jsonl"


@pytest.fixture(scope="session")
def results():
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("")

    def record(output):
        lines = [l for l in output.splitlines() if l.startswith("{")]
        assert lines, "the benchmark printed no figure:\n" + output
        with RESULTS.open("a") as f:
            f.write("\n".join(lines) + "\n")
        return lines
    return record
