#!/usr/bin/env python3
"""Turns benchmark JSON lines into tables and plots: tables printed, written
as Markdown (build/bench/summary.md) and spliced into README.md between the
results markers; one plot per suite (docs/bench/<suite>.png: each impl's
figure relative to the suite's own impl, with the spread the records carry
as error bars), linked above that suite's tables. Also checks the targets
(ratios of medians measured in one run).

Every record is checked against the JSON line schema
(userspace/bench/README.md, "The results file"); a bad one stops the report
with its file, line and field.

In README.md only the suites the results file holds are replaced: the
tables, plot and target lines of every other suite (`make bench SUITES=...`
ran a few) are kept as they were, and so is its plot file.

  report.py build/bench/results.jsonl     full report, summary.md, README, plots
  report.py --table -                      print a table of JSON lines from stdin
"""
import argparse
import collections
import json
import math
import os
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
PLOTS = ROOT / "docs" / "bench"
SCHEMA_DOC = "userspace/bench/README.md"
BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"
LOWER_IS_BETTER = {"rtt_ns", "cpu_ns_per_rtt", "ns_per_op", "copies_per_msg", "insn_per_msg",
                   "insn_per_msg_producer", "insn_per_msg_consumer",
                   "insn_per_op", "rtt_p50_us", "rtt_p99_us", "loss_pct", "irq_per_pkt",
                   "wakeups_per_s", "mode_changes", "settle_changes", "settle_ms",
                   # the fibers suite
                   "ms", "short_p50_us", "short_p99_us", "long_max_wait_ms",
                   "d1_misses_per_run", "p99_us", "ns_per_run", "migrations_per_run"}
# The impl each suite's tables and targets put first and divide by.
MINE = {"rings": "exofusion", "slab": "exofusion-slab", "nic": "exofusion-nic",
        "fibers": "exofiber"}
# The order of the suites' target lines.
SUITES = ("rings", "slab", "nic", "fibers")
# Suites whose ratio column is impl / a baseline (Linux's own driver, which is
# always measured) rather than mine / impl.
BASELINE = {"nic": "linux-e1000"}

# (env, scenario, metric, peer, bound): exofusion / peer must be <= bound for
# lower-is-better metrics, >= bound otherwise.
TARGETS = [
    ("host", "pingpong-spin-56B", "rtt_ns", "cacheline-floor", 1.15),
    ("host", "pingpong-spin-56B", "rtt_ns", "boost-spsc", 1.0),
    ("host", "pingpong-block-56B", "rtt_ns", "futex", 1.0),
    ("host", "pingpong-block-56B", "rtt_ns", "eventfd", 1.0),
    ("host", "stream-56B", "msgs_per_s", "boost-spsc", 2.0),
    ("host", "stream-56B-batch16", "msgs_per_s", "boost-spsc", 1.2),
    ("host", "zerocopy-64KiB", "bytes_per_s", "unix-stream", 5.0),
    ("vm-icount", "pingpong-block-56B", "rtt_ns", "eventfd", 0.8),
    ("vm-icount", "stream-56B-batch16", "insn_per_msg", "pipe", 0.2),
    # Issue 9's intermediate bounds for the two above.
    ("vm-icount", "pingpong-block-56B", "rtt_ns", "eventfd", 0.9),
    ("vm-icount", "stream-56B-batch16", "insn_per_msg", "pipe", 0.5),
    # Callgrind, both ends in lockstep in one thread, each side's transport
    # work alone (tests/bench/test_rings_bench.py, userspace/bench/lockstep.cpp).
    ("host-insn", "stream-56B-batch16", "insn_per_msg_producer", "boost-spsc", 1.0),
    ("host-insn", "stream-56B-batch16", "insn_per_msg_consumer", "boost-spsc", 1.0),
    ("host-insn", "stream-56B", "insn_per_msg_producer", "boost-spsc", 1.0),
    ("host-insn", "stream-56B", "insn_per_msg_consumer", "boost-spsc", 1.0),
]

# The slab suite (exofusion-slab against allocators): (env, scenario, metric,
# peers, bound). exofusion-slab / the best (lowest) of the peers measured
# must be <= bound; all metrics here are lower-is-better.
HOST_ALLOCATORS = ("glibc", "jemalloc", "tcmalloc", "mimalloc")
SLAB_TARGETS = [
    ("host", "pair-64B", "ns_per_op", HOST_ALLOCATORS, 1.0),
    ("host", "batch1000-64B", "ns_per_op", HOST_ALLOCATORS, 1.0),
    ("host", "threads-remote-free", "ns_per_op", ("mimalloc",), 1.2),
    # In the kernel, against SLUB's kmem_cache on the same size, same run.
    ("vm-icount", "pair-64B", "insn_per_op", ("kmem_cache",), 0.8),
    ("vm-tcg", "crosscpu-64B", "ns_per_op", ("kmem_cache",), 1.0),
]
# (env, metric, scenario, baseline scenario, bound): exofusion-slab against
# itself, e.g. a bulk of 16 against 16 single pairs (both per pair).
SLAB_SELF_TARGETS = [
    ("vm-icount", "insn_per_op", "bulk16-64B", "pair-64B", 0.5),
]


