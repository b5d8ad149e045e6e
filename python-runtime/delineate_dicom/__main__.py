"""``python -m delineate_dicom write-seg|echo|send REQUEST.json``: one operation per process.

    write-seg  {SEG request, see seg.py}
    echo       {"destination": {...}}                     C-ECHO or a QIDO-RS request
    send       {"destination": {...}, "files": [...]}     C-STORE or STOW-RS; per-file results

The result is the last stdout line (JSON); a failure exits 1 with ``error: <sentence>`` as
the last stderr line, naming the file at fault, so the app can show it as it is.
"""

from __future__ import annotations

import argparse
import json
import sys
import traceback

from .seg import write_seg


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m delineate_dicom")
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("write-seg", "echo", "send"):
        sub.add_parser(name).add_argument("request")
    a = ap.parse_args(argv)
    try:
        with open(a.request, encoding="utf-8") as f:
            req = json.load(f)
        if a.cmd == "write-seg":
            result = write_seg(req)
        else:
            from . import net  # pynetdicom only where the network is used

            result = net.echo(req["destination"]) if a.cmd == "echo" else net.store(req["destination"], req["files"])
    except (OSError, ValueError) as exc:  # what the request or its files got wrong
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # noqa: BLE001 - anything else: the traceback, then one sentence
        traceback.print_exc()
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
