# lib-prometheus.sh — a Prometheus for a test, sourced after lib.sh:
#   prom_start CONFIG PORT   starts prometheus on 127.0.0.1:PORT with its
#                            database in $tmp/tsdb (its pid joins the array
#                            pids), waits until it is ready
#   prom_query PROMQL        the result vector, "labels value" per line,
#                            sorted; every label but job and instance
#   prom_expect PROMQL WANT  fails unless prom_query's result is exactly WANT
# They use $tmp, wait_for and fail of the caller.

prom_start() {
    local config=$1
    prom_port=$2
    mkdir -p "$tmp/tsdb"
    prometheus --config.file="$config" --storage.tsdb.path="$tmp/tsdb" \
        --web.listen-address="127.0.0.1:$prom_port" >"$tmp/prometheus.log" 2>&1 &
    pids+=("$!")
    wait_for 30 prom_ready ||
        fail "Prometheus did not get ready: $(tail -n 5 "$tmp/prometheus.log")"
}

prom_ready() { curl -sf --max-time 1 -o /dev/null "http://127.0.0.1:$prom_port/-/ready"; }

prom_query() {
    curl -sS --max-time 5 --get --data-urlencode "query=$1" \
        "http://127.0.0.1:$prom_port/api/v1/query" | python3 -c '
import json, sys
r = json.load(sys.stdin)
if r.get("status") != "success":
    sys.exit("query failed: %s" % r)
out = []
for s in r["data"]["result"]:
    m = {k: v for k, v in s["metric"].items() if k not in ("job", "instance")}
    labels = ",".join("%s=%s" % (k, m[k]) for k in sorted(m))
    out.append("%s %s" % (labels, s["value"][1]))
print("\n".join(sorted(out)))'
}

prom_expect() {
    local got
    got=$(prom_query "$1") || fail "query $1 failed: $got"
    [ "$got" = "$2" ] || fail "query $1: expected
$2
got
$got"
}
