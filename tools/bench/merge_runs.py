#!/usr/bin/env python3
"""Merge the JSON reports of the mlload processes of one tools/bench/sfu run.

    merge_runs.py OUT.json SERVER_TICKS RSS0_KB RSS1_KB MLLOAD_RC DURATION PART.json...

Counters are summed, loss is recomputed from the summed expected/lost
packets, the one-way delay quantiles from the summed histograms
(delay_ms.hist_us and arrival_delay_ms.hist_us), "ok" holds when every part is ok, the load side is
saturated when any process says so or when together they used 90 % of
the CPUs they share (load.why lists them). The server's
CPU time (utime + stime ticks from /proc/PID/stat over the run) and RSS
are added as "server". A part that wrote nothing (crashed, killed) makes
the run not ok and is named in error_messages.

Steady state: with CPU_SAMPLES=FILE in the environment ("unix_time ticks"
lines, the server's utime + stime sampled during the run) and each part's
"timeline" ([unix_time, packets received so far, peers connected], once a
second), "server.steady" is the server's CPU per packet received between
2 s after every part had all its peers connected and the first part's
last sample: forwarding only, without the connection set-up of the ramp.
"server.limit_cores" (the larger of the steady and whole-run cores) is
what the "server under one core" rule reads.
"""
import json
import os
import sys


def interp(points, t):
    """Linear interpolation in [(t, v), ...] sorted by t; None outside."""
    for (t0, v0), (t1, v1) in zip(points, points[1:]):
        if t0 <= t <= t1:
            return v0 if t1 == t0 else v0 + (v1 - v0) * (t - t0) / (t1 - t0)
    return None


def steady_state(reps, samples_path):
    try:
        cpu = [tuple(float(x) for x in line.split()) for line in open(samples_path)
               if len(line.split()) == 2]
    except (OSError, ValueError):
        return None
    lines = [q.get("timeline") or [] for q in reps]
    if len(cpu) < 4 or not all(len(tl) >= 4 for tl in lines):
        return None
    start, end = 0.0, float("inf")
    for tl in lines:
        # the most peers it ever had connected at once (one that dropped
        # later would keep the final count from being reached)
        want = max(c for _, _, c in tl)
        ready = next((t for t, _, c in tl if c >= want), None)
        if ready is None or want == 0:
            return None
        start = max(start, ready + 2.0)
        end = min(end, tl[-1][0])
    if end - start < 3.0:
        return None
    pkts = 0.0
    for tl in lines:
        pts = [(t, rx) for t, rx, _ in tl]
        a, b = interp(pts, start), interp(pts, end)
        if a is None or b is None:
            return None
        pkts += b - a
    a, b = interp(cpu, start), interp(cpu, end)
    if a is None or b is None or pkts <= 0:
        return None
    cpu_s = (b - a) / 100.0
    return {"window_s": round(end - start, 2), "cpu_s": round(cpu_s, 3), "packets": int(pkts),
            "us_per_packet": cpu_s * 1e6 / pkts, "cpu_cores": cpu_s / (end - start)}


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
        if isinstance(v, bool) or k in ("percent", "p50", "p99", "max", "max_us", "hist_us", "mbps",
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
        # delay_ms: to when mlload read a packet; arrival_delay_ms: to when
        # it reached the socket (kernel stamp), without the load side's queueing
        for key in ("delay_ms", "arrival_delay_ms"):
            if key not in r:
                continue
            hist = {}
            for q in reps:
                for v, c in q.get(key, {}).get("hist_us", []):
                    hist[v] = hist.get(v, 0) + c
            h = sorted(hist.items())
            n = sum(c for _, c in h)
            d = r[key]
            d["hist_us"] = [[v, c] for v, c in h]
            d["samples"] = n
            d["max"] = max(q.get(key, {}).get("max", 0) for q in reps)
            d["max_us"] = max(q.get(key, {}).get("max_us", 0) for q in reps)
            # a bucket's value can lie above the largest sample in it
            d["p50"], d["p99"] = (min(quantile(h, n, x), d["max"]) if d["max"] else quantile(h, n, x)
                                  for x in (0.5, 0.99))
        # jitter: the processes' means weighted by the packets each received
        w = [(q.get("loss", {}).get("jitter_ms"), q.get("received", {}).get("packets", 0))
             for q in reps]
        w = [(j, c) for j, c in w if isinstance(j, (int, float)) and c]
        if w:
            r["loss"]["jitter_ms"] = sum(j * c for j, c in w) / sum(c for _, c in w)
        loads = [q.get("load", {}) for q in reps]
        together = sum(l.get("cpu_cores", 0) for l in loads)
        cpus = max(l.get("cpus", 1) for l in loads)
        why = "; ".join(f"process {i}: {l.get('why', '?')}" for i, l in enumerate(loads))
        # The processes share one CPU set (tools/bench/sfu starts them all
        # with the same taskset): each alone can be under its limit while
        # together they fill it.
        shared_full = len(loads) > 1 and together >= 0.9 * cpus
        if shared_full:
            why = (f"mlload processes together used {together:.2f} of the {cpus} CPU(s) "
                   f"they share; " + why)
        r["load"] = {
            "processes": len(reps),
            "saturated": shared_full or any(l.get("saturated") for l in loads),
            "why": why,
            "cpu_cores": together,
            "cpus": cpus,
            "tick_late_ms_p99": max(l.get("tick_late_ms_p99", 0) for l in loads),
        }
    # the longest process's run is the server's busy time
    dur = max(dur, r.get("duration_s", 0) or 0)
    r["server"] = {"cpu_s": ticks / 100.0, "rss_idle_kb": rss0, "rss_kb": rss1, "mlload_exit": rc,
                   "cpu_cores": ticks / 100.0 / dur}
    # only with every part's report: the server served them all
    if reps and not missing and os.environ.get("CPU_SAMPLES"):
        r["server"]["steady"] = steady_state(reps, os.environ["CPU_SAMPLES"])
    # "server under one core" is judged in steady state when there is one:
    # the whole-run average includes the set-up and, in a fan-out over
    # several processes, the seconds before and after the others ran
    st = r["server"].get("steady") or {}
    r["server"]["limit_cores"] = max(st.get("cpu_cores") or 0.0, r["server"]["cpu_cores"])
    r.pop("timeline", None)  # per process, in the parts
    json.dump(r, open(out, "w"), indent=2)


if __name__ == "__main__":
    main()
