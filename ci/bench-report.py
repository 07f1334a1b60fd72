#!/usr/bin/env python3
"""ci/bench-report.py: the bookkeeping half of ci/bench.

  bench-report.py rec FILE key=value...      append one JSON record (values parsed as JSON
                                              when they parse, else kept as strings)
  bench-report.py fio FILE JSON DEVICE JOB BS QD [REQS CALLS [USER SYS HZ]]
                                              append the figures of one fio --output-format=json
                                              run (and memx's engine counters and CPU ticks)
  bench-report.py perftest FILE TXT TEST     append the figures of one perftest client's output
  bench-report.py redis FILE GETCSV SETCSV key=value...
                                              append one Redis run (ci/bench-apps.sh): the GET
                                              and SET redis-benchmark --csv outputs run side by
                                              side, and its key=value figures (wall_s, requests)
  bench-report.py redis-csv CSV               print what parse_redis_csv makes of one file
  bench-report.py report DIR                 DIR/results.jsonl -> results.json, results.md,
                                              chart.png (gnuplot, ci/bench-plot.gp)

Every figure is from one guest boot on one Soft-RoCE link, so only ratios inside one run mean
anything (QEMU TCG runs 10-50x slower than hardware).
"""
import json
import os
import subprocess
import sys

DEVICES = [
    ("memx", "memx as shipped (2 donors, 2 replicas)"),
    ("memx_r1", "memx --replicas 1 (2 donors)"),
    ("memx_ublk", "memx through the kernel's ublk (2 donors, 2 replicas)"),
    ("nvmeof", "NVMe-oF/RDMA (nvmet, brd)"),
    ("nvmeof_raid1", "md RAID1 over two NVMe-oF/RDMA (nvmet, brd)"),
    ("nbd", "NBD/TCP lo (brd)"),
    ("zram", "zram lz4"),
    ("brd", "brd (local RAM disk)"),
]
MEMX = ["memx", "memx_r1", "memx_ublk"]
PEERS = [d for d, _ in DEVICES if d not in MEMX]
# The application runs (ci/bench-apps.sh): no swap at all is the reference.
APP_DEVICES = [
    ("noswap", "no swap (reference)"),
    ("memx", "memx as shipped (2 replicas)"),
    ("memx_r1", "memx --replicas 1"),
    ("memx_ublk", "memx through ublk (2 replicas)"),
    ("nvmeof", "NVMe-oF/RDMA"),
    ("nvmeof_raid1", "md RAID1 over two NVMe-oF/RDMA"),
    ("nbd", "NBD/TCP"),
    ("zram", "zram lz4"),
    ("brd", "brd, local RAM (the ceiling: no wire, no peer)"),
]
SHORT = {"noswap": "no swap", "memx": "memx", "memx_r1": "memx-r1", "memx_ublk": "memx-ublk",
         "nvmeof": "NVMe-oF", "nvmeof_raid1": "NVMe-oF RAID1", "nbd": "NBD", "zram": "zram",
         "brd": "brd"}


def append(path, rec):
    with open(path, "a") as f:
        f.write(json.dumps(rec, sort_keys=True) + "\n")


def value(s):
    try:
        return json.loads(s)
    except ValueError:
        return s


def cmd_rec(path, *kv):
    rec = {}
    for item in kv:
        k, _, v = item.partition("=")
        rec[k] = value(v)
    append(path, rec)


def size_bytes(s):
    s = s.strip().lower()
    mult = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}.get(s[-1:], 1)
    return int(s.rstrip("kmg")) * mult


def cmd_fio(path, fio_json, device, job, bs, qd, reqs=None, calls=None, user_ticks=None,
            sys_ticks=None, hz=None):
    rec = {"kind": "fio", "device": device, "job": job, "bs": size_bytes(bs), "qd": int(qd)}
    try:
        with open(fio_json) as f:
            text = f.read()
        # fio may print warnings before the JSON document.
        j = json.loads(text[text.index("{"):])["jobs"][0]
        side = j["read"] if "read" in job else j["write"]
        lat = side["lat_ns"]
        pct = lat.get("percentile") or side["clat_ns"].get("percentile", {})
        rec.update(iops=side["iops"], mbps=side["bw_bytes"] / 1e6, mean_us=lat["mean"] / 1000,
                   p50_us=pct.get("50.000000", 0) / 1000,
                   p99_us=pct.get("99.000000", 0) / 1000, ios=side["total_ios"],
                   errors=j.get("error", 0))
        if j.get("error"):
            rec["error"] = "fio error %d" % j["error"]
    except Exception as e:  # a broken run is reported, never dropped
        rec["error"] = "no fio result: %s" % e
    if reqs is not None and calls is not None and int(reqs) > 0:
        rec.update(requests=int(reqs), syscalls=int(calls),
                   syscalls_per_req=int(calls) / int(reqs))
        if hz:
            # The engine's CPU time over the requests it served. Its system time includes
            # Soft-RoCE's work, done in the engine's system calls (a NIC's job on hardware).
            per = 1e6 / int(hz) / int(reqs)
            rec.update(cpu_user_us_per_req=int(user_ticks) * per,
                       cpu_sys_us_per_req=int(sys_ticks) * per,
                       cpu_us_per_req=(int(user_ticks) + int(sys_ticks)) * per)
    append(path, rec)