class RecordError(ValueError):
    """A results line that does not follow the schema: where, and which field."""

    def __init__(self, source, lineno, field, problem):
        self.source, self.lineno, self.field = source, lineno, field
        where = f"field '{field}'" if field else "record"
        super().__init__(f"{source}:{lineno}: {where}: {problem} "
                         f"(the schema: {SCHEMA_DOC}, \"The results file\")")


def _is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _is_count(v):
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def _is_name(v):
    return isinstance(v, str) and v != "" and not any(c.isspace() for c in v)


# The JSON line schema (documented in userspace/bench/README.md): field ->
# (check, what it must be).
FIELD_TYPES = {
    "suite": (_is_name, "a suite name"),
    "scenario": (_is_name, "a non-empty name without spaces"),
    "impl": (_is_name, "a non-empty name without spaces"),
    "env": (_is_name, "a non-empty name without spaces"),
    "metric": (_is_name, "a non-empty name without spaces"),
    "unit": (lambda v: isinstance(v, str) and v != "", "a non-empty string"),
    "value": (_is_number, "a finite number"),
    "p50": (_is_number, "a finite number"),
    "p99": (_is_number, "a finite number"),
    "reps": (lambda v: _is_count(v) and v >= 1, "an integer >= 1"),
    "msgs": (_is_count, "an integer >= 0"),
    "ops": (_is_count, "an integer >= 0"),
    "rounds": (lambda v: _is_count(v) and v >= 1, "an integer >= 1"),
    "min": (_is_number, "a finite number"),
    "p10": (_is_number, "a finite number"),
    "p90": (_is_number, "a finite number"),
    "max": (_is_number, "a finite number"),
    "order": (lambda v: v == "interleaved", '"interleaved"'),
    "counts": (lambda v: isinstance(v, list) and len(v) == 2 and all(map(_is_count, v)),
               "a list of two integers >= 0"),
}
COMMON = ("suite", "scenario", "impl", "env", "metric", "unit", "value", "reps")
# The interleaved host rounds of the rings suite: all of these or none.
ROUNDS_FIELDS = ("rounds", "min", "p10", "p90", "max", "order")
# suite -> (required besides COMMON, optional)
SUITE_FIELDS = {
    "rings": (("p50", "p99", "msgs"), ROUNDS_FIELDS + ("counts",)),
    "slab": (("p50", "p99", "ops"), ()),
    "fibers": (("p50", "p99", "ops"), ()),
    "nic": ((), ("p50", "p99")),
}


def validate(r, source="<record>", lineno=0):
    """Checks one decoded record against the schema; raises RecordError."""
    def bad(field, problem):
        raise RecordError(source, lineno, field, problem)

    if not isinstance(r, dict):
        bad(None, f"not a JSON object but {type(r).__name__}")
    for field in ("suite",) + COMMON[1:]:
        if field not in r:
            bad(field, "missing")
        check, what = FIELD_TYPES[field]
        if not check(r[field]):
            bad(field, f"must be {what}, not {json.dumps(r[field])}")
        if field == "suite" and r["suite"] not in SUITE_FIELDS:
            bad("suite", f"unknown suite {json.dumps(r['suite'])} "
                         f"(known: {', '.join(sorted(SUITE_FIELDS))})")
    required, optional = SUITE_FIELDS[r["suite"]]
    for field in required:
        if field not in r:
            bad(field, f"missing (every {r['suite']} record has it)")
    for field in sorted(r):
        if field in COMMON:
            continue
        if field not in required and field not in optional:
            bad(field, f"not a field of a {r['suite']} record")
        check, what = FIELD_TYPES[field]
        if not check(r[field]):
            bad(field, f"must be {what}, not {json.dumps(r[field])}")
    present = [f for f in ROUNDS_FIELDS if f in r]
    if present and len(present) != len(ROUNDS_FIELDS):
        missing = [f for f in ROUNDS_FIELDS if f not in r]
        bad(missing[0], f"missing ({', '.join(present)} come with "
                        f"{', '.join(ROUNDS_FIELDS)})")
    if "min" in r and not r["min"] <= r["value"] <= r["max"]:
        bad("value", f"{r['value']:g} outside the rounds' min {r['min']:g} .. max {r['max']:g}")
    return r


