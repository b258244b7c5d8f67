"""A bounded libFuzzer run of the core's kernel-peer API (tests/fuzz): any
finding fails the test and is kept under build/fuzz/ for replay."""
import subprocess

from paths import ROOT, binary


def test_fuzzing_the_kernel_peer_api_finds_nothing():
    corpus = ROOT / "build" / "fuzz" / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    res = subprocess.run([str(binary("ring_fuzz")), "-max_total_time=30", "-timeout=10",
                          f"-artifact_prefix={ROOT / 'build' / 'fuzz'}/", str(corpus)],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-4000:]
    assert "Done" in res.stderr
