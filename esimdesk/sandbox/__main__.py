"""``python -m esimdesk.sandbox``: serve the simulators and print where they are and how to log in."""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from esimdesk.sandbox.base import SandboxConfig
from esimdesk.sandbox.server import SandboxServer
from esimdesk.sandbox.state import StateFileError


def _milliseconds(text: str) -> float:
    value = float(text)
    if not value >= 0:  # also refuses nan
        raise argparse.ArgumentTypeError(f"{text} is not a number of milliseconds >= 0")
    return value


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m esimdesk.sandbox", description=__doc__)
    p.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (default: any free port)")
    p.add_argument("--plans", type=int, help="catalog size per vendor (up to 50000)")
    p.add_argument("--esims", type=int, help="fleet size per vendor (up to 100000)")
    p.add_argument("--seed", type=int, help="seed for catalogs and fault injection")
    p.add_argument("--allocation-delay", type=float, help="seconds until ordered profiles are ready")
    p.add_argument("--latency-ms", type=_milliseconds, metavar="MS",
                   help="median time each vendor takes to answer, log-normal (p99 about 4x); default 0 = at once; "
                        "also POST /_sandbox/config {\"latency_ms\": MS} at run time")
    p.add_argument("--roamify-older-api", action="store_true",
                   help="Roamify without referenceId (roamify.md); also POST /_sandbox/config at run time")
    p.add_argument("--state", metavar="FILE",
                   help="keep the vendor world (orders, eSIMs, balances, clocks) in FILE across restarts; "
                        "made (and seeded once) when missing")
    args = p.parse_args(argv)
    overrides = {k: v for k, v in {"plans": args.plans, "esims": args.esims, "seed": args.seed,
                                   "allocation_delay": args.allocation_delay,
                                   "latency_ms": args.latency_ms}.items() if v is not None}
    if args.roamify_older_api:
        overrides["roamify_reference_ids"] = False
    try:
        server = SandboxServer(SandboxConfig.from_env(**overrides), port=args.port, state_file=args.state).start()
    except StateFileError as exc:
        print(f"python -m esimdesk.sandbox: {exc}", file=sys.stderr)
        return 1
    print(f"esimdesk sandbox on {server.root} (control API: {server.root}/_sandbox/state)")
    if server.config.latency_ms > 0:
        print(f"vendors answer in about {server.config.latency_ms:g} ms (median)")
    if args.state:
        print(f"world kept in {args.state}")
    for key, value in server.env().items():
        print(f"export {key}={value}")
    print("Ctrl+C to stop.", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *a: stop.set())
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    stop.wait()
    server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