def records(lines, source="<stdin>"):
    """The records of JSON lines, each checked (blank lines are skipped)."""
    out = []
    for lineno, line in enumerate(lines, 1):
        line = line.strip()
        if not line:
            continue
        try:
            r = json.loads(line)
        except json.JSONDecodeError as e:
            raise RecordError(source, lineno, None, f"not JSON ({e.msg} at column {e.colno}): "
                                                    f"{line[:60]!r}") from None
        out.append(validate(r, source, lineno))
    return out


def load(lines, source="<stdin>"):
    """Latest figure per (suite, env, scenario, metric, impl), every record
    checked against the schema (RecordError names the line and field)."""
    figures = {}
    for r in records(lines, source):
        figures[(r["suite"], r["env"], r["scenario"], r["metric"], r["impl"])] = r
        if r["env"] == "vm-icount" and r["metric"] == "msgs_per_s":
            # Guest time counts instructions: 1e9 "ns" per 1e9 instructions.
            derived = dict(r, metric="insn_per_msg", unit="insn", value=1e9 / r["value"],
                           derived=True)
            for field in ("p50", "p99") + ROUNDS_FIELDS:
                derived.pop(field, None)
            figures[(r["suite"], r["env"], r["scenario"], "insn_per_msg", r["impl"])] = derived
    return figures


def fmt(value):
    if value is None:
        return ""
    if abs(value) >= 1e6:
        return f"{value / 1e6:.2f}M"
    if abs(value) >= 1e4:
        return f"{value / 1e3:.1f}k"
    return f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"


def table_blocks(figures):
    """Markdown tables, one per (suite, env, scenario, metric), exofusion
    first: {(suite, env, scenario, metric): text}."""
    groups = collections.defaultdict(dict)
    for (suite, env, scenario, metric, impl), r in figures.items():
        groups[(suite, env, scenario, metric)][impl] = r
    blocks = {}
    for (suite, env, scenario, metric), impls in sorted(groups.items()):
        out = []
        me = MINE.get(suite, "exofusion")
        mine = impls.get(me)
        base = impls.get(BASELINE.get(suite))
        unit = next(iter(impls.values()))["unit"]
        out.append(f"\n**{scenario}** ({suite}, {env}, {metric}, {unit}"
                   f"{', lower is better' if metric in LOWER_IS_BETTER else ''})\n")
        column = f"impl / {BASELINE[suite]}" if suite in BASELINE else f"{me} / impl"
        out.append(f"| impl | median | p50 | p99 | {column} |")
        out.append("|---|---:|---:|---:|---:|")
        order = sorted(impls, key=lambda i: (i != me, impls[i]["value"]))
        for impl in order:
            r = impls[impl]
            if suite in BASELINE:
                ratio = (f"{r['value'] / base['value']:.2f}x"
                         if base and base["value"] else "")
            else:
                ratio = f"{mine['value'] / r['value']:.2f}x" if mine and r["value"] else ""
            out.append(f"| {impl} | {fmt(r['value'])} | {fmt(r.get('p50'))} | "
                       f"{fmt(r.get('p99'))} | {ratio} |")
        blocks[(suite, env, scenario, metric)] = "\n".join(out)
    return blocks


def tables(figures):
    """Markdown tables, one per (suite, env, scenario, metric), exofusion first."""
    return "\n".join(table_blocks(figures).values())


def target_line(what, mine, other, bound, lower=True, note=""):
    """"- what = ratio (target <= bound): met", or "not measured"."""
    if not mine or not other or not other["value"]:
        return f"- {what}: not measured"
    ratio = mine["value"] / other["value"]
    met = ratio <= bound if lower else ratio >= bound
    sign = "<=" if lower else ">="
    return f"- {what} = {ratio:.2f}{note} (target {sign} {bound}): {'met' if met else 'MISSED'}"


def check_targets(figures):
    """One line per target: met, missed, or not measured."""
    return "\n".join(line for lines in suite_targets(figures).values() for line in lines)


def suite_targets(figures):
    """{suite: its target lines}, for the suites the figures hold."""
    present = {k[0] for k in figures}
    out = {}
    if "rings" in present:
        lines = []
        for env, scenario, metric, peer, bound in TARGETS:
            lines.append(target_line(f"{env} {scenario} {metric}: exofusion/{peer}",
                                     figures.get(("rings", env, scenario, metric, "exofusion")),
                                     figures.get(("rings", env, scenario, metric, peer)),
                                     bound, lower=metric in LOWER_IS_BETTER))
        zc = figures.get(("rings", "host", "zerocopy-64KiB", "copies_per_msg", "exofusion"))
        if zc:
            lines.append(f"- host zerocopy-64KiB copies_per_msg = {zc['value']:g} (target 0): "
                         f"{'met' if zc['value'] == 0 else 'MISSED'}")
        out["rings"] = lines
    if "slab" in present:
        out["slab"] = check_slab_targets(figures)
    if "nic" in present:
        out["nic"] = check_nic_targets(figures)
    if "fibers" in present:
        out["fibers"] = check_fiber_targets(figures)
    return out


