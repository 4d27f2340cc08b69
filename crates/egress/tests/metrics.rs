//! Blocked requests are counted in `walletd_egress_blocked_total{rule=...}` (own test binary: global recorder).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use metrics::{Counter, CounterFn, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit};
use walletd_egress::resolver::StaticResolver;
use walletd_egress::{BLOCKED_METRIC, EgressClient, EgressConfig};

#[derive(Default)]
struct Cell(AtomicU64);

impl CounterFn for Cell {
    fn increment(&self, v: u64) {
        self.0.fetch_add(v, Ordering::SeqCst);
    }
    fn absolute(&self, v: u64) {
        self.0.store(v, Ordering::SeqCst);
    }
}

#[derive(Default, Clone)]
struct Capture(Arc<Mutex<HashMap<String, Arc<Cell>>>>);

impl Capture {
    fn get(&self, name: &str, rule: &str) -> u64 {
        let key = format!("{name}{{rule={rule}}}");
        self.0
            .lock()
            .unwrap()
            .get(&key)
            .map(|c| c.0.load(Ordering::SeqCst))
            .unwrap_or(0)
    }
}

impl Recorder for Capture {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        let labels: Vec<String> = key.labels().map(|l| format!("{}={}", l.key(), l.value())).collect();
        let k = format!("{}{{{}}}", key.name(), labels.join(","));
        let cell = self.0.lock().unwrap().entry(k).or_default().clone();
        Counter::from_arc(cell)
    }
    fn register_gauge(&self, _: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::noop()
    }
    fn register_histogram(&self, _: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::noop()
    }
}

#[tokio::test]
async fn blocked_requests_are_counted_by_rule() {
    let capture = Capture::default();
    metrics::set_global_recorder(capture.clone()).unwrap();
    let c = EgressClient::with_resolver(
        EgressConfig::default(),
        Arc::new(StaticResolver::new().with("meta.test", &["169.254.169.254".parse().unwrap()])),
    )
    .unwrap();
    c.get("https://10.0.0.1/", 10).await.unwrap_err();
    c.get("https://192.168.1.1/", 10).await.unwrap_err();
    c.get("file:///etc/passwd", 10).await.unwrap_err();
    c.check("https://meta.test/").await.unwrap_err();
    assert_eq!(capture.get(BLOCKED_METRIC, "private"), 2);
    assert_eq!(capture.get(BLOCKED_METRIC, "scheme"), 1);
    assert_eq!(capture.get(BLOCKED_METRIC, "link_local"), 1);
    // Errors that are not blocks are not counted.
    c.check("https://unknown.test/").await.unwrap_err();
    c.get("not a url", 10).await.unwrap_err();
    let total: u64 = capture
        .0
        .lock()
        .unwrap()
        .values()
        .map(|c| c.0.load(Ordering::SeqCst))
        .sum();
    assert_eq!(total, 4);
}
