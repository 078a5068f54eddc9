"""A big answer is decoded in turns with the sync's other threads (vendors/http.py ``TAKES_TURNS_BYTES``): the
store's writers are not held up for the whole of a 100 MB listing's decode. A thread that runs pure Python (it
needs Python's GIL to tick) ticks during the decode; in one call into C it could not tick at all."""

from __future__ import annotations

import json
import threading
import time

import httpx

from esimdesk.vendors.http import TAKES_TURNS_BYTES, VendorHttp


def _ticking(stop: threading.Event, ticks: list[float]) -> None:
    last = 0.0
    while not stop.is_set():
        now = time.perf_counter()
        if now - last > 0.001:
            ticks.append(now)
            last = now


async def test_a_big_answer_is_decoded_while_other_threads_take_their_turns():
    items = [{"iccid": f"89{i:017d}", "status": "ACTIVE", "usage": {"usedMb": i % 1024, "totalMb": 1024},
              "esim": {"lpaCode": f"LPA:1$lpa.example$CODE{i}", "iosQuickInstall": None}} for i in range(250_000)]
    body = json.dumps({"status": "success", "data": items}).encode()
    assert len(body) > 40 * TAKES_TURNS_BYTES
    answer = httpx.Response(200, headers={"content-type": "application/json"}, content=body)
    http = VendorHttp("roamify", "http://127.0.0.1:9")
    stop, ticks = threading.Event(), []
    other = threading.Thread(target=_ticking, args=(stop, ticks))
    other.start()
    try:
        time.sleep(0.05)
        t0 = time.perf_counter()
        got = http._decode(answer, "api/esims", True, body)
        t1 = time.perf_counter()
    finally:
        stop.set()
        other.join()
        await http.aclose()
    assert got["data"][-1] == items[-1] and len(got["data"]) == len(items)
    inside = [t for t in ticks if t0 < t < t1]
    longest = max(b - a for a, b in zip([t0, *inside], [*inside, t1], strict=True))
    # In one go the other thread waits the whole decode (longest == t1 - t0); in turns, a switch interval or so.
    assert t1 - t0 > 0.1, "the answer decoded too fast to tell"
    assert longest < (t1 - t0) / 3, f"the other thread waited {longest:.3f} s of a {t1 - t0:.3f} s decode"