# The fibers suite: (scenario, metric, peer, bound), exofiber / peer, host.
FIBER_TARGETS = [
    ("switch", "insn_per_op", "fcontext", 1.0),
    ("switch", "ns_per_op", "fcontext", 1.1),
    ("spawn-join", "ns_per_op", "boost-fiber", 0.5),
    ("spawn-join", "ns_per_op", "go", 1.0),
    ("skynet-1M", "ms", "go", 1.0),           # faster than Go
    ("skynet-1M", "ms", "boost-fiber", 1.0),  # and than boost.fiber
    ("mixed-latency", "short_p99_us", "exofiber-fifo", 0.5),
    ("mixed-latency", "per_s", "exofiber-fifo", 0.95),
]
# exofiber's default aging bound: no long task waits longer.
FIBER_AGING_BOUND_MS = 10.0
# The seed's claim: steal-cold-only has 30-50% fewer D1 misses per run.
FIBER_CACHE_BOUND = 0.7


def check_fiber_targets(figures):
    me = MINE["fibers"]
    lines = []
    for scenario, metric, peer, bound in FIBER_TARGETS:
        lines.append(target_line(f"host {scenario} {metric}: {me}/{peer}",
                                 figures.get(("fibers", "host", scenario, metric, me)),
                                 figures.get(("fibers", "host", scenario, metric, peer)),
                                 bound, lower=metric in LOWER_IS_BETTER))
    wait = figures.get(("fibers", "host", "mixed-latency", "long_max_wait_ms", me))
    lines.append(f"- host mixed-latency long_max_wait_ms of {me} = {wait['value']:g} "
                 f"(target <= {FIBER_AGING_BOUND_MS:g}, the aging bound): "
                 f"{'met' if wait['value'] <= FIBER_AGING_BOUND_MS else 'MISSED'}" if wait else
                 f"- host mixed-latency long_max_wait_ms of {me}: not measured")
    lines.append(target_line(
        "host cache-affinity d1_misses_per_run: exofiber-steal-cold/exofiber-steal-any",
        figures.get(("fibers", "host", "cache-affinity", "d1_misses_per_run",
                     "exofiber-steal-cold")),
        figures.get(("fibers", "host", "cache-affinity", "d1_misses_per_run",
                     "exofiber-steal-any")),
        FIBER_CACHE_BOUND, note=" (the seed claims 0.5-0.7)"))
    return lines


# The nic suite (issue 7): (scenario, metric, peer, bound) against Linux's
# default e1000 in the same run, in each env.
NIC_ENVS = ("vm-icount", "vm-icount-mitoff")
NIC_TARGETS = [
    ("pingpong", "rtt_p50_us", "linux-e1000", 0.3),
    ("flood-64B", "pps", "linux-e1000", 1.1),
    ("flood-64B", "irq_per_pkt", "linux-e1000", 0.5),
]
# Adaptive within 1.1x of the best variant of each scenario.
NIC_BEST_OF = [("idle", "wakeups_per_s"), ("sparse-rr", "rtt_p50_us"),
               ("pingpong", "rtt_p50_us"), ("flood-64B", "pps"), ("tcp-stream", "mbit_per_s")]


