"""Bounded libFuzzer runs of the core (tests/fuzz): the kernel-peer API and
the slab cache. Any finding fails the test and is kept under build/fuzz/
for replay."""
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


def test_fuzzing_the_slab_cache_finds_nothing():
    # A corpus of its own: the inputs mean something else to each target.
    corpus = ROOT / "build" / "fuzz" / "slab_corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    res = subprocess.run([str(binary("slab_fuzz")), "-max_total_time=20", "-runs=200000",
                          "-timeout=10", "-rss_limit_mb=2048",
                          f"-artifact_prefix={ROOT / 'build' / 'fuzz'}/slab-", str(corpus)],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-4000:]
    assert "Done" in res.stderr


def test_fuzzing_the_nic_rings_finds_nothing():
    # The NIC core's rings against a hostile simulated 8254x; inputs are
    # scripts of device and driver steps, so they may be long at once.
    corpus = ROOT / "build" / "fuzz" / "nic_corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    res = subprocess.run([str(binary("nic_fuzz")), "-max_total_time=10", "-timeout=10",
                          "-len_control=0", "-max_len=4096",
                          f"-artifact_prefix={ROOT / 'build' / 'fuzz'}/nic-", str(corpus)],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-4000:]
    assert "Done" in res.stderr
