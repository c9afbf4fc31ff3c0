#!/usr/bin/env bash
# `make run`, the Square API side: the fake Square (started by `canary-stream up` with
# CANARY_FAKE_SQUARE=1) lists its seeded sellers; each becomes a merchant (`merchants add`
# with its id and currency) connected through the fake's OAuth (`merchants connect --fake`),
# the webhook subscription is registered for the ingress (`webhooks register`), and each
# seller makes FAKE_ORDERS sales whose signed webhooks the fake delivers to the ingress
# (thin order.* events → the fetch loop → SALE rows). The parse workers' drawer poller picks
# the connected merchants up on its own. Idempotent: run it again after restarting the fake.
set -euo pipefail
CLI=${CLI:-.venv/bin/canary-stream}
PY=${PY:-.venv/bin/python}
FAKE_ORDERS=${FAKE_ORDERS:-3}

fake() {  # fake METHOD PATH [JSON]: call the fake with the application token, print the body
  "$PY" - "$@" <<'PYEOF'
import sys, urllib.request
from canary_stream.settings import get_settings
from canary_stream.square.client import resolve_base_url
s = get_settings()
method, path = sys.argv[1], sys.argv[2]
data = sys.argv[3].encode() if len(sys.argv) > 3 else None
req = urllib.request.Request(resolve_base_url(s.square_base_url) + path, data=data, method=method)
req.add_header("Authorization", "Bearer " + s.square_access_token.get_secret_value())
req.add_header("Content-Type", "application/json")
with urllib.request.urlopen(req, timeout=30) as r:
    sys.stdout.write(r.read().decode())
PYEOF
}

sellers=$(fake GET /_fake/merchants | "$PY" -c '
import json, sys
for m in json.load(sys.stdin)["merchants"]:
    print(m["merchant_id"], m["currency"])')
[ -n "$sellers" ] || { echo "run-square: the fake Square has no sellers" >&2; exit 1; }

while read -r merchant currency; do
  "$CLI" merchants add --square-merchant-id "$merchant" --currency "$currency" >/dev/null
  "$CLI" merchants connect --merchant "$merchant" --fake
done <<< "$sellers"
"$CLI" webhooks register

sales=0
while read -r merchant _; do
  for _ in $(seq 1 "$FAKE_ORDERS"); do
    fake POST /_fake/orders "{\"merchant_id\": \"$merchant\", \"deliver\": true}" \
      | "$PY" -c '
import json, sys
answer = json.load(sys.stdin)
bad = [d for d in answer.get("deliveries", []) if d["status"] != 200]
sys.exit(f"a webhook delivery failed: {bad}" if bad else 0)'
    sales=$((sales + 1))
  done
done <<< "$sellers"
echo "fake Square: $(wc -l <<< "$sellers") sellers connected, $sales sales delivered to the ingress"