def check_nic_targets(figures):
    me = MINE["nic"]
    lines = []
    for env in NIC_ENVS:
        if not any(k[0] == "nic" and k[1] == env for k in figures):
            continue
        for scenario, metric, peer, bound in NIC_TARGETS:
            lines.append(target_line(f"{env} {scenario} {metric}: {me}/{peer}",
                                     figures.get(("nic", env, scenario, metric, me)),
                                     figures.get(("nic", env, scenario, metric, peer)),
                                     bound, lower=metric in LOWER_IS_BETTER))
        for scenario, metric in NIC_BEST_OF:
            measured = {k[4]: r for k, r in figures.items()
                        if k[:4] == ("nic", env, scenario, metric)}
            if not measured:
                continue
            lower = metric in LOWER_IS_BETTER
            if lower and me in measured and measured[me]["value"] == 0:
                # Nothing is lower than 0 (idle: no wake-up at all).
                lines.append(f"- {env} {scenario} {metric}: {me} = 0, the lowest: met")
                continue
            measured = {i: r for i, r in measured.items() if r["value"]}
            best = (min if lower else max)(measured, key=lambda i: measured[i]["value"])
            lines.append(target_line(f"{env} {scenario} {metric}: {me}/best", measured.get(me),
                                     measured[best], 1.1 if lower else 1 / 1.1, lower=lower,
                                     note=f" ({best})"))
        idle = figures.get(("nic", env, "idle", "wakeups_per_s", me))
        lines.append(f"- {env} idle wakeups_per_s of {me} = {idle['value']:g} (target <= 1): "
                     f"{'met' if idle['value'] <= 1 else 'MISSED'}" if idle else
                     f"- {env} idle wakeups_per_s of {me}: not measured")
        phases = ("idle", "sparse", "flood", "idle2")
        steady = [figures.get(("nic", env, f"load-steps-{p}", "mode_changes", me))
                  for p in phases]
        settle = [figures.get(("nic", env, f"load-steps-{p}", "settle_ms", me)) for p in phases]
        if all(steady):
            # Changes past a phase's first second (its transition) are flaps.
            counts = [int(r["value"]) for r in steady]
            settled = ", ".join(f"{p} {r['value']:g} ms" for p, r in zip(phases, settle) if r)
            lines.append(f"- {env} load-steps: {me} changes in each steady phase {counts} "
                         f"(target: none; settled in: {settled}): "
                         f"{'MISSED' if any(counts) else 'met'}")
    return lines


def check_slab_targets(figures):
    """The slab suite's targets: exofusion-slab against the best peer, and
    against itself in another pattern."""
    lines = []
    me = MINE["slab"]
    for env, scenario, metric, peers, bound in SLAB_TARGETS:
        measured = {p: figures[("slab", env, scenario, metric, p)] for p in peers
                    if ("slab", env, scenario, metric, p) in figures}
        measured = {p: r for p, r in measured.items() if r["value"]}
        name = "/".join(peers) if len(peers) == 1 else f"best of {'/'.join(peers)}"
        best = min(measured, key=lambda p: measured[p]["value"]) if measured else None
        missing = [p for p in peers if p not in measured]
        note = ""
        if best and (len(peers) > 1 or missing):
            note = f" ({best}" + (f"; {', '.join(missing)} not measured" if missing else "") + ")"
        lines.append(target_line(f"{env} {scenario} {metric}: {me}/{name}",
                                 figures.get(("slab", env, scenario, metric, me)),
                                 measured.get(best), bound, note=note))
    for env, metric, scenario, baseline, bound in SLAB_SELF_TARGETS:
        lines.append(target_line(f"{env} {metric}: {me} {scenario}/{baseline}",
                                 figures.get(("slab", env, scenario, metric, me)),
                                 figures.get(("slab", env, baseline, metric, me)), bound))
    return lines


# The plots: one per suite, each impl's figure divided by the suite's own
# impl's (MINE) in every (env, scenario, metric) of the suite.
DPI = 100
FIG_WIDTH = 11.0        # inches
ROW_HEIGHT = 0.5        # inches per (env, scenario, metric) row
FIG_MARGINS = 1.7       # inches above and below the rows (title, axis, labels)
LEGEND_ROW = 0.26       # inches per impl in the legend
MARKERS = "osD^vP*Xph<>"


def spread(r):
    """The spread a record carries over its repetitions or rounds:
    (low, high, kind) in the record's unit, low/high None when not recorded.
      "range": min .. max over the rounds (the rings suite's interleaved host
               rounds);
      "p99":   value .. p99 over the repetitions (upper side only: the
               records carry no minimum);
      None:    one value only: one repetition, a derived figure, or a p99
               that is not over repetitions (the rings suite's rtt_ns: over
               round trips)."""
    if "min" in r and "max" in r:
        return r["min"], r["max"], "range"
    if (r["reps"] > 1 and "p99" in r and not r.get("derived")
            and not (r["suite"] == "rings" and r["metric"] == "rtt_ns")):
        return r["value"], max(r["p99"], r["value"]), "p99"
    return None, None, None


def relative(r, mine):
    """r's figure relative to mine's: {"ratio", "low", "high", "kind"}, where
    ratio = r.value / mine.value and low/high are r's spread divided by the
    same median of mine (None without a spread); None when mine's value is 0."""
    if not mine["value"]:
        return None
    low, high, kind = spread(r)
    m = mine["value"]
    return {"ratio": r["value"] / m, "low": None if low is None else low / m,
            "high": None if high is None else high / m, "kind": kind}


