#!/usr/bin/env python3
"""Drains the insurer's inbox (REST, mutual TLS) and writes one decision path
per request, `/{machtigingsaanvraagId}/beoordeling`, for the load generator's
--urls-file. Used by scripts/bench.sh.

python3 bench_inbox.py BASE_URL CERT KEY OUT N   (in the directory holding data/pki/ca.pem)

Keeps the newest N: the requests the caller just submitted (the inbox may
hold older ones from earlier scenarios).
"""
import json
import ssl
import sys
import urllib.request

base, cert, key, out, n = sys.argv[1:5] + [int(sys.argv[5])]
ctx = ssl.create_default_context(cafile="data/pki/ca.pem")
ctx.load_cert_chain(cert, key)
ids = []
while True:
    items = json.load(urllib.request.urlopen(base + "/api/v1/beoordeling/inbox?maximum=500", context=ctx))["items"]
    if not items:
        break
    ids += [i["machtigingsaanvraagId"] for i in items]
    ack = urllib.request.Request(
        base + "/api/v1/beoordeling/inbox/ontvangst",
        method="POST",
        data=json.dumps({"inboxIds": [i["inboxId"] for i in items]}).encode(),
        headers={"content-type": "application/json"},
    )
    urllib.request.urlopen(ack, context=ctx).read()
with open(out, "w") as f:
    f.writelines(f"/{i}/beoordeling\n" for i in ids[-n:])
