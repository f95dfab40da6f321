"""Soak: runs wavecastd on a dummy jackd for a given time while a client changes styles and
parameters every few seconds, then reports underruns, xruns, resident-memory growth, the longest
gap of silence the callback played and the longest wait for a telemetry status. Exits non-zero
when the run was not clean (underruns; xruns, save those jackd's log shows were a realtime thread the
machine did not run; the daemon died; memory grew past the limit).

Run it through scripts/soak.sh, which finds a Python that has Debian's python3-zmq."""

import argparse
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time

import zmq


def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return -1


def wait_for_jack(server, env, timeout=10):
    end = time.time() + timeout
    while time.time() < end:
        if subprocess.run(["jack_lsp", "-s", server], env=env, capture_output=True).returncode == 0:
            return True
        time.sleep(0.1)
    return False


def request(ctx, endpoint, req, timeout_ms=3000):
    s = ctx.socket(zmq.REQ)
    s.setsockopt(zmq.LINGER, 0)
    s.connect(endpoint)
    s.send_string(json.dumps(req))
    reply = json.loads(s.recv_string()) if s.poll(timeout_ms) else None
    s.close()
    return reply


def machine_xruns(jackd_log, client):
    """The xruns jackd's log shows a realtime thread did not get the CPU for, which no client
    can cause while jackd and the daemon's process thread run realtime: the dummy driver's own
    thread woke a period late ("JackTimedDriver::Process XRun", the cycle's own work short), or
    the client's thread, signalled, had not yet begun by the next cycle ("not finished, state =
    Triggered"). What can delay a realtime thread is the machine itself: a virtual machine whose
    host does not run it for tens of milliseconds, which a realtime probe here saw every few
    minutes under load. A callback still running a period on ("state = Running") is ours."""
    with open(jackd_log, errors="replace") as f:
        text = f.read()
    late = len(re.findall(r"JackTimedDriver::Process XRun = \d+ usec", text))
    unstarted = len(re.findall(rf"client = {re.escape(client)} was not finished, state = Triggered", text))
    return late + unstarted


