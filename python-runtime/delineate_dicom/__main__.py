"""``python -m delineate_dicom write-seg|echo|send|query|retrieve REQUEST.json``: one operation per process.

    write-seg  {SEG request, see seg.py}
    write-rtstruct {RTSTRUCT request, see rtstruct.py}
    write-sr   {SR request, see sr.py}                    a TID 1500 measurement report referencing a SEG
    deidentify {"files": [...], "out_dir": "...", "uid_secret": "hex"}   a de-identified copy (deid.py)
    echo       {"destination": {...}}                     C-ECHO or a QIDO-RS request
    send       {"destination": {...}, "files": [...]}     C-STORE or STOW-RS; per-file results
    query      {"destination": {...}, "filters": {...}}   C-FIND or QIDO-RS; the matching studies (query.py)
    retrieve   {"destination": {...}, "study_uids": [...], "out_dir": "..."}
                                                          C-GET or WADO-RS into out_dir/<n>/ (retrieve.py); progress
                                                          lines ("progress: {json}") on stderr

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
    for name in ("write-seg", "write-rtstruct", "write-sr", "echo", "send", "query", "retrieve", "deidentify"):
        sub.add_parser(name).add_argument("request")
    a = ap.parse_args(argv)
    try:
        with open(a.request, encoding="utf-8") as f:
            req = json.load(f)
        if a.cmd == "write-seg":
            result = write_seg(req)
        elif a.cmd == "write-rtstruct":
            from .rtstruct import write_rtstruct

            result = write_rtstruct(req)
        elif a.cmd == "write-sr":
            from .sr import write_sr

            result = write_sr(req)
        elif a.cmd == "deidentify":
            from .deid import deidentify

            result = deidentify(req)
        elif a.cmd == "query":
            from .query import find  # pynetdicom only where the network is used

            result = find(req["destination"], req["filters"])
        elif a.cmd == "retrieve":
            from .retrieve import retrieve

            result = retrieve(req["destination"], req["study_uids"], req["out_dir"])
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