def plot_rows(figures, suite):
    """The rows of a suite's plot, sorted: [((env, scenario, metric),
    {impl: relative(...)})], and the rows or points left out: [(what, why)]."""
    me = MINE.get(suite, "exofusion")
    groups = collections.defaultdict(dict)
    for (s, env, scenario, metric, impl), r in figures.items():
        if s == suite:
            groups[(env, scenario, metric)][impl] = r
    rows, left_out = [], []
    for key, impls in sorted(groups.items()):
        what = " ".join(key)
        mine = impls.get(me)
        if mine is None:
            left_out.append((what, f"no {me} figure"))
            continue
        if not mine["value"]:
            left_out.append((what, f"{me}'s figure is 0"))
            continue
        if len(impls) == 1:
            left_out.append((what, f"{me} alone"))
            continue
        points = {}
        for impl, r in sorted(impls.items()):
            if r["value"] <= 0:
                left_out.append((f"{what} {impl}", "0 on a log scale"))
                continue
            points[impl] = relative(r, mine)
        rows.append((key, points))
    return rows, left_out


def figure_inches(rows, impls):
    """The plot's size in inches for so many rows and impls: fixed for a
    given data set (no tight bounding box, which would move with the text)."""
    return FIG_WIDTH, max(FIG_MARGINS + ROW_HEIGHT * rows, FIG_MARGINS + LEGEND_ROW * impls)


def spread_caption(rows, suite):
    """Which rows' error bars are of which kind, in words."""
    by_kind = collections.defaultdict(list)
    for (env, scenario, metric), points in rows:
        kinds = {p["kind"] for p in points.values()}
        by_kind[kinds.pop() if len(kinds) == 1 else "mixed"].append((env, scenario, metric))

    def where(keys):
        # Whole envs where every row of the env is of this kind.
        envs = sorted({k[0] for k in keys})
        out = []
        for env in envs:
            all_rows = [k for k, _ in rows if k[0] == env]
            mine = [k for k in keys if k[0] == env]
            if len(mine) == len(all_rows):
                out.append(env)
            else:
                metrics = sorted({k[2] for k in mine})
                out.append(f"{env} {', '.join(metrics)}")
        return "; ".join(out)

    text = {"range": "min to max over the interleaved rounds",
            "p99": "from the median up to the 99th percentile over the repetitions "
                   "(upper side only: the records carry no minimum)",
            None: "none: one value per scenario is recorded (one repetition or count, "
                  "a derived figure, or a p99 that is over samples, not repetitions)",
            "mixed": "depends on the impl"}
    return "; ".join(f"{text[k]} ({where(by_kind[k])})"
                     for k in ("range", "p99", None, "mixed") if by_kind.get(k))


