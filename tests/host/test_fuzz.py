"""Bounded libFuzzer runs of the core (tests/fuzz): the kernel-peer API, the
slab cache and the NIC rings. Any finding fails the test and is kept under
build/fuzz/ for replay."""
import subprocess

from paths import ROOT, binary

FUZZ = ROOT / "build" / "fuzz"


def fuzz(target, corpus, artifact_prefix, *options):
    """Runs |target| on a corpus of its own (the inputs mean something else
    to each target); asserts it ran to its end without a finding."""
    (FUZZ / corpus).mkdir(parents=True, exist_ok=True)
    res = subprocess.run([str(binary(target)), "-timeout=10", *options,
                          f"-artifact_prefix={FUZZ}/{artifact_prefix}", str(FUZZ / corpus)],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-4000:]
    assert "Done" in res.stderr


def test_fuzzing_the_kernel_peer_api_finds_nothing():
    fuzz("ring_fuzz", "corpus", "", "-max_total_time=30")


def test_fuzzing_the_slab_cache_finds_nothing():
    fuzz("slab_fuzz", "slab_corpus", "slab-", "-max_total_time=20", "-runs=200000",
         "-rss_limit_mb=2048")


def test_fuzzing_the_nic_rings_finds_nothing():
    # Inputs are scripts of device and driver steps, so they may be long at once.
    fuzz("nic_fuzz", "nic_corpus", "nic-", "-max_total_time=10", "-len_control=0",
         "-max_len=4096")
