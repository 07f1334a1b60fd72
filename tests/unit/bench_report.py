#!/usr/bin/env python3
"""bench_report.py CI_DIR: ci/bench-report.py's parser of redis-benchmark --csv output and its
Redis records (ci/bench's application runs), against outputs in the shapes Redis 7 prints and
broken ones; and the table of memx against NVMe-oF/RDMA and md RAID1 over two NVMe-oF/RDMA
targets. TAP output."""
import contextlib
import importlib.util
import io
import json
import os
import sys
import tempfile

spec = importlib.util.spec_from_file_location(
    "bench_report", os.path.join(sys.argv[1], "bench-report.py"))
br = importlib.util.module_from_spec(spec)
spec.loader.exec_module(br)

HEAD = ('"test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms",'
        '"p99_latency_ms","max_latency_ms"\n')
GET = HEAD + '"GET","3569.15","1.075","0.208","0.527","2.071","3.303","19.711"\n'
# A custom command's name holds commas and quotes as redis-benchmark writes them.
SET = HEAD + '"SET key:__rand_int__ x,""y""","412.50","2.401","0.301","1.903","5.001","9.215","30.1"\n'

results = []


def check(name, cond):
    results.append((name, bool(cond)))


def raises(text):
    try:
        br.parse_redis_csv(text)
    except ValueError:
        return True
    return False


g = br.parse_redis_csv(GET)
check("GET line: rps and latencies in us",
      g["test"] == "GET" and g["rps"] == 3569.15 and g["p50_us"] == 527.0 and
      g["p99_us"] == 3303.0 and g["avg_us"] == 1075.0 and g["max_us"] == 19711.0)
s = br.parse_redis_csv(SET)
check("custom command with a quoted comma", s["rps"] == 412.5 and s["p99_us"] == 9215.0)
check("empty output refused", raises(""))
check("an error message refused", raises("Could not connect to Redis at 127.0.0.1:16379\n"))
check("header without a result refused", raises(HEAD))
check("a short result line refused", raises(HEAD + '"GET","3569.15","1.075"\n'))
check("the two-column format (no latencies) refused", raises('"GET","3569.15"\n'))
check("rps 0 refused", raises(HEAD + '"GET","0.00","0","0","0","0","0","0"\n'))

with tempfile.TemporaryDirectory() as d:
    gp, sp, bad, out = (os.path.join(d, n) for n in ("get.csv", "set.csv", "bad.csv", "r.jsonl"))
    open(gp, "w").write(GET)
    open(sp, "w").write(SET)
    open(bad, "w").write("")
    br.cmd_redis(out, gp, sp, "device=memx", "fit=50", "rc=0", "wall_s=2.5", "requests=4444")
    br.cmd_redis(out, bad, sp, "device=nbd", "fit=50", "rc=0", "wall_s=2.5", "requests=4444")
    br.cmd_redis(out, gp, sp, "device=zram", "fit=50", "rc=124", "wall_s=2.5", "requests=4444")
    recs = [json.loads(line) for line in open(out)]
check("a good run: all requests over the wall time, the GETs' p99",
      recs[0]["ok"] is True and abs(recs[0]["rps"] - 4444 / 2.5) < 1e-9 and
      recs[0]["p99_us"] == 3303.0 and recs[0]["set_rps"] == 412.5 and recs[0]["fit"] == 50)
check("an empty GET output is recorded as failed", recs[1]["ok"] is False and "error" in recs[1])
check("a redis-benchmark that exited non-zero does not count",
      recs[2]["ok"] is False and "exit 124" in recs[2]["error"])

def table_rows(lines):
    """A markdown table's rows by their first cell."""
    return {line.split(" | ")[0].lstrip("| "): line.rstrip(" |").split(" | ")[1:]
            for line in lines if line.startswith("| ")}


# memx as shipped against one NVMe-oF copy and md RAID1 over two: the report's ratios.
with tempfile.TemporaryDirectory() as d:
    with open(os.path.join(d, "results.jsonl"), "w") as f:
        def w(**r):
            f.write(json.dumps(r) + "\n")
        for dev, rd, wr, swap, rps, p99 in (("memx", 12000, 8000, 20.0, 1200, 8000),
                                             ("nvmeof", 8000, 10000, 16.0, 1000, 10000),
                                             ("nvmeof_raid1", 6000, 4000, 25.0, 800, 16000)):
            w(kind="setup", device=dev, ok=True)
            w(kind="fio", device=dev, job="randread", bs=4096, qd=32, iops=rd)
            w(kind="fio", device=dev, job="randwrite", bs=4096, qd=32, iops=wr)
            w(kind="swap", device=dev, run=1, ok=True, wall_s=swap)
            w(kind="app", app="redis", device=dev, fit=50, ok=True, rps=rps, p99_us=p99,
              dev_reads=rps * 2, dev_read_us=p99 / 10, dev_read_kib=rps * 8, dev_writes=rps,
              dev_write_us=p99 / 5)
            # A Redis whose data did not verify has no figures (nvmeof_raid1's is checked below).
            w(kind="app_verify", app="redis", device=dev, ok=dev != "nvmeof_raid1")
        w(kind="app", app="redis", device="brd", fit=50, ok=True, rps=2500, p99_us=900)
        w(kind="app_verify", app="redis", device="brd", ok=True)
    res = br.load(d)
    rows = table_rows(br.resilience_lines(res))
    dev_rows = table_rows(br.device_lines(res))
    ceiling = br.ceiling_lines(res)