def plot_suite(figures, suite, path):
    """Writes the suite's plot to path, deterministically (fixed size and dpi,
    no metadata that changes, sorted order); leaves the file untouched when
    the bytes would be the same. Returns (rows, left_out), rows [] (and no
    file written) when nothing can be compared."""
    rows, left_out = plot_rows(figures, suite)
    if not rows:
        return rows, left_out
    import io
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    me = MINE.get(suite, "exofusion")
    impls = sorted({i for _, points in rows for i in points}, key=lambda i: (i != me, i))
    colours = (plt.get_cmap("tab10").colors if len(impls) <= 10 else
               plt.get_cmap("tab20").colors)
    style = {impl: (colours[k % len(colours)], MARKERS[k % len(MARKERS)])
             for k, impl in enumerate(impls)}
    width, height = figure_inches(len(rows), len(impls))
    with matplotlib.rc_context():
        matplotlib.rcdefaults()
        matplotlib.rcParams.update({"font.size": 9, "svg.hashsalt": "exofusion",
                                    "path.simplify": False})
        fig = plt.figure(figsize=(width, height), dpi=DPI)
        left, right, top, bottom = 3.1, 2.1, 0.75, 0.95  # inches
        ax = fig.add_axes((left / width, bottom / height, 1 - (left + right) / width,
                           1 - (top + bottom) / height))
        n = len(rows)
        band = 0.8
        lo_x, hi_x = 1.0, 1.0
        for y, (key, points) in enumerate(rows):
            row_y = n - 1 - y  # first row on top
            if y % 2 == 0:
                ax.axhspan(row_y - 0.5, row_y + 0.5, color="0.94", zorder=0, linewidth=0)
            names = [i for i in impls if i in points]
            for k, impl in enumerate(names):
                p = points[impl]
                yy = row_y + band / 2 - band * (k + 0.5) / len(names)
                colour, marker = style[impl]
                xerr = None
                if p["low"] is not None:
                    xerr = [[p["ratio"] - p["low"]], [p["high"] - p["ratio"]]]
                    lo_x, hi_x = min(lo_x, p["low"]), max(hi_x, p["high"])
                ax.errorbar([p["ratio"]], [yy], xerr=xerr, fmt=marker, color=colour,
                            markersize=6 if impl == me else 5, capsize=2.5, elinewidth=1,
                            zorder=3, markeredgecolor="black" if impl == me else colour)
                lo_x, hi_x = min(lo_x, p["ratio"]), max(hi_x, p["ratio"])
        ax.axvline(1.0, color="black", linestyle="--", linewidth=1, zorder=2)
        ax.set_xscale("log")
        ax.set_xlim(lo_x / 1.6, hi_x * 1.6)
        # Plain numbers (0.5, 2, 100), and the minor ticks labelled too
        # when the axis spans too little for major ones.
        plain = matplotlib.ticker.FuncFormatter(lambda x, _: f"{x:g}")
        ax.xaxis.set_major_formatter(plain)
        ax.xaxis.set_minor_formatter(plain if hi_x / lo_x < 20 else
                                     matplotlib.ticker.NullFormatter())
        ax.set_ylim(-0.5, n - 0.5)
        labels = []
        for (env, scenario, metric), _ in rows:
            better = "\u2190 impl better" if metric in LOWER_IS_BETTER else "impl better \u2192"
            labels.append(f"{env}  {scenario}\n{metric}  ({better})")
        ax.set_yticks(range(n - 1, -1, -1))
        ax.set_yticklabels(labels)
        ax.grid(axis="x", which="major", color="0.8", linewidth=0.6, zorder=1)
        ax.set_xlabel(f"impl's figure / {me}'s (log scale; dashed line: {me} = 1.0)")
        ax.set_title(f"{suite}: each impl's figure relative to {me}'s, per env, scenario "
                     f"and metric\nerror bars: the spread the records carry (see the caption)")
        handles = [ax.errorbar([], [], fmt=style[i][1], color=style[i][0],
                               markeredgecolor="black" if i == me else style[i][0])
                   for i in impls]
        fig.legend(handles, impls, loc="upper left", frameon=False,
                   bbox_to_anchor=(1 - (right - 0.15) / width, 1 - top / height))
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
        plt.close(fig)
    data = buf.getvalue()
    path = pathlib.Path(path)
    if not path.exists() or path.read_bytes() != data:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)
    return rows, left_out


def plot_paragraph(suite, link, rows, left_out):
    """The Markdown above a suite's tables: the image and its caption."""
    me = MINE.get(suite, "exofusion")
    caption = (f"*Plot ({suite}): each impl's figure divided by {me}'s in the same run (log "
               f"scale; dashed line {me} = 1.0; each row says which side is better). Error "
               f"bars: {spread_caption(rows, suite)}.")
    if left_out:
        caption += " Not plotted: " + "; ".join(f"{what} ({why})" for what, why in left_out) + "."
    return f"![{suite}: each impl relative to {me}]({link})\n\n{caption}*"


# A table block's heading in the results section: **scenario** (suite, env, metric, unit...
BLOCK_HEAD = re.compile(r"^\*\*(?P<scenario>.+?)\*\* \((?P<suite>[^,]+), (?P<env>[^,]+), "
                        r"(?P<metric>[^,]+), ", re.M)
TARGETS_HEAD = "Targets (ratios of medians measured in the same run):"


def target_suite(line):
    """The suite a target line belongs to: the one whose own impl it names
    (the longest name first: exofusion-slab before exofusion), else rings."""
    for suite, me in sorted(MINE.items(), key=lambda kv: -len(kv[1])):
        if re.search(rf"(^|[\s/:(]){re.escape(me)}([-\s/=:)]|$)", line):
            return suite
    return "rings"


# A plot paragraph above a suite's tables: the image, a blank line, the caption.
PLOT_IMAGE = re.compile(r"^!\[[^\]\n]*\]\((?P<link>[^)\n]*?(?P<suite>[\w.-]+)\.png)\)$", re.M)
PLOT_CAPTION = re.compile(r"^\*Plot \((?P<suite>[^)\n]+)\): .*\*$", re.M)