def cmd_perftest(path, txt, test):
    """perftest prints a header line starting with '#bytes' and one result line per size."""
    rec = {"kind": "perftest", "test": test}
    try:
        lines = open(txt, errors="replace").read().splitlines()
        row = None
        for i, line in enumerate(lines):
            if line.strip().startswith("#bytes"):
                for nxt in lines[i + 1:]:
                    toks = nxt.split()
                    if toks and toks[0].isdigit():
                        row = [float(t) for t in toks if t.replace(".", "", 1).isdigit()]
                        break
        if row is None:
            raise ValueError("no result line")
        if test.endswith("_bw"):
            # bytes iterations bw_peak bw_avg(MB/s) msg_rate(Mpps)
            rec.update(bytes=int(row[0]), iters=int(row[1]), mbps=row[3] * 1.048576,
                       iops=row[4] * 1e6)
        else:
            # bytes iterations t_min t_max t_typical t_avg t_stdev p99 p99.9 (usec)
            rec.update(bytes=int(row[0]), iters=int(row[1]), min_us=row[2], typical_us=row[4],
                       mean_us=row[5], p99_us=row[7])
    except Exception as e:
        rec["error"] = "no perftest result: %s" % e
    append(path, rec)


def parse_redis_csv(text):
    """redis-benchmark --csv (Redis 7): a header line, then one line per test with rps and
    latencies in ms. Returns the first test's figures with latencies in us; raises ValueError
    when there is none (an empty file, an error message, the older two-column format)."""
    import csv
    rows = list(csv.reader(line for line in text.splitlines() if line.strip()))
    if len(rows) < 2 or rows[0][:2] != ["test", "rps"]:
        raise ValueError("no redis-benchmark --csv header")
    head, row = rows[0], rows[1]
    if len(row) != len(head):
        raise ValueError("a result line of %d fields under a header of %d" % (len(row), len(head)))
    f = dict(zip(head, row))
    out = {"test": f["test"], "rps": float(f["rps"])}
    for k in ("avg", "min", "p50", "p95", "p99", "max"):
        if k + "_latency_ms" not in f:
            raise ValueError("no %s_latency_ms" % k)
        out[k + "_us"] = float(f[k + "_latency_ms"]) * 1000
    if out["rps"] <= 0:
        raise ValueError("rps %s" % f["rps"])
    return out


def cmd_redis(path, get_csv, set_csv, *kv):
    rec = {"kind": "app", "app": "redis"}
    for item in kv:
        k, _, v = item.partition("=")
        rec[k] = value(v)
    try:
        g = parse_redis_csv(open(get_csv, errors="replace").read())
        s = parse_redis_csv(open(set_csv, errors="replace").read())
        if rec.get("rc"):
            raise ValueError("redis-benchmark exit %s" % rec["rc"])
        rec.update(ok=True, get_rps=g["rps"], set_rps=s["rps"], p50_us=g["p50_us"],
                   p99_us=g["p99_us"], mean_us=g["avg_us"], max_us=g["max_us"],
                   set_p99_us=s["p99_us"])
        # All requests over the wall time of both clients together.
        rec["rps"] = float(rec["requests"]) / float(rec["wall_s"])
    except Exception as e:  # a broken run is reported, never dropped
        rec.update(ok=False, error="no redis-benchmark result: %s" % e)
    append(path, rec)


def run_score(app, r):
    """How good a run of app was: Redis's throughput, or the batch job's time negated."""
    return r["rps"] if app == "redis" else -r["wall_s"]