def live_params(build):
    """The live parameters' table, from the client (params.h's table: none is named here)."""
    out = subprocess.run([f"{build}/client/wavecast", "--json", "params"], check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def steer(rng, styles, table):
    """One change a performer might make: a style, or one to three parameters anywhere in range."""
    kind = rng.choice(["style", "style", "set", "set", "set"])
    if kind == "style":
        req = {"cmd": "style", "name": rng.choice(styles)}
        r = rng.random()
        if r < 0.25:
            req["crossfade"] = round(rng.uniform(1, 8), 1)
        elif r < 0.4:
            other = rng.choice(styles)
            w = round(rng.uniform(0.2, 0.8), 2)
            req["blend"] = {req["name"]: w, other: round(1 - w, 2)} if other != req["name"] else {req["name"]: 1.0}
        elif r < 0.55:
            req["now"] = True
        return req
    params = {}
    for _ in range(rng.randint(1, 3)):
        p = rng.choice(table)
        lo, hi = p["min"], min(p["max"], 1e6)  # a seed anywhere in a million is as good as any
        params[p["name"]] = rng.randint(int(lo), int(hi)) if p["integer"] else round(rng.uniform(lo, hi), 3)
    return {"cmd": "set", "params": params}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=120)
    ap.add_argument("--every", type=float, default=3, help="seconds between changes")
    ap.add_argument("--build", default=os.path.join(os.path.dirname(__file__), "..", "build"))
    ap.add_argument("--shape", default="small", help="random-weight model shape (tiny, small, medium)")
    ap.add_argument("--lookahead-ms", type=float, default=400, help="the stream's look-ahead (the shipped default)")
    ap.add_argument("--max-rss-growth-mib", type=float, default=16)
    ap.add_argument("--seed", type=int, default=1, help="seed of the sequence of changes")
    ap.add_argument("--report", help="also write the report (JSON) here")
    args = ap.parse_args()

    root = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
    build = os.path.abspath(args.build)
    tmp = tempfile.mkdtemp(prefix="wavecast-soak-")
    server = "wavecast-soak"
    env = dict(os.environ, JACK_DEFAULT_SERVER=server, JACK_NO_AUDIO_RESERVATION="1")
    model = os.path.join(tmp, "model.safetensors")
    subprocess.run([f"{build}/tools/wavecast-model", "random", "--shape", args.shape, "--seed", "1", "--out", model],
                   check=True, capture_output=True)
    control, telemetry = f"ipc://{tmp}/control", f"ipc://{tmp}/telemetry"
    config = os.path.join(tmp, "wavecastd.toml")
    with open(config, "w") as f:
        f.write(f'[daemon]\nbackend = "cpu"\ncontrol = "{control}"\ntelemetry = "{telemetry}"\nmodel = "{model}"\n'
                f'styles = "{root}/config/styles"\n[jack]\nclient_name = "wavecast-soak"\nserver = "{server}"\n'
                f'[[stream]]\nname = "main"\nstyle = "ambient"\nlookahead_ms = {args.lookahead_ms}\n')

    # Realtime, jackd's default and how it runs in production (where it is not allowed jackd
    # says so and runs without): otherwise the daemon's generator, which keeps every core of a
    # small machine busy in bursts, can delay a cycle into an xrun.
    jackd = subprocess.Popen(["jackd", "-n", server, "-d", "dummy", "-r", "48000", "-p", "1024"], env=env,
                             stdout=open(os.path.join(tmp, "jackd.log"), "w"), stderr=subprocess.STDOUT)
    daemon = None
    try:
        if not wait_for_jack(server, env):
            sys.exit(f"soak: jackd -n {server} did not come up (see {tmp}/jackd.log)")
        daemon_log = os.path.join(tmp, "wavecastd.log")
        daemon = subprocess.Popen([f"{build}/daemon/wavecastd", "--config", config], env=env,
                                  stdout=open(daemon_log, "w"), stderr=subprocess.STDOUT)
        ctx = zmq.Context()
        styles = None
        for _ in range(60):
            r = request(ctx, control, {"cmd": "styles"}, 500)
            if r and r.get("ok"):
                styles = [s["name"] for s in r["styles"]]
                break
            if daemon.poll() is not None:
                break
        if not styles:
            sys.exit(f"soak: wavecastd did not come up:\n{open(daemon_log).read()}")

        sub = ctx.socket(zmq.SUB)
        sub.setsockopt(zmq.LINGER, 0)
        sub.setsockopt_string(zmq.SUBSCRIBE, "status")
        sub.connect(telemetry)
        table = live_params(build)
        rng = random.Random(args.seed)
        start = time.time()
        next_change = start + args.every
        rss_base = None
        rss_max = 0
        last_status = None
        longest_status_wait = 0.0
        changes = refused = 0
        print(f"soak: {args.seconds:.0f} s, a change every {args.every:.0f} s, model {args.shape}, "
              f"look-ahead {args.lookahead_ms:.0f} ms; files in {tmp}", flush=True)
        while time.time() - start < args.seconds:
            if daemon.poll() is not None:
                break
            if sub.poll(100):
                sub.recv_multipart()
                now = time.time()
                if last_status is not None:
                    longest_status_wait = max(longest_status_wait, now - last_status)
                last_status = now
            now = time.time()
            if now >= next_change:
                req = steer(rng, styles, table)
                r = request(ctx, control, req)
                changes += 1
                if not r or not r.get("ok"):
                    refused += 1
                    print(f"soak: {json.dumps(req)} -> {json.dumps(r)}", flush=True)
                next_change = now + args.every
            # Memory is measured from once the stream has settled (rings, caches, allocator pools).
            rss = rss_kib(daemon.pid)
            if rss_base is None and now - start >= min(10.0, args.seconds / 4):
                rss_base = rss
            rss_max = max(rss_max, rss)
        alive = daemon.poll() is None
        status = request(ctx, control, {"cmd": "status"}) if alive else None
        rss_end = rss_kib(daemon.pid) if alive else -1
        st = status["streams"][0] if status else {}
        xruns = status["jack"]["xruns"] if status else None
        jack_log = os.path.join(tmp, "jackd.log")
        with open(jack_log, errors="replace") as f:
            jack_text = f.read()
        jackd_realtime = "starting in realtime mode" in jack_text and "Cannot use real-time scheduling" not in jack_text
        # Only where every thread of the cycle ran realtime is a thread that did not run the machine's doing.
        realtime = jackd_realtime and bool(status and status["jack"].get("realtime"))
        machine = min(machine_xruns(jack_log, "wavecast-soak"), xruns or 0) if realtime else 0
        report = {
            "seconds": round(time.time() - start, 1),
            "changes": changes,
            "changes_refused": refused,
            "daemon_alive": alive,
            "underruns": st.get("underruns"),
            "underrun_frames": st.get("underrun_frames"),
            "longest_gap_ms": st.get("longest_gap_ms"),
            "xruns": xruns,
            "xruns_machine": machine,
            "jack_realtime": realtime,
            "rtf": st.get("rtf"),
            "rss_start_kib": rss_base,
            "rss_end_kib": rss_end,
            "rss_growth_kib": (rss_end - rss_base) if alive and rss_base else None,
            "rss_max_kib": rss_max,
            "longest_status_wait_s": round(longest_status_wait, 3),
            "model": args.shape,
            "lookahead_ms": args.lookahead_ms,
        }
        print(json.dumps(report), flush=True)
        if args.report:
            with open(args.report, "w") as f:
                json.dump(report, f, indent=2)
        problems = []
        if not alive:
            problems.append(f"the daemon died:\n{open(daemon_log).read()[-4000:]}")
        else:
            if report["underruns"]:
                problems.append(f"{report['underruns']} underruns")
            if xruns and xruns > machine:
                problems.append(f"{xruns} xruns ({machine} of them a realtime thread the machine did not run; see {jack_log})")
            elif xruns:
                print(f"soak: {xruns} xruns, each a realtime thread that did not get the CPU (jackd's log): the machine's, "
                      f"reported, not failed", flush=True)
            if refused:
                problems.append(f"{refused} changes refused")
            if report["rss_growth_kib"] is not None and report["rss_growth_kib"] > args.max_rss_growth_mib * 1024:
                problems.append(f"resident memory grew {report['rss_growth_kib']} KiB")
            if longest_status_wait > 3.0:
                problems.append(f"telemetry went quiet for {longest_status_wait:.1f} s")
        if problems:
            print("soak: NOT CLEAN: " + "; ".join(problems), file=sys.stderr)
            sys.exit(1)
        print("soak: clean")
    finally:
        if daemon and daemon.poll() is None:
            daemon.send_signal(signal.SIGTERM)
            daemon.wait(10)
        jackd.send_signal(signal.SIGTERM)
        try:
            jackd.wait(10)
        except subprocess.TimeoutExpired:
            jackd.kill()


if __name__ == "__main__":
    main()
