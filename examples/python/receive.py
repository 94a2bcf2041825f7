#!/usr/bin/env python3
"""fluxstream -> Python: print what fluxstream sends over OSC (python-osc).

Run this, then ``fluxstream listen --osc 127.0.0.1:9000``. Each line is the address and the
arguments, e.g. ``/fluxstream/in/rms 0.0312``. Pitch frames arrive as Hz, confidence, MIDI
note, voiced; onsets as time [s], strength, band (address map: README, "OSC").

    python3 examples/python/receive.py --port 9000 [--max-messages N]
"""

import argparse
import sys

from pythonosc.dispatcher import Dispatcher
from pythonosc.osc_server import BlockingOSCUDPServer


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    ap.add_argument("--port", type=int, default=9000, help="UDP port (default 9000)")
    ap.add_argument("--max-messages", type=int, default=0, help="exit after this many messages (0 = never)")
    args = ap.parse_args(argv)

    count = 0

    def show(address, *values):
        nonlocal count
        count += 1
        if address.endswith("/pitch") and len(values) >= 4:
            hz, conf, midi, voiced = values[:4]
            text = f"{hz:.1f} Hz  MIDI {midi:.2f}  confidence {conf:.2f}" + ("" if voiced else "  (unvoiced)")
        elif address.endswith("/onset"):
            text = f"onset at {values[0]:.3f} s, strength {values[1]:.3g}"
        else:
            text = " ".join(f"{v:.4g}" if isinstance(v, float) else str(v) for v in values)
        print(address, text, flush=True)
        if args.max_messages and count >= args.max_messages:
            server.shutdown_requested = True

    dispatcher = Dispatcher()
    dispatcher.set_default_handler(show)
    server = BlockingOSCUDPServer((args.host, args.port), dispatcher)
    server.shutdown_requested = False
    print(f"listening on udp://{args.host}:{server.server_address[1]}", flush=True)
    try:
        while not server.shutdown_requested:
            server.handle_request()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