def median_run(app, runs):
    """The median of the rounds of one fit (MEMX_BENCH_REDIS_ROUNDS): of an even number, the
    better of the middle two (as the swap workload's best of 2). Failed rounds do not count;
    with none that succeeded, the last round, failed."""
    good = sorted((r for r in runs if r.get("ok")), key=lambda r: run_score(app, r), reverse=True)
    return good[(len(good) - 1) // 2] if good else runs[-1]


def load(d):
    recs = []
    p = os.path.join(d, "results.jsonl")
    if os.path.exists(p):
        for line in open(p):
            line = line.strip()
            if line:
                try:
                    recs.append(json.loads(line))
                except ValueError:
                    pass
    out = {"meta": {}, "perftest": {}, "devices": {}, "apps": {}}
    for dev, label in DEVICES:
        out["devices"][dev] = {"label": label, "setup": "not run", "fio": {}, "swap": None,
                               "notes": []}
    for r in recs:
        k = r.get("kind")
        if k == "meta":
            out["meta"].update({a: b for a, b in r.items() if a != "kind"})
        elif k == "perftest":
            out["perftest"][r["test"]] = r
        elif k == "setup":
            dev = out["devices"].setdefault(r["device"], {"label": r["device"], "fio": {},
                                                           "swap": None, "notes": []})
            dev["setup"] = "ok" if r.get("ok") else "setup failed: %s" % r.get("why", "?")
            if r.get("detail"):
                dev["detail"] = r["detail"]
        elif k == "fio":
            out["devices"][r["device"]]["fio"]["%s_qd%d" % (r["job"], r["qd"])] = r
        elif k == "swap":
            # Each run is kept; the figure is the best successful run (the least disturbed by
            # the host), or the first failure when none succeeded.
            dev = out["devices"][r["device"]]
            dev.setdefault("swap_runs", []).append(r)
            best = dev["swap"]
            if best is None or (r.get("ok") and (not best.get("ok") or
                                                 r["wall_s"] < best["wall_s"])):
                dev["swap"] = r
        elif k in ("app", "app_verify", "samefill", "zram"):
            a = out["apps"].setdefault(r.get("device", "zram"), {"redis": {}, "batch": {},
                                                                  "pc_redis": {}, "pc_batch": {},
                                                                  "samefill": {}})
            if k == "app" and "fit" not in r:
                a["redis_setup"] = r
            elif k == "app" and r.get("pc_run"):
                # memx's vm.page-cluster runs at 50% are kept apart from the fits.
                a["pc_" + r["app"]][str(r["page_cluster"])] = r
            elif k == "app":
                a.setdefault("rounds", {}).setdefault(r["app"], {}).setdefault(
                    str(r["fit"]), []).append(r)
            elif k == "app_verify":
                a["verify"] = r
            elif k == "samefill":
                a["samefill"][r["app"]] = r
            else:
                a["zram_mm_stat"] = r.get("mm_stat")
        elif k == "note":
            out["devices"][r["device"]]["notes"].append(r["text"])
    # Each fit's figure is its median round, picked once every round is in.
    for a in out["apps"].values():
        for app, fits in a.get("rounds", {}).items():
            for fit, runs in fits.items():
                a[app][fit] = median_run(app, runs)
    return out


ROWS = [
    # key, field, label, unit, higher_is_better
    ("randread_qd1", "iops", "4K randread QD1 IOPS", "", True),
    ("randread_qd1", "mean_us", "4K randread QD1 mean lat", "us", False),
    ("randread_qd1", "p99_us", "4K randread QD1 p99 lat", "us", False),
    ("randread_qd32", "iops", "4K randread QD32 IOPS", "", True),
    ("randread_qd32", "mean_us", "4K randread QD32 mean lat", "us", False),
    ("randread_qd32", "p99_us", "4K randread QD32 p99 lat", "us", False),
    ("randwrite_qd1", "iops", "4K randwrite QD1 IOPS", "", True),
    ("randwrite_qd1", "mean_us", "4K randwrite QD1 mean lat", "us", False),
    ("randwrite_qd1", "p99_us", "4K randwrite QD1 p99 lat", "us", False),
    ("randwrite_qd32", "iops", "4K randwrite QD32 IOPS", "", True),
    ("randwrite_qd32", "mean_us", "4K randwrite QD32 mean lat", "us", False),
    ("randwrite_qd32", "p99_us", "4K randwrite QD32 p99 lat", "us", False),
    ("randread-polled_qd1", "iops", "4K randread QD1 polled IOPS", "", True),
    ("randread-polled_qd1", "mean_us", "4K randread QD1 polled mean lat", "us", False),
    ("randread-polled_qd1", "p50_us", "4K randread QD1 polled median lat", "us", False),
    ("randread-polled_qd1", "p99_us", "4K randread QD1 polled p99 lat", "us", False),
    ("randwrite-polled_qd1", "iops", "4K randwrite QD1 polled IOPS", "", True),
    ("randwrite-polled_qd1", "mean_us", "4K randwrite QD1 polled mean lat", "us", False),
    ("randwrite-polled_qd1", "p50_us", "4K randwrite QD1 polled median lat", "us", False),
    ("randwrite-polled_qd1", "p99_us", "4K randwrite QD1 polled p99 lat", "us", False),
    ("read_qd8", "mbps", "128K seq read MB/s", "", True),
    ("write_qd8", "mbps", "128K seq write MB/s", "", True),
    ("swap", "wall_s", "swap workload wall time", "s", False),
    ("swap", "pswpout", "swap workload pswpout", "", None),
    ("swap", "pswpin", "swap workload pswpin", "", None),
]


def metric(res, dev, key, field):
    d = res["devices"].get(dev)
    if not d:
        return None
    r = d["swap"] if key == "swap" else d["fio"].get(key)
    if not r or r.get("error") or (key == "swap" and not r.get("ok")):
        return None
    v = r.get(field)
    return float(v) if isinstance(v, (int, float)) else None


def fmt(v, unit=""):
    if v is None:
        return "-"
    if unit == "s":
        return "%.1f s" % v
    if unit == "us":
        return "%.0f us" % v if v >= 100 else "%.1f us" % v
    return "%.0f" % v if v >= 100 else "%.1f" % v


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def goal_line(name, rs, target, higher, strict=False):
    """One goal, one cell per memx variant: "1.86x met" / "0.96x NOT met"."""
    op = (">" if higher else "<") + ("" if strict else "=")
    cells = []
    for r in rs:
        if r is None:
            cells.append("not measured")
            continue
        if higher:
            met = r > target if strict else r >= target
        else:
            met = r < target if strict else r <= target
        cells.append("%.2fx %s" % (r, "met" if met else "**NOT met**"))
    return "| %s | %s %.2fx | %s |" % (name, op, target, " | ".join(cells))


def report(d):
    res = load(d)
    with open(os.path.join(d, "results.json"), "w") as f:
        json.dump(res, f, indent=1, sort_keys=True)
    m, pt = res["meta"], res["perftest"]
    L = []
    L.append("# memx bench %s" % m.get("date", ""))
    L.append("")
    L.append("One guest boot, one Soft-RoCE (rxe) link: %s, kernel %s, %s vCPUs, fio %s, "
             "%s s per fio job, %s devices, swap workload %s MiB in a %s cgroup (best of %s). "
             "QEMU TCG is 10-50x slower than hardware: compare ratios, not absolute values."
             % (m.get("where", "?"), m.get("kernel", "?"), m.get("cpus", "?"), m.get("fio", "?"),
                m.get("runtime", "?"), m.get("size", "?"), m.get("swap_mib", "?"),
                m.get("swap_limit", "?"), m.get("swap_runs", 1)))
    L.append("")
    L.append("## The link's limit (perftest, 4 KiB, rdma_cm, tx depth %s)" % m.get("pt_depth", "?"))
    L.append("")
    L.append("| test | ops/s | MB/s | mean lat | median lat | p99 lat |")
    L.append("| --- | --- | --- | --- | --- | --- |")
    for t in ("ib_write_bw", "ib_read_bw", "ib_write_lat", "ib_read_lat"):
        r = pt.get(t)
        if not r or r.get("error"):
            L.append("| %s | %s | | | | |" % (t, (r or {}).get("error", "not run")))
        elif t.endswith("_bw"):
            L.append("| %s | %.0f | %.1f | | | |" % (t, r["iops"], r["mbps"]))
        else:
            L.append("| %s | | | %.1f us | %.1f us | %.1f us |" % (
                t, r["mean_us"], r.get("typical_us", float("nan")), r["p99_us"]))
    L.append("")
    L.append("ib_write_lat reports half a round trip (ping-pong of writes); ib_read_lat a full "
             "READ round trip.")
    L.append("")
    L.append("## Devices")
    L.append("")
    L.append("| device | state |")
    L.append("| --- | --- |")
    for dev, label in DEVICES:
        dd = res["devices"][dev]
        L.append("| %s | %s%s |" % (label, dd["setup"],
                                    (" (%s)" % dd["detail"]) if dd.get("detail") else ""))
    L.append("")
    L.append("memx runs twice: as shipped (with two donors it keeps 2 replicas, so every write "
             "crosses the link twice) and with `--replicas 1` (one copy, like every peer). "
             "fio: io_uring, direct, 4 KiB random over the whole device after writing it all "
             "once; 128 KiB sequential at QD 8. Latency is fio's total latency (submit to "
             "completion). \"polled\" rows use io_uring IOPOLL (fio --hipri): fio spins for "
             "its completion instead of sleeping, as perftest does; only memx and NVMe-oF "
             "(each given one poll queue) can do it.")
    L.append("")
    L.append("| metric | " + " | ".join(SHORT[x] for x, _ in DEVICES) + " |")
    L.append("|" + " --- |" * (1 + len(DEVICES)))
    for key, field, label, unit, _hib in ROWS:
        vals = [metric(res, x, key, field) for x, _ in DEVICES]
        L.append("| %s | %s |" % (label, " | ".join(fmt(v, unit) for v in vals)))
    L.append("")
    L.append("### memx's ratio to each peer")
    L.append("")
    L.append("memx / peer: above 1 is better for IOPS and MB/s, below 1 is better for latency "
             "and time.")
    L.append("")
    pairs = [(mx, p) for mx in MEMX for p in PEERS]
    L.append("| metric | " + " | ".join("%s/%s" % (SHORT[mx], SHORT[p]) for mx, p in pairs) + " |")
    L.append("|" + " --- |" * (1 + len(pairs)))
    for key, field, label, unit, hib in ROWS:
        if hib is None:
            continue
        rats = []
        for mx, p in pairs:
            r = ratio(metric(res, mx, key, field), metric(res, p, key, field))
            rats.append("-" if r is None else "%.2f" % r)
        L.append("| %s | %s |" % (label, " | ".join(rats)))
    L.append("")
    L.append("### memx.ko against the kernel's ublk")
    L.append("")
    L.append("The same engine and volume (2 replicas) behind either kernel shim, in this boot: "
             "memx / memx-ublk, above 1 is better for memx.ko in IOPS and MB/s, below 1 in "
             "latency and time (ublk has no poll queues: no polled rows).")
    L.append("")
    L.append("| metric | memx.ko | ublk | memx.ko / ublk |")
    L.append("| --- | --- | --- | --- |")
    for key, field, label, unit, hib in ROWS:
        if hib is None:
            continue
        a, b = metric(res, "memx", key, field), metric(res, "memx_ublk", key, field)
        r = ratio(a, b)
        L.append("| %s | %s | %s | %s |" % (label, fmt(a, unit), fmt(b, unit),
                                            "-" if r is None else "%.2f" % r))
    L.append("")
    for dev, label in DEVICES:
        s = res["devices"][dev]["swap"]
        if s and not s.get("ok"):
            L.append("- swap on %s failed: %s" % (label, s.get("why", s.get("output", "?"))))
        runs = res["devices"][dev].get("swap_runs", [])
        if len(runs) > 1:
            L.append("- swap workload on %s, every run: %s (the table shows the best)" % (
                label, ", ".join("%.1f s" % r["wall_s"] if r.get("ok") else "failed"
                                 for r in runs)))
        for n in res["devices"][dev]["notes"]:
            L.append("- %s: %s" % (label, n))
    L.append("- brd and zram swap in synchronously, bypassing the swap cache: their pswpout/"
             "pswpin are not comparable with the others'; compare wall times.")
    L.append("")
    # memx engine system calls per request
    L.append("## memx engine cost per request")
    L.append("")
    L.append("System calls: (wakeups + commits + rdma_posts + cq_arms) / (reads + writes), "
             "from `memxctl status --json` before and after each job. CPU: the engine's user "
             "and system time over the same requests; its system time includes Soft-RoCE's "
             "packet work (CRC, copies), which runs inside the engine's RDMA system calls here "
             "and in the NIC on hardware, and its user time includes polling (`--poll-us`).")
    L.append("")
    L.append("| memx | job | QD | requests | syscalls/req | user us/req | system us/req |")
    L.append("| --- | --- | --- | --- | --- | --- | --- |")
    for mx in MEMX:
        tr = tc = 0
        for k, r in sorted(res["devices"][mx]["fio"].items()):
            if "syscalls_per_req" in r:
                tr += r["requests"]
                tc += r["syscalls"]
                L.append("| %s | %s | %d | %d | %.2f | %s | %s |" % (
                    SHORT[mx], r["job"], r["qd"], r["requests"], r["syscalls_per_req"],
                    "%.1f" % r["cpu_user_us_per_req"] if "cpu_user_us_per_req" in r else "-",
                    "%.1f" % r["cpu_sys_us_per_req"] if "cpu_sys_us_per_req" in r else "-"))
        if tr:
            L.append("| %s | all | | %d | %.2f | | |" % (SHORT[mx], tr, tc / tr))
    L.append("")
    # goals
    L.append("## Goals (ratios within this run)")
    L.append("")
    L.append("| goal | target | " + " | ".join(res["devices"][mx]["label"] for mx in MEMX) + " |")
    L.append("| --- | --- |" + " --- |" * len(MEMX))
    for job in ("randread", "randwrite"):
        L.append(goal_line("4K %s QD32 IOPS / NVMe-oF/RDMA" % job,
                           [ratio(metric(res, mx, job + "_qd32", "iops"),
                                  metric(res, "nvmeof", job + "_qd32", "iops")) for mx in MEMX],
                           1.5, True))
    for job, t in (("randread", "ib_read_bw"), ("randwrite", "ib_write_bw")):
        p = pt.get(t, {})
        L.append(goal_line("4K %s QD32 IOPS / perftest %s" % (job, t),
                           [ratio(metric(res, mx, job + "_qd32", "iops"),
                                  None if p.get("error") else p.get("iops")) for mx in MEMX],
                           0.8, True))
    for job, t in (("randread", "ib_read_lat"), ("randwrite", "ib_write_lat")):
        p = pt.get(t, {})
        for kind, key in (("polled", job + "-polled_qd1"), ("sleeping", job + "_qd1")):
            L.append(goal_line("4K %s QD1 mean lat, %s / perftest %s" % (job, kind, t),
                               [ratio(metric(res, mx, key, "mean_us"),
                                      None if p.get("error") else p.get("mean_us"))
                                for mx in MEMX], 1.3, False))
        # perftest's t_typical is its median.
        L.append(goal_line("4K %s QD1 median lat, polled / perftest %s typical" % (job, t),
                           [ratio(metric(res, mx, job + "-polled_qd1", "p50_us"),
                                  None if p.get("error") else p.get("typical_us"))
                            for mx in MEMX], 1.3, False))
    for p in ("nvmeof", "nbd", "zram"):
        L.append(goal_line("swap workload wall time / %s" % SHORT[p],
                           [ratio(metric(res, mx, "swap", "wall_s"),
                                  metric(res, p, "swap", "wall_s")) for mx in MEMX],
                           1.0, False, strict=True))
    L.append("")
    rl = pt.get("ib_read_lat") or {}
    if rl.get("mean_us") and not rl.get("error"):
        L.append("ib_write_lat's figure is half a ping-pong round trip, so the write-latency goal "
                 "holds a full request against half a round trip. Against ib_read_lat (a full "
                 "round trip), 4K randwrite QD1 polled mean latency is " + ", ".join(
                     "%.2fx (%s)" % (metric(res, mx, "randwrite-polled_qd1", "mean_us") /
                                     rl["mean_us"], SHORT[mx]) for mx in MEMX
                     if metric(res, mx, "randwrite-polled_qd1", "mean_us")) + ".")
    L.append("")
    L.extend(resilience_lines(res))
    if m.get("elapsed_s"):
        L.append("Guest run time: %s s." % m["elapsed_s"])
        L.append("")
    if res["apps"]:
        apps_report(d, res, L)
    chart(d, res, L)
    with open(os.path.join(d, "results.md"), "w") as f:
        f.write("\n".join(L) + "\n")


# memx as shipped against one NVMe-oF/RDMA copy and against md RAID1 over two (its resilience).
RESILIENCE_ROWS = [
    # label, unit, higher_is_better, value(res, dev)
    ("4K randread QD32 IOPS", "", True,
     lambda res, dev: metric(res, dev, "randread_qd32", "iops")),
    ("4K randwrite QD32 IOPS", "", True,
     lambda res, dev: metric(res, dev, "randwrite_qd32", "iops")),
    ("swap workload wall time", "s", False,
     lambda res, dev: metric(res, dev, "swap", "wall_s")),
    ("Redis at 50% fit, requests/s", "", True,
     lambda res, dev: app_val(res, dev, "redis", "50", "rps")),
    ("Redis at 50% fit, GET p99", "us", False,
     lambda res, dev: app_val(res, dev, "redis", "50", "p99_us")),
]


def resilience_lines(res):
    """memx as shipped (2 replicas) / NVMe-oF/RDMA (one copy) next to memx / md RAID1 over two
    NVMe-oF/RDMA targets (two copies, like memx): the table under "Same resilience"."""
    L = ["## memx as shipped against the same resilience: md RAID1 over two NVMe-oF/RDMA "
         "targets", "",
         "memx as shipped keeps 2 replicas on 2 donors; NVMe-oF/RDMA keeps one copy, md RAID1 "
         "over two NVMe-oF/RDMA targets (two RDMA connections, to memx's two donors' "
         "addresses) keeps two and writes both. memx / peer: above 1 is better for IOPS and "
         "requests/s, below 1 for time and latency. \"-\": not measured in this run.", "",
         "| metric | memx | NVMe-oF | NVMe-oF RAID1 | memx / NVMe-oF | memx / NVMe-oF RAID1 |",
         "| --- | --- | --- | --- | --- | --- |"]
    for label, unit, _hib, val in RESILIENCE_ROWS:
        mx, one, two = (val(res, d) for d in ("memx", "nvmeof", "nvmeof_raid1"))
        L.append("| %s | %s | %s | %s | %s | %s |" % (
            label, fmt(mx, unit), fmt(one, unit), fmt(two, unit),
            *("-" if r is None else "%.2f" % r for r in (ratio(mx, one), ratio(mx, two)))))
    L.append("")
    return L


FITS = ["100", "75", "50"]
APP_MEMX = ["memx", "memx_r1"]


def app_run(res, dev, app, fit):
    """One application run that counts: it succeeded and (Redis) the data verified after."""
    a = res["apps"].get(dev)
    if not a:
        return None
    r = a[app].get(fit)
    if not r or not r.get("ok"):
        return None
    if app == "redis" and not (a.get("verify") or {}).get("ok"):
        return None
    return r


def app_val(res, dev, app, fit, field):
    r = app_run(res, dev, app, fit)
    v = r.get(field) if r else None
    return float(v) if isinstance(v, (int, float)) else None


def rounds_lines(res):
    """Each round of a Redis fit where MEMX_BENCH_REDIS_ROUNDS ran more than one: the spread
    that the tables' medians hide."""
    rows = []
    for dev, label in APP_DEVICES:
        for fit in FITS:
            runs = res["apps"].get(dev, {}).get("rounds", {}).get("redis", {}).get(fit, [])
            if len(runs) < 2:
                continue
            rows.append("| %s | %s%% | %s |" % (label, fit, ", ".join(
                "%.0f" % r["rps"] if r.get("ok") else "failed" for r in runs)))
    if not rows:
        return []
    return ["### Redis: every round (the tables above give the median)", "",
            "| device | fit | requests/s, round by round |", "| --- | --- | --- |"] + rows + [""]


def device_lines(res):
    """The swap device's own counters over each Redis run: what a fault waited for."""
    L = []
    L.append("### Redis: the swap device's requests")
    L.append("")
    L.append("From the device's own counters (/sys/block/*/stat) over each run: reads "
             "(page-ins, with their readahead) and writes (page-outs), each with the mean "
             "time a request spent in the block layer, queue and device: what a fault waited "
             "for.")
    L.append("")
    paging = [f for f in FITS if f != "100"]
    L.append("| device | " + " | ".join("%s%% fit: reads, writes" % f for f in paging) + " |")
    L.append("| --- |" + " --- |" * len(paging))
    for dev, label in APP_DEVICES:
        a = res["apps"].get(dev)
        if not a or dev == "noswap":
            continue
        cells = []
        for fit in paging:
            r = a["redis"].get(fit)
            if not r or "dev_reads" not in r:
                cells.append("-")
                continue
            cells.append("%d of %.0f us (%.0f KiB), %d of %.0f us" % (
                r["dev_reads"], r["dev_read_us"], r["dev_read_kib"] / max(r["dev_reads"], 1),
                r["dev_writes"], r["dev_write_us"]))
        L.append("| %s | %s |" % (label, " | ".join(cells)))
    L.append("")
    return L


def ceiling_lines(res):
    """brd against NVMe-oF at 50%: the most any device could show over NVMe-oF in this run."""
    ceil = ratio(app_val(res, "brd", "redis", "50", "rps"),
                 app_val(res, "nvmeof", "redis", "50", "rps"))
    if ceil is None:
        return []
    return ["The ceiling in this run: brd (local RAM, no wire) did %.2fx NVMe-oF/RDMA's Redis "
            "throughput at 50%% fit: the most a swap device could show over NVMe-oF here." % ceil, ""]


def apps_report(d, res, L):
    m = res["meta"]
    L.append("## Applications at partial memory fit")
    L.append("")
    L.append("Redis (%s): %s keys of %s incompressible bytes (`ci/bench-redis.py`) in a memory "
             "cgroup whose memory.max is 100%% (no limit), 75%% and 50%% of the footprint "
             "measured after the boot's first load (the same for every device); at each fit %s "
             "GETs over the whole key space (redis-benchmark, 4 connections) with a SET client "
             "alongside (1 connection, a ninth as many). Throughput: all requests over the "
             "wall time; latency: the GETs'. After the last fit every key is counted and 4000 "
             "are read back against their values: a "
             "device that failed that has no figures. Batch job: swap_pattern over %s MiB "
             "(every page written, then every page checked) in a cgroup of 100%% (no limit), "
             "75%% and 50%% of it. Swap on the device alone; vm.page-cluster %s."
             % (m.get("redis", "?"), m.get("redis_keys", "?"), m.get("redis_size", "?"),
                m.get("redis_gets", "?"), m.get("batch_mib", "?"), m.get("page_cluster", "?")))
    L.append("")
    ref_rps = app_val(res, "noswap", "redis", "100", "rps")
    ref_wall = app_val(res, "noswap", "batch", "100", "wall_s")
    L.append("### Performance relative to no swap at 100% fit (higher is better)")
    L.append("")
    L.append("Redis: throughput / no swap's; batch job: no swap's wall time / the run's. "
             "As in Infiniswap's table, each cell is one fit of one device.")
    L.append("")
    L.append("| application | device | 100% | 75% | 50% |")
    L.append("| --- | --- | --- | --- | --- |")
    for app, ref, field, inv in (("redis", ref_rps, "rps", False),
                                 ("batch", ref_wall, "wall_s", True)):
        for dev, label in APP_DEVICES:
            if dev not in res["apps"]:
                continue
            cells = []
            for fit in FITS:
                v = app_val(res, dev, app, fit, field)
                r = ratio(ref, v) if inv else ratio(v, ref)
                cells.append("-" if r is None else "%.2f" % r)
            L.append("| %s | %s | %s |" % ("Redis" if app == "redis" else "batch job", label,
                                           " | ".join(cells)))
    L.append("")
    L.append("### Redis: requests/s, GET p50 / p99 latency")
    L.append("")
    L.append("| device | footprint | " + " | ".join("%s%% fit" % f for f in FITS) +
             " | data verified |")
    L.append("| --- | --- |" + " --- |" * len(FITS) + " --- |")
    for dev, label in APP_DEVICES:
        a = res["apps"].get(dev)
        if not a:
            continue
        setup = a.get("redis_setup") or {}
        cells = []
        for fit in FITS:
            r = a["redis"].get(fit)
            if not r:
                cells.append("-")
            elif not r.get("ok"):
                cells.append("failed: %s" % r.get("error", "?"))
            else:
                cells.append("%.0f (%s / %s)" % (r["rps"], fmt(r["p50_us"], "us"),
                                                 fmt(r["p99_us"], "us")))
        v = a.get("verify")
        L.append("| %s | %s | %s | %s |" % (
            label, "%.0f MiB" % (setup["footprint"] / 1048576) if setup.get("footprint")
            else setup.get("why", "-"), " | ".join(cells),
            "-" if not v else ("yes" if v.get("ok") else "**NO**: %s" % v.get("text", "?"))))
    L.append("")
    L.extend(rounds_lines(res))
    L.append("### Batch job: wall time")
    L.append("")
    L.append("| device | " + " | ".join("%s%% fit" % f for f in FITS) + " |")
    L.append("| --- |" + " --- |" * len(FITS))
    for dev, label in APP_DEVICES:
        a = res["apps"].get(dev)
        if not a or not a["batch"]:
            continue
        cells = []
        for fit in FITS:
            r = a["batch"].get(fit)
            cells.append("-" if not r else ("%.1f s" % r["wall_s"] if r.get("ok") else
                                            "**failed**: %s" % r.get("output", "?")))
        L.append("| %s | %s |" % (label, " | ".join(cells)))
    L.append("")
    L.extend(device_lines(res))
    L.append("### memx's engine CPU during the application runs")
    L.append("")
    L.append("The engine's user + system seconds over each run, the share of the guest's "
             "two vCPUs that was busy, and the engine's CPU per 4 KiB page swapped in or out "
             "(pswpin + pswpout). At 100% fit nothing pages: what the engine spends there is "
             "its background (the scrub reads replicas back through Soft-RoCE; it yields to "
             "load), and on a 2-vCPU guest it is taken from the application. The records' "
             "`engine_threads` split it by thread (`memxd`: the control thread, the scrub's).")
    L.append("")
    L.append("| device | application | " + " | ".join("%s%% fit" % f for f in FITS) + " |")
    L.append("| --- | --- |" + " --- |" * len(FITS))
    for dev in MEMX:
        for app in ("redis", "batch"):
            runs = [res["apps"].get(dev, {}).get(app, {}).get(f) for f in FITS]
            if not any(r and "engine_cpu_s" in r for r in runs):
                continue
            L.append("| %s | %s | %s |" % (SHORT[dev], app, " | ".join(
                "%.1f s of %.1f s (guest busy %.0f%%)%s" % (
                    r["engine_cpu_s"], r["wall_s"], 100 * r.get("cpu_busy", 0),
                    ", %.0f us a page" % (1e6 * r["engine_cpu_s"] / pages(r)) if pages(r) else "")
                if r and "engine_cpu_s" in r else "-" for r in runs)))
    L.append("")
    L.append("### Goal at 50% fit (Redis)")
    L.append("")
    L.append("| goal | target | " + " | ".join(
        res["devices"].get(mx, {}).get("label", mx) for mx in APP_MEMX) + " |")
    L.append("| --- | --- |" + " --- |" * len(APP_MEMX))
    for p in ("nvmeof", "nbd"):
        L.append(goal_line("throughput / %s" % SHORT[p],
                           [ratio(app_val(res, mx, "redis", "50", "rps"),
                                  app_val(res, p, "redis", "50", "rps")) for mx in APP_MEMX],
                           1.5, True))
        L.append(goal_line("GET p99 / %s" % SHORT[p],
                           [ratio(app_val(res, mx, "redis", "50", "p99_us"),
                                  app_val(res, p, "redis", "50", "p99_us")) for mx in APP_MEMX],
                           1.0, False, strict=True))
    L.append(goal_line("throughput / zram (within 1.3x: at least 1/1.3)",
                       [ratio(app_val(res, mx, "redis", "50", "rps"),
                              app_val(res, "zram", "redis", "50", "rps")) for mx in APP_MEMX],
                       1 / 1.3, True))
    L.append("")
    L.extend(ceiling_lines(res))
    sf = [(dev, app, r) for dev, _ in APP_DEVICES for app, r in
          sorted(res["apps"].get(dev, {}).get("samefill", {}).items())]
    if sf:
        L.append("### Same-filled pages (memx, `memxctl status` over each application)")
        L.append("")
        L.append("| device | application | blocks written | recorded same-filled, not sent | "
                 "reads answered locally | not moved, every replica | written by RDMA |")
        L.append("| --- | --- | --- | --- | --- | --- | --- |")
        for dev, app, r in sf:
            sent = r["rdma_write_bytes"]
            saved = r["bytes_saved"]
            L.append("| %s | %s | %d requests | %d (%.1f%% of the bytes) | %d | %.1f MiB | "
                     "%.1f MiB |" % (SHORT[dev], app, r["write_requests"], r["same_filled_writes"],
                                     100.0 * saved / (saved + sent) if saved + sent else 0,
                                     r["same_filled_reads"], saved / 1048576, sent / 1048576))
        z = res["apps"].get("zram", {}).get("zram_mm_stat")
        if z:
            f = z.split()
            if len(f) >= 6:
                L.append("")
                L.append("zram after Redis's runs (mm_stat): %.1f MiB stored, %.1f MiB "
                         "compressed, %s same-filled pages." % (int(f[0]) / 1048576,
                                                                int(f[1]) / 1048576, f[5]))
        L.append("")
    pcr = res["apps"].get("memx", {}).get("pc_redis", {})
    pcb = res["apps"].get("memx", {}).get("pc_batch", {})
    if pcr or pcb:
        L.append("### vm.page-cluster (swap readahead, 2^N pages) on memx as shipped, 50% fit")
        L.append("")
        L.append("| page-cluster | Redis req/s | GET p50 / p99 | pswpin | batch job wall time "
                 "| pswpin |")
        L.append("| --- | --- | --- | --- | --- | --- |")
        for pc in sorted(set(pcr) | set(pcb), key=int):
            r, b = pcr.get(pc), pcb.get(pc)
            L.append("| %s | %s | %s | %s | %s | %s |" % (
                pc, "%.0f" % r["rps"] if r and r.get("ok") else "-",
                "%s / %s" % (fmt(r["p50_us"], "us"), fmt(r["p99_us"], "us"))
                if r and r.get("ok") else "-", r.get("pswpin", "-") if r else "-",
                "%.1f s" % b["wall_s"] if b and b.get("ok") else "-",
                b.get("pswpin", "-") if b else "-"))
        L.append("")
    apps_chart(d, res, L)


def apps_chart(d, res, L):
    """Three panels: Redis req/s, Redis GET p99, batch wall time; one cluster per fit."""
    devs = [x for x, _ in APP_DEVICES]
    for name, app, field in (("redis-rps", "redis", "rps"), ("redis-p99", "redis", "p99_us"),
                             ("batch", "batch", "wall_s")):
        with open(os.path.join(d, "chart-apps-%s.dat" % name), "w") as f:
            f.write("# fit " + " ".join(devs) + "\n")
            for fit in FITS:
                vals = [app_val(res, x, app, fit, field) for x in devs]
                f.write('"%s%% fit" %s\n' % (fit, " ".join("0" if v is None else "%.3f" % v
                                                           for v in vals)))
    gp = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bench-apps-plot.gp")
    try:
        p = subprocess.run(["gnuplot", "-e", "dir='%s'" % d, gp], capture_output=True,
                           text=True, timeout=60)
        if p.returncode == 0 and os.path.exists(os.path.join(d, "chart-apps.png")):
            L.append("Application chart: chart-apps.png")
        else:
            L.append("Application chart: gnuplot failed: %s" %
                     (p.stderr.strip().splitlines() or ["?"])[-1])
    except Exception as e:
        L.append("Application chart: gnuplot failed: %s" % e)
    L.append("")


def chart(d, res, L):
    """Four panels: 4K IOPS, QD1 latency, 128K MB/s, swap wall time; one bar per device."""
    panels = {
        "iops": [("randread_qd1", "iops", "read QD1"), ("randread_qd32", "iops", "read QD32"),
                 ("randwrite_qd1", "iops", "write QD1"),
                 ("randwrite_qd32", "iops", "write QD32")],
        # Short labels: four under one panel overlapped (the title says QD1).
        "lat": [("randread_qd1", "mean_us", "read"),
                ("randwrite_qd1", "mean_us", "write"),
                ("randread-polled_qd1", "mean_us", "read polled"),
                ("randwrite-polled_qd1", "mean_us", "write polled")],
        "mbps": [("read_qd8", "mbps", "seq read"), ("write_qd8", "mbps", "seq write")],
        "swap": [("swap", "wall_s", "swap workload")],
    }
    for name, rows in panels.items():
        with open(os.path.join(d, "chart-%s.dat" % name), "w") as f:
            # 0 stands for "not measured": gnuplot refuses a histogram column of NaNs.
            f.write("# group " + " ".join(x for x, _ in DEVICES) + "\n")
            for key, field, label in rows:
                vals = [metric(res, x, key, field) for x, _ in DEVICES]
                f.write('"%s" %s\n' % (label, " ".join("0" if v is None else "%.3f" % v
                                                      for v in vals)))
    pt = res["perftest"]

    def ref(t, field):
        r = pt.get(t) or {}
        return r.get(field) if not r.get("error") and r.get(field) else "NaN"
    gp = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bench-plot.gp")
    args = ["gnuplot", "-e", "dir='%s'; wbw=%s; rbw=%s; wlat=%s; rlat=%s" % (
        d, ref("ib_write_bw", "iops"), ref("ib_read_bw", "iops"), ref("ib_write_lat", "mean_us"),
        ref("ib_read_lat", "mean_us")), gp]
    try:
        p = subprocess.run(args, capture_output=True, text=True, timeout=60)
        if p.returncode == 0 and os.path.exists(os.path.join(d, "chart.png")):
            L.append("Chart: chart.png")
        else:
            L.append("Chart: gnuplot failed: %s" % (p.stderr.strip().splitlines() or ["?"])[-1])
    except Exception as e:
        L.append("Chart: gnuplot failed: %s" % e)


def pages(r):
    """Pages swapped in and out over an application run."""
    return int(r.get("pswpin") or 0) + int(r.get("pswpout") or 0)


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    cmd, rest = argv[1], argv[2:]
    if cmd == "rec":
        cmd_rec(*rest)
    elif cmd == "fio":
        cmd_fio(*rest)
    elif cmd == "perftest":
        cmd_perftest(*rest)
    elif cmd == "redis":
        cmd_redis(*rest)
    elif cmd == "redis-csv":
        print(json.dumps(parse_redis_csv(open(rest[0], errors="replace").read()),
                         sort_keys=True))
    elif cmd == "report":
        report(rest[0])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
