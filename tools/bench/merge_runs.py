#!/usr/bin/env python3
"""Merge the JSON reports of the mlload processes of one tools/bench/sfu run.

    merge_runs.py OUT.json SERVER_TICKS RSS0_KB RSS1_KB MLLOAD_RC DURATION PART.json...

Counters are summed, loss is recomputed from the summed expected/lost
packets, the one-way delay quantiles from the summed histograms
(delay_ms.hist_us), "ok" holds when every part is ok, the load side is
saturated when any process says so (load.why lists them). The server's
CPU time (utime + stime ticks from /proc/PID/stat over the run) and RSS
are added as "server". A part that wrote nothing (crashed, killed) makes
the run not ok and is named in error_messages.
"""
import json
import sys


def quantile(hist, n, q):
    if n == 0:
        return 0.0
    want = int(q * (n - 1)) + 1
    acc = 0
    for v, c in hist:
        acc += c
        if acc >= want:
            return v / 1000.0
    return hist[-1][0] / 1000.0 if hist else 0.0


def add(into, part, path=()):
    """Sum numeric leaves of part into into (same shape)."""
    for k, v in part.items():
        if isinstance(v, bool) or k in ("percent", "p50", "p99", "max", "hist_us", "mbps",
                                        "jitter_ms", "setup_ms_p50", "setup_ms_p99",
                                        "first_frame_ms_p50", "first_frame_ms_p99",
                                        "duration_s"):
            continue
        if isinstance(v, dict):
            add(into.setdefault(k, {}), v, path + (k,))
        elif isinstance(v, (int, float)):
            into[k] = into.get(k, 0) + v


def main():
    out, ticks, rss0, rss1, rc, dur = sys.argv[1:7]
    parts = sys.argv[7:]
    ticks, rss0, rss1, rc, dur = int(ticks), int(rss0), int(rss1), int(rc), float(dur)
    reps, missing = [], []
    for p in parts:
        try:
            reps.append(json.load(open(p)))
        except (OSError, ValueError):
            missing.append(p)
    if not reps:
        r = {"ok": False, "received": {"packets": 0}, "peers": {"connected": 0},
             "error_messages": [f"no report from {p}" for p in missing], "load": {"saturated": False}}
    else:
        r = json.loads(json.dumps(reps[0]))
        for q in reps[1:]:
            add(r, q)
            r["error_messages"] = r.get("error_messages", []) + q.get("error_messages", [])
        r["ok"] = all(q.get("ok") for q in reps) and not missing
        r["error_messages"] = r.get("error_messages", []) + [f"no report from {p}" for p in missing]
        r["duration_s"] = max(q.get("duration_s", 0) for q in reps)
        r["stop_reason"] = "; ".join(sorted({q.get("stop_reason", "?") for q in reps}))
        exp = r.get("loss", {}).get("expected", 0)
        r["loss"]["percent"] = 100.0 * r["loss"].get("lost", 0) / exp if exp else 0.0
        hist = {}
        for q in reps:
            for v, c in q.get("delay_ms", {}).get("hist_us", []):
                hist[v] = hist.get(v, 0) + c
        h = sorted(hist.items())
        n = sum(c for _, c in h)
        d = r.setdefault("delay_ms", {})
        d["hist_us"] = [[v, c] for v, c in h]
        d["samples"] = n
        d["p50"], d["p99"] = quantile(h, n, 0.5), quantile(h, n, 0.99)
        d["max"] = max(q.get("delay_ms", {}).get("max", 0) for q in reps)
        loads = [q.get("load", {}) for q in reps]
        r["load"] = {
            "processes": len(reps),
            "saturated": any(l.get("saturated") for l in loads),
            "why": "; ".join(f"process {i}: {l.get('why', '?')}" for i, l in enumerate(loads)),
            "cpu_cores": sum(l.get("cpu_cores", 0) for l in loads),
            "tick_late_ms_p99": max(l.get("tick_late_ms_p99", 0) for l in loads),
        }
    # the longest process's run is the server's busy time
    dur = max(dur, r.get("duration_s", 0) or 0)
    r["server"] = {"cpu_s": ticks / 100.0, "rss_idle_kb": rss0, "rss_kb": rss1, "mlload_exit": rc,
                   "cpu_cores": ticks / 100.0 / dur}
    json.dump(r, open(out, "w"), indent=2)


if __name__ == "__main__":
    main()
