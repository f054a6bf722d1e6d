#!/usr/bin/env bash
# prometheus.sh OPHOSTD PLUGIN_DIR — a real Prometheus (Debian's package)
# on loopback scrapes a test ophostd every second; a synthetic session with
# known values goes through the metrics operator; the exact counter, gauge
# and histogram values, the series limit with its overflow series, and the
# daemon's own metrics are read back through Prometheus' HTTP query API.
# `promtool check metrics` must accept the exposition. Skips (77) without
# prometheus, promtool, curl or python3.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source-path=SCRIPTDIR source=../lib-prometheus.sh
. "$(dirname "$0")/../lib-prometheus.sh"

usage 2 "prometheus.sh OPHOSTD PLUGIN_DIR" "$@"
ophostd=$1
src_plugins=$2
unset JOURNAL_STREAM OPHOST_PLUGIN_DIR
for tool in prometheus promtool curl python3; do
    command -v "$tool" >/dev/null || { echo "SKIP: $tool is not installed (Debian: prometheus, curl, python3)"; exit 77; }
done

make_tmp ophost-prometheus
plugins=$tmp/plugins
pipelines=$tmp/pipelines.d
mkdir -p "$plugins" "$pipelines" "$tmp/tsdb"
chmod 755 "$tmp" "$plugins"
for so in synthetic metrics; do
    cp "$src_plugins/$so.so" "$plugins/"
done

port=$(free_port)
prom_port=$(free_port)

cat >"$tmp/ophostd.yaml" <<END_CONFIG
control-socket: $tmp/sock
plugin-dirs: [$plugins]
pipeline-dir: $pipelines
metrics-listen: 127.0.0.1:$port
END_CONFIG
# 1,000 events, seq 1..1000, comm comm-1..comm-1000, pid = seq: every
# value below follows from that.
cat >"$pipelines/known.yaml" <<'END_PIPELINES'
known:
  gadget: synthetic
  operators:
    synthetic: {count: 1000, rate: 0, batch: 100, fields: 'seq:u64,pid:u32,comm:string'}
    metrics:
      max-series: 10
      metrics: >-
        known_events_total = count();
        known_seq_total = sum(seq);
        known_last_pid = last(pid);
        known_seq = histogram(seq) buckets(10, 100, 500) help "seq in buckets";
        known_comm_events_total = count() by (comm)
END_PIPELINES
cat >"$tmp/prometheus.yml" <<END_PROM
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: ophost
    static_configs:
      - targets: ['127.0.0.1:$port']
END_PROM

start_daemon "$tmp/ophostd.log" --config "$tmp/ophostd.yaml"
wait_for 10 log_has "session known: completed, 1000 events" || fail "session known did not complete"

curl -sS --max-time 5 -o "$tmp/scrape" "http://127.0.0.1:$port/metrics" || fail "no /metrics"
promtool check metrics <"$tmp/scrape" >"$tmp/promtool.out" 2>&1 ||
    fail "promtool check metrics: $(cat "$tmp/promtool.out")"
ok "promtool check metrics accepts the exposition ($(grep -c -v '^#' "$tmp/scrape") samples)"

prom_start "$tmp/prometheus.yml" "$prom_port"

scraped() { [ "$(prom_query 'up{job="ophost"}')" = "__name__=up 1" ]; }
wait_for 30 scraped || fail "Prometheus did not scrape ophostd: $(prom_query 'up')"
has_data() { [ -n "$(prom_query 'known_seq_total')" ]; }
wait_for 10 has_data || fail "no known_seq_total in Prometheus"
ok "Prometheus 127.0.0.1:$prom_port scrapes ophostd 127.0.0.1:$port (up 1)"

prom_expect 'known_events_total' "__name__=known_events_total,session=known 1000"
prom_expect 'known_seq_total' "__name__=known_seq_total,session=known 500500"
prom_expect 'known_last_pid' "__name__=known_last_pid,session=known 1000"
ok "counter known_events_total 1000, counter known_seq_total 500500 (1 + ... + 1000), gauge known_last_pid 1000"

prom_expect 'known_seq_bucket' "__name__=known_seq_bucket,le=+Inf,session=known 1000
__name__=known_seq_bucket,le=10,session=known 10
__name__=known_seq_bucket,le=100,session=known 100
__name__=known_seq_bucket,le=500,session=known 500"
prom_expect 'known_seq_sum' "__name__=known_seq_sum,session=known 500500"
prom_expect 'known_seq_count' "__name__=known_seq_count,session=known 1000"
prom_expect 'histogram_quantile(0.5, known_seq_bucket)' "session=known 500"
ok "histogram known_seq: buckets 10/100/500/+Inf = 10/100/500/1000, sum 500500, count 1000, median 500"

prom_expect 'count(known_comm_events_total)' " 11"
prom_expect 'known_comm_events_total{ophost_overflow="true"}' \
    "__name__=known_comm_events_total,ophost_overflow=true,session=known 990"
prom_expect 'known_comm_events_total{comm="comm-7"}' \
    "__name__=known_comm_events_total,comm=comm-7,session=known 1"
prom_expect 'ophost_metrics_series{metric="known_comm_events_total"}' \
    "__name__=ophost_metrics_series,metric=known_comm_events_total,session=known 10"
prom_expect 'ophost_metrics_overflow_events_total{metric="known_comm_events_total"}' \
    "__name__=ophost_metrics_overflow_events_total,metric=known_comm_events_total,session=known 990"
prom_expect 'ophost_metrics_overflow_events_total{metric="known_seq_total"}' \
    "__name__=ophost_metrics_overflow_events_total,metric=known_seq_total,session=known 0"
log_has "metric 'known_comm_events_total': 10 series (label combinations) reached (max-series)" ||
    fail "the overflow was not logged"
ok "max-series 10: 10 series of comm plus the overflow series with 990 events, reported by ophost_metrics_overflow_events_total and the log"

prom_expect 'ophost_session_events_emitted_total' "__name__=ophost_session_events_emitted_total,session=known 1000"
prom_expect 'ophost_operator_events_in_total{operator="metrics"}' \
    "__name__=ophost_operator_events_in_total,operator=metrics,session=known 1000"
prom_expect 'ophost_operator_batches_total{operator="metrics"}' \
    "__name__=ophost_operator_batches_total,operator=metrics,session=known 10"
prom_expect 'ophost_sessions{state="inactive"}' "__name__=ophost_sessions,state=inactive 1"
prom_expect 'ophost_plugins' "__name__=ophost_plugins,state=loaded 2
__name__=ophost_plugins,state=quarantined 0
__name__=ophost_plugins,state=refused 0"
prom_expect 'sum(ophost_session_metrics_errors)' " 0"
ok "the daemon's own metrics: 1000 events emitted, 10 batches of 100 into metrics, sessions by state, plugins"

stop_daemon
echo "$n_ok passed, 0 failed"
