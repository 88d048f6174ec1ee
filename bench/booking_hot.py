#!/usr/bin/env python3
"""Hot contention: ROUNDS rounds of 64 guests booking the same stay of a room type of which
exactly 10 rooms are left; prints how many succeeded per round and the latency percentiles.

    bench/booking_hot.py BASE_URL GUEST_TOKEN OWNER_TOKEN HOTEL_ID ROOM_TYPE_ID [ROUNDS]

Each round uses a fresh 2-night stay further in the future and first sets that stay's
allotment to 10 rooms (PUT .../inventory as the owner), so 10 and only 10 can succeed.
"""
import datetime
import http.client
import json
import sys
import threading
import time
import urllib.parse
import uuid

CLIENTS, LEFT = 64, 10


def request(base, method, path, token, body=None, key=None):
    url = urllib.parse.urlparse(base)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    if key:
        headers["Idempotency-Key"] = key
    conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, data


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round((len(ordered) - 1) * p)))]


def main():
    base, guest, owner, hotel, room_type = sys.argv[1:6]
    rounds = int(sys.argv[6]) if len(sys.argv) > 6 else 20
    latencies, wins, statuses = [], [], {}
    first = datetime.date.today() + datetime.timedelta(days=200)
    for r in range(rounds):
        check_in = first + datetime.timedelta(days=3 * r)
        check_out = check_in + datetime.timedelta(days=2)
        status, body = request(base, "PUT", f"/api/v1/hotels/{hotel}/room-types/{room_type}/inventory", owner,
                               {"from": check_in.isoformat(), "to": check_out.isoformat(), "total": LEFT})
        if status >= 300:
            sys.exit(f"setting the allotment failed: {status} {body[:300]!r}")
        booking = {"hotel_id": hotel, "room_type_id": room_type, "check_in": check_in.isoformat(),
                   "check_out": check_out.isoformat(), "guests": 1, "guest_name": "Hot Guest"}
        results = [None] * CLIENTS
        barrier = threading.Barrier(CLIENTS)

        def book(i):
            barrier.wait()
            started = time.perf_counter()
            status, _ = request(base, "POST", "/api/v1/bookings", guest, booking, key=str(uuid.uuid4()))
            results[i] = (status, time.perf_counter() - started)

        threads = [threading.Thread(target=book, args=(i,)) for i in range(CLIENTS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        won = sum(1 for s, _ in results if s == 201)
        wins.append(won)
        for s, seconds in results:
            statuses[s] = statuses.get(s, 0) + 1
            latencies.append(seconds * 1000)
    print(f"hot contention: {rounds} rounds x {CLIENTS} clients for {LEFT} rooms left")
    print(f"  created per round: {sorted(set(wins))} (every round exactly {LEFT}: {all(w == LEFT for w in wins)})")
    print(f"  statuses: {dict(sorted(statuses.items()))}")
    print(f"  latency p50={percentile(latencies, 0.50):.1f} ms p99={percentile(latencies, 0.99):.1f} ms"
          f" max={max(latencies):.1f} ms")
    if not all(w == LEFT for w in wins):
        sys.exit(1)


if __name__ == "__main__":
    main()
