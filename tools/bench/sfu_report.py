#!/usr/bin/env python3
"""Side-by-side report of one tools/bench/sfu run.

Reads the per-run JSON files (<server>-<scenario>-<n>.json), floor.json,
the *-best files and callgrind.txt from the results folder, prints one
table per scenario with MentorLink and Janus next to each other at each
peer count, and writes everything to summary.json in the same folder.

    python3 tools/bench/sfu_report.py build-bench-results
"""
import json
import os
import re
import sys


def load_runs(out):
    runs = {}
    pat = re.compile(r"^(mentorlink|janus)-(echo|fanout|meeting|churn)-(\d+)\.json$")
    for name in sorted(os.listdir(out)):
        m = pat.match(name)
        if not m:
            continue
        server, sc, n = m.group(1), m.group(2), int(m.group(3))
        try:
            r = json.load(open(os.path.join(out, name)))
        except (OSError, ValueError):
            continue
        s = r.get("server", {})
        rx = r.get("received", {}).get("packets", 0)
        cpu = s.get("cpu_s", 0.0)
        row = {
            "server": server,
            "scenario": sc,
            "subscribers": n,
            "connected": r.get("peers", {}).get("connected", 0),
            "packets_forwarded": rx,
            "us_per_packet": cpu * 1e6 / rx if rx else None,
            "steady": s.get("steady"),
            "rss_kb_per_subscriber": (s.get("rss_kb", 0) - s.get("rss_idle_kb", 0)) / n if n else None,
            "loss_percent": r.get("loss", {}).get("percent", 100.0),
            "delay_p50_ms": r.get("delay_ms", {}).get("p50"),
            "delay_p99_ms": r.get("delay_ms", {}).get("p99"),
            # to the socket (kernel receive stamp): without the load side's queueing
            "arrival_p50_ms": r.get("arrival_delay_ms", {}).get("p50"),
            "arrival_p99_ms": r.get("arrival_delay_ms", {}).get("p99"),
            "freezes": r.get("video", {}).get("freezes", 0),
            "server_cores": s.get("limit_cores", s.get("cpu_cores")),
            "client_cpu_s": r.get("client_cpu_s"),
            "ok": bool(r.get("ok")),
            "load_saturated": bool(r.get("load", {}).get("saturated")),
            "load_why": r.get("load", {}).get("why"),
            "meeting": r.get("meeting"),
        }
        runs.setdefault(sc, {}).setdefault(n, {})[server] = row
    return runs


def fmt(v, f="{:.1f}"):
    return "-" if v is None else f.format(v)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "build-bench-results"
    runs = load_runs(out)
    summary = {"scenarios": {}, "largest": {}, "callgrind": [], "floor": None}
    try:
        summary["floor"] = json.load(open(os.path.join(out, "floor.json")))
    except (OSError, ValueError):
        pass
    for sc in sorted(runs):
        print(f"\n{sc}: MentorLink | Janus side by side (µs/pkt = server CPU per forwarded packet)")
        hdr = ("subs", "ML µs/pkt", "Janus µs/pkt", "ML/Janus", "ML steady", "Janus steady",
               "steady ML/Janus", "ML KB/sub", "Janus KB/sub",
               "ML loss%", "Janus loss%", "ML p50/p99 ms", "Janus p50/p99 ms", "ML cores", "Janus cores")
        print("| " + " | ".join(hdr) + " |")
        print("|" + "---|" * len(hdr))
        rows = []
        for n in sorted(runs[sc]):
            ml = runs[sc][n].get("mentorlink", {})
            ja = runs[sc][n].get("janus", {})
            a, b = ml.get("us_per_packet"), ja.get("us_per_packet")
            ratio = a / b if a and b else None
            sa = (ml.get("steady") or {}).get("us_per_packet")
            sb = (ja.get("steady") or {}).get("us_per_packet")
            sratio = sa / sb if sa and sb else None
            print("| " + " | ".join([
                str(n), fmt(a), fmt(b), fmt(ratio, "{:.2f}"), fmt(sa), fmt(sb), fmt(sratio, "{:.2f}"),
                fmt(ml.get("rss_kb_per_subscriber"), "{:.0f}"), fmt(ja.get("rss_kb_per_subscriber"), "{:.0f}"),
                fmt(ml.get("loss_percent"), "{:.3f}"), fmt(ja.get("loss_percent"), "{:.3f}"),
                fmt(ml.get("delay_p50_ms"), "{:.2f}") + "/" + fmt(ml.get("delay_p99_ms"), "{:.2f}"),
                fmt(ja.get("delay_p50_ms"), "{:.2f}") + "/" + fmt(ja.get("delay_p99_ms"), "{:.2f}"),
                fmt(ml.get("server_cores"), "{:.2f}"), fmt(ja.get("server_cores"), "{:.2f}"),
            ]) + " |")
            rows.append({"subscribers": n, "mentorlink": ml or None, "janus": ja or None,
                         "cpu_ratio": ratio, "steady_cpu_ratio": sratio})
        summary["scenarios"][sc] = rows
        for server in ("mentorlink", "janus"):
            p = os.path.join(out, f"{server}-{sc}-best")
            if os.path.exists(p):
                summary["largest"].setdefault(sc, {})[server] = int(open(p).read().strip() or 0)
            w = os.path.join(out, f"{server}-{sc}-why")
            if os.path.exists(w):
                summary.setdefault("ramp_stop", {}).setdefault(sc, {})[server] = open(w).read().strip()
    if summary["largest"]:
        print("\nlargest count held (< 1 % loss, delay p50 < 20 ms, server < 0.95 core, load side not saturated):")
        for sc, v in summary["largest"].items():
            print(f"  {sc}: " + ", ".join(f"{k} {n}" for k, n in v.items()))
            for k, why in summary.get("ramp_stop", {}).get(sc, {}).items():
                print(f"    {k}: {why}")
    at200 = runs.get("fanout", {}).get(200)
    if at200:
        print("\none-way delay at 200 mentees (fan-out): " + ", ".join(
            f"{k} p50 {fmt(v.get('delay_p50_ms'), '{:.2f}')} ms p99 {fmt(v.get('delay_p99_ms'), '{:.2f}')} ms"
            f" (at the socket p50 {fmt(v.get('arrival_p50_ms'), '{:.2f}')}"
            f" p99 {fmt(v.get('arrival_p99_ms'), '{:.2f}')})"
            + (" (load side saturated)" if v.get("load_saturated") else "")
            for k, v in at200.items()))
    cg = os.path.join(out, "callgrind.txt")
    if os.path.exists(cg):
        print("\ncallgrind instructions per forwarded packet:")
        for line in open(cg):
            m = re.match(r"^(\S+) (\S+) (\d+) instructions/packet", line)
            if m:
                summary["callgrind"].append({"server": m.group(1), "scenario": m.group(2),
                                             "instructions_per_packet": int(m.group(3))})
                print("  " + line.rstrip())
    json.dump(summary, open(os.path.join(out, "summary.json"), "w"), indent=2)
    print(f"\nsummary.json written to {out}")


if __name__ == "__main__":
    main()