def parse_results(section):
    """The table blocks {(suite, env, scenario, metric): text}, target
    lines {suite: [lines]} and plot paragraphs {suite: text} of a results
    section README.md holds."""
    tables_part, _, targets_part = section.partition(TARGETS_HEAD)
    images = {m["suite"]: m[0] for m in PLOT_IMAGE.finditer(tables_part)}
    captions = {m["suite"]: m[0] for m in PLOT_CAPTION.finditer(tables_part)}
    plots = {suite: image + (f"\n\n{captions[suite]}" if suite in captions else "")
             for suite, image in images.items()}
    tables_part = PLOT_CAPTION.sub("", PLOT_IMAGE.sub("", tables_part))
    blocks = {}
    heads = list(BLOCK_HEAD.finditer(tables_part))
    for i, m in enumerate(heads):
        end = heads[i + 1].start() if i + 1 < len(heads) else len(tables_part)
        key = (m["suite"], m["env"], m["scenario"], m["metric"])
        # As table_blocks() writes them: a blank line, the heading, a blank
        # line, the table.
        blocks[key] = ("\n" + tables_part[m.start():end].strip("\n") + "\n").rstrip("\n")
    targets = collections.defaultdict(list)
    for line in targets_part.splitlines():
        if line.startswith("- "):
            targets[target_suite(line)].append(line)
    return blocks, targets, plots


def merged_markdown(figures, old_section, plots=None):
    """The results section: this run's suites from the figures (with their
    plot paragraphs, {suite: text}, above their tables), every other suite
    as the old section had it."""
    present = {k[0] for k in figures}
    old_blocks, old_targets, old_plots = parse_results(old_section)
    blocks = {k: v for k, v in old_blocks.items() if k[0] not in present}
    blocks.update(table_blocks(figures))
    paragraphs = {s: t for s, t in old_plots.items() if s not in present}
    paragraphs.update(plots or {})
    parts, suite = [], None
    for k in sorted(blocks):
        if k[0] != suite:
            suite = k[0]
            if suite in paragraphs:
                parts.append(f"\n{paragraphs[suite]}")
        parts.append(blocks[k])
    body = "\n".join(parts)
    new_targets = suite_targets(figures)
    lines = []
    for suite in list(SUITES) + sorted((set(new_targets) | set(old_targets)) - set(SUITES)):
        lines += new_targets.get(suite, []) if suite in present else old_targets.get(suite, [])
    return f"{body}\n\n{TARGETS_HEAD}\n\n" + "\n".join(lines) + "\n"


def update_readme(figures, readme=README, plots=None):
    readme = pathlib.Path(readme)
    text = readme.read_text()
    if BEGIN not in text or END not in text:
        print(f"report: {readme} has no {BEGIN} ... {END} markers; not updated", file=sys.stderr)
        return False
    head, rest = text.split(BEGIN, 1)
    old, tail = rest.split(END, 1)
    new = f"{head}{BEGIN}\n{merged_markdown(figures, old, plots)}\n{END}{tail}"
    if new != text:
        readme.write_text(new)
    return True


def write_plots(figures, plot_dir, readme):
    """One plot per suite the figures hold, into plot_dir/<suite>.png:
    {suite: its Markdown paragraph, the image linked relative to readme}."""
    paragraphs = {}
    for suite in sorted({k[0] for k in figures}):
        path = pathlib.Path(plot_dir) / f"{suite}.png"
        rows, left_out = plot_suite(figures, suite, path)
        if not rows:
            print(f"report: {suite}: nothing to plot (no row with {MINE.get(suite)} "
                  f"and another impl)", file=sys.stderr)
            continue
        link = pathlib.PurePath(os.path.relpath(path, pathlib.Path(readme).resolve().parent))
        paragraphs[suite] = plot_paragraph(suite, link.as_posix(), rows, left_out)
    return paragraphs


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("results", help="JSON lines file, or - for stdin")
    ap.add_argument("--table", action="store_true", help="only print the table")
    ap.add_argument("--readme", default=str(README),
                    help="the Markdown file whose results section is regenerated "
                         "(default: %(default)s)")
    ap.add_argument("--plots", default=str(PLOTS),
                    help="the directory of the plots, <suite>.png (default: %(default)s)")
    args = ap.parse_args()
    try:
        if args.results == "-":
            figures = load(sys.stdin, "<stdin>")
        else:
            with open(args.results) as f:
                figures = load(f, args.results)
    except (RecordError, OSError) as e:
        sys.exit(f"report: {e}")
    if not figures:
        sys.exit(f"report: no figures in {args.results}")
    body = tables(figures)
    if args.table:
        print(body)
        return
    plot_dir = pathlib.Path(args.plots).resolve()
    plots = write_plots(figures, plot_dir, args.readme)
    targets = check_targets(figures)
    markdown = f"{body}\n\n{TARGETS_HEAD}\n\n{targets}\n"
    summary = pathlib.Path(args.results).with_name("summary.md")
    summary.write_text(markdown)
    update_readme(figures, args.readme, plots)
    print(markdown)
    print(f"report: wrote {summary}, the results section of {args.readme} and "
          f"{', '.join(str(plot_dir / f'{s}.png') for s in sorted(plots)) or 'no plot'}")


if __name__ == "__main__":
    main()