check("device table: reads and writes with their mean time and size at 75% and 50% fit",
      dev_rows["NVMe-oF/RDMA"] == ["-", "2000 of 1000 us (4 KiB), 1000 of 2000 us"] and
      dev_rows["memx as shipped (2 replicas)"] == ["-", "2400 of 800 us (4 KiB), 1200 of 1600 us"])
check("device table: a run without the device's counters shows a dash",
      dev_rows["brd, local RAM (the ceiling: no wire, no peer)"] == ["-", "-"])
check("the ceiling: brd's Redis throughput over NVMe-oF's at 50% fit",
      len(ceiling) == 2 and "did 2.50x NVMe-oF/RDMA's" in ceiling[0])
check("resilience table: memx / NVMe-oF next to memx / NVMe-oF RAID1, QD32 reads and writes",
      rows["4K randread QD32 IOPS"] == ["12000", "8000", "6000", "1.50", "2.00"] and
      rows["4K randwrite QD32 IOPS"] == ["8000", "10000", "4000", "0.80", "2.00"])
check("resilience table: the swap workload's time ratios",
      rows["swap workload wall time"] == ["20.0 s", "16.0 s", "25.0 s", "1.25", "0.80"])
check("resilience table: Redis at 50% fit; a peer whose data did not verify has no ratio",
      rows["Redis at 50% fit, requests/s"] == ["1200", "1000", "-", "1.20", "-"] and
      rows["Redis at 50% fit, GET p99"] == ["8000 us", "10000 us", "-", "0.80", "-"])
check("the RAID1 peer is in the fio table and the application devices",
      "nvmeof_raid1" in br.PEERS and "nvmeof_raid1" in [x for x, _ in br.APP_DEVICES])

# MEMX_BENCH_REDIS_ROUNDS: the tables take the median round; every round is listed.
with tempfile.TemporaryDirectory() as d:
    with open(os.path.join(d, "results.jsonl"), "w") as f:
        for dev, rounds in (("memx", (900, 1500, 1100)), ("nvmeof", (1300, 700)),
                            ("zram", (4000,))):
            for i, rps in enumerate(rounds, 1):
                f.write(json.dumps(dict(kind="app", app="redis", device=dev, fit=50, round=i,
                                        ok=True, rps=rps, p50_us=1000, p99_us=rps)) + "\n")
        f.write(json.dumps(dict(kind="app", app="redis", device="nbd", fit=50, round=1,
                                ok=False, error="exit 124")) + "\n")
        f.write(json.dumps(dict(kind="app", app="redis", device="nbd", fit=50, round=2,
                                ok=True, rps=600, p50_us=1000, p99_us=600)) + "\n")
        f.write(json.dumps(dict(kind="app", app="batch", device="memx", fit=50, round=1,
                                ok=True, wall_s=9.0)) + "\n")
    res = br.load(d)
    rounds = table_rows(br.rounds_lines(res))
    with contextlib.redirect_stdout(io.StringIO()):
        br.report(d)	# results.json takes the rounds too
    whole = open(os.path.join(d, "results.md")).read()
    saved = json.load(open(os.path.join(d, "results.json")))
apps = res["apps"]
check("rounds: the whole report lists them and saves them",
      "| NVMe-oF/RDMA | 50% | 1300, 700 |" in whole and
      len(saved["apps"]["memx"]["rounds"]["redis"]["50"]) == 3)
check("rounds: the median of three is the middle one",
      apps["memx"]["redis"]["50"]["rps"] == 1100 and apps["memx"]["redis"]["50"]["p99_us"] == 1100)
check("rounds: of two, the better; a single run is itself",
      apps["nvmeof"]["redis"]["50"]["rps"] == 1300 and apps["zram"]["redis"]["50"]["rps"] == 4000)
check("rounds: a failed round does not count",
      apps["nbd"]["redis"]["50"]["rps"] == 600)
check("rounds: every round listed, in order, only where there were several",
      rounds["memx as shipped (2 replicas)"] == ["50%", "900, 1500, 1100"] and
      rounds["NVMe-oF/RDMA"] == ["50%", "1300, 700"] and
      rounds["NBD/TCP"] == ["50%", "failed, 600"] and "zram lz4" not in rounds)
with tempfile.TemporaryDirectory() as d:
    open(os.path.join(d, "results.jsonl"), "w").write(json.dumps(dict(
        kind="app", app="redis", device="memx", fit=50, ok=True, rps=900)) + "\n")
    check("rounds: none listed when every fit ran once", br.rounds_lines(br.load(d)) == [])

print("1..%d" % len(results))
for i, (name, ok) in enumerate(results, 1):
    print("%sok %d - %s" % ("" if ok else "not ", i, name))
sys.exit(0 if all(ok for _, ok in results) else 1)
