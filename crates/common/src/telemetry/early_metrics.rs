//! The process's global metrics recorder, installed in the first instant of start-up, that holds what is recorded
//! until the Prometheus recorder exists and then forwards to it.
//!
//! Why: building the Prometheus recorder calibrates its clock by spinning on the system clock, up to 200 ms on a busy
//! machine, so it is built on a thread of its own (`telemetry::start_metrics_recorder`). A plain global recorder
//! installed at the end of that would make every metric recorded before it a no-op: on a busy machine the first
//! requests went missing from `/metrics`. This recorder is global at once; handles it gives out before the target
//! exists hold their values, and once the target is installed each such handle replays what it holds into the
//! target's handle for the same key and forwards everything after.
//!
//! What is held is bounded: one entry per distinct metric key (a metric is registered again on every use, so keys
//! are deduplicated), and at most [`HELD_SAMPLES`] samples per histogram; samples beyond that are dropped.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use metrics::{
    Counter, CounterFn, Gauge, GaugeFn, Histogram, HistogramFn, Key, KeyName, Level, Metadata, Recorder, SharedString,
    Unit,
};

/// Samples one histogram holds before the target recorder exists. The window lasts milliseconds, at most a few
/// hundred on a busy machine; this keeps a flood in that window from growing memory.
pub const HELD_SAMPLES: usize = 4096;

/// The recorder the held handles are replayed into.
type Target = Box<dyn Recorder + Send + Sync>;

/// A poisoned lock only means another thread panicked while recording a metric; the values are still usable.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Runs `now` on `target` once it is set, else `later` on what `held` holds. `target` is checked again under the
/// lock: whoever sets it does so while holding that lock, after replaying what was held, so an update is either
/// held and replayed or applied to the target after the replay, never lost or overtaken.
fn forward_or_hold<T, H, R>(
    target: &OnceLock<T>,
    held: &Mutex<H>,
    now: impl FnOnce(&T) -> R,
    later: impl FnOnce(&mut H) -> R,
) -> R {
    if let Some(target) = target.get() {
        return now(target);
    }
    let mut held = lock(held);
    match target.get() {
        Some(target) => {
            drop(held);
            now(target)
        }
        None => later(&mut held),
    }
}

/// A global recorder that defers to a target installed later ([`Deferring::install`]).
#[derive(Default)]
pub struct Deferring {
    /// The real recorder, once installed. Set only after every held handle was replayed into it.
    target: OnceLock<Target>,
    /// What was registered and described before the target existed. Emptied by `install`.
    held: Mutex<Held>,
}

#[derive(Default)]
struct Held {
    counters: HashMap<Key, Arc<EarlyHandle<HeldCounter>>>,
    gauges: HashMap<Key, Arc<EarlyHandle<HeldGauge>>>,
    histograms: HashMap<Key, Arc<EarlyHandle<HeldHistogram>>>,
    descriptions: Vec<Description>,
}

#[derive(Clone, Copy)]
enum Kind {
    Counter,
    Gauge,
    Histogram,
}

struct Description {
    kind: Kind,
    name: KeyName,
    unit: Option<Unit>,
    text: SharedString,
}

/// Metadata for registrations replayed into the target. The Prometheus recorder does not read metadata; the
/// original call site's metadata borrows data that does not outlive the call, so it is not kept.
const REPLAY_METADATA: Metadata<'static> = Metadata::new("walletd", Level::INFO, None);

impl Deferring {
    /// Installs `target`: replays every description and every held value into it, then forwards everything to it.
    /// Returns `false` (and drops `target`) when a target was installed before.
    pub fn install(&self, target: Target) -> bool {
        // Held until the target is set, at the end: registrations and descriptions wait for the replay.
        let mut guard = lock(&self.held);
        if self.target.get().is_some() {
            return false;
        }
        let held = std::mem::take(&mut *guard);
        for d in held.descriptions {
            match d.kind {
                Kind::Counter => target.describe_counter(d.name, d.unit, d.text),
                Kind::Gauge => target.describe_gauge(d.name, d.unit, d.text),
                Kind::Histogram => target.describe_histogram(d.name, d.unit, d.text),
            }
        }
        for (key, early) in held.counters {
            early.resolve(target.register_counter(&key, &REPLAY_METADATA));
        }
        for (key, early) in held.gauges {
            early.resolve(target.register_gauge(&key, &REPLAY_METADATA));
        }
        for (key, early) in held.histograms {
            early.resolve(target.register_histogram(&key, &REPLAY_METADATA));
        }
        let _ = self.target.set(target);
        drop(guard);
        true
    }

    /// Whether the target is installed.
    #[cfg(test)]
    pub fn installed(&self) -> bool {
        self.target.get().is_some()
    }

    /// Runs `now` on the target when it is installed, else `later` on what is held.
    fn with<R>(&self, now: impl FnOnce(&Target) -> R, later: impl FnOnce(&mut Held) -> R) -> R {
        forward_or_hold(&self.target, &self.held, now, later)
    }

    fn describe(&self, kind: Kind, name: KeyName, unit: Option<Unit>, text: SharedString) {
        self.with(
            |target| match kind {
                Kind::Counter => target.describe_counter(name.clone(), unit, text.clone()),
                Kind::Gauge => target.describe_gauge(name.clone(), unit, text.clone()),
                Kind::Histogram => target.describe_histogram(name.clone(), unit, text.clone()),
            },
            |held| {
                held.descriptions.push(Description {
                    kind,
                    name: name.clone(),
                    unit,
                    text: text.clone(),
                })
            },
        )
    }
}

impl Recorder for Deferring {
    fn describe_counter(&self, name: KeyName, unit: Option<Unit>, text: SharedString) {
        self.describe(Kind::Counter, name, unit, text)
    }

    fn describe_gauge(&self, name: KeyName, unit: Option<Unit>, text: SharedString) {
        self.describe(Kind::Gauge, name, unit, text)
    }

    fn describe_histogram(&self, name: KeyName, unit: Option<Unit>, text: SharedString) {
        self.describe(Kind::Histogram, name, unit, text)
    }

    fn register_counter(&self, key: &Key, metadata: &Metadata<'_>) -> Counter {
        self.with(
            |target| target.register_counter(key, metadata),
            |held| Counter::from_arc(held.counters.entry(key.clone()).or_default().clone()),
        )
    }

    fn register_gauge(&self, key: &Key, metadata: &Metadata<'_>) -> Gauge {
        self.with(
            |target| target.register_gauge(key, metadata),
            |held| Gauge::from_arc(held.gauges.entry(key.clone()).or_default().clone()),
        )
    }

    fn register_histogram(&self, key: &Key, metadata: &Metadata<'_>) -> Histogram {
        self.with(
            |target| target.register_histogram(key, metadata),
            |held| Histogram::from_arc(held.histograms.entry(key.clone()).or_default().clone()),
        )
    }
}

/// What one kind of handle holds before its target handle exists, and how it is replayed.
trait HeldValue: Default + Send {
    /// The target recorder's handle.
    type Handle: Send + Sync;
    /// Applies everything held to `to`, in order of effect.
    fn replay(self, to: &Self::Handle);
}

/// A handle given out before the target existed: holds values until [`EarlyHandle::resolve`], then forwards.
struct EarlyHandle<V: HeldValue> {
    /// The target's handle, set only after what was held has been replayed into it (under `held`'s lock), so a
    /// later update can never be overtaken by an older held one.
    target: OnceLock<V::Handle>,
    held: Mutex<V>,
}

impl<V: HeldValue> Default for EarlyHandle<V> {
    fn default() -> Self {
        Self {
            target: OnceLock::new(),
            held: Mutex::new(V::default()),
        }
    }
}

impl<V: HeldValue> EarlyHandle<V> {
    fn apply(&self, now: impl FnOnce(&V::Handle), later: impl FnOnce(&mut V)) {
        forward_or_hold(&self.target, &self.held, now, later)
    }

    fn resolve(&self, to: V::Handle) {
        let mut held = lock(&self.held);
        std::mem::take(&mut *held).replay(&to);
        let _ = self.target.set(to);
    }
}

/// A counter's or gauge's value before the target exists: the last value set outright, if any, and what was added
/// since.
#[derive(Default)]
struct HeldLevel<T> {
    set: Option<T>,
    added: T,
}

impl<T: Default> HeldLevel<T> {
    fn set_to(&mut self, value: T) {
        self.set = Some(value);
        self.added = T::default();
    }
}

type HeldCounter = HeldLevel<u64>;
type HeldGauge = HeldLevel<f64>;

impl HeldValue for HeldCounter {
    type Handle = Counter;
    fn replay(self, to: &Counter) {
        self.set.inspect(|value| to.absolute(*value));
        if self.added > 0 {
            to.increment(self.added);
        }
    }
}

impl HeldValue for HeldGauge {
    type Handle = Gauge;
    fn replay(self, to: &Gauge) {
        self.set.inspect(|value| to.set(*value));
        if self.added != 0.0 {
            to.increment(self.added);
        }
    }
}

impl CounterFn for EarlyHandle<HeldCounter> {
    fn increment(&self, value: u64) {
        self.apply(|c| c.increment(value), |h| h.added = h.added.saturating_add(value));
    }

    fn absolute(&self, value: u64) {
        self.apply(|c| c.absolute(value), |h| h.set_to(value));
    }
}

impl GaugeFn for EarlyHandle<HeldGauge> {
    fn increment(&self, value: f64) {
        self.apply(|g| g.increment(value), |h| h.added += value);
    }

    fn decrement(&self, value: f64) {
        self.apply(|g| g.decrement(value), |h| h.added -= value);
    }

    fn set(&self, value: f64) {
        self.apply(|g| g.set(value), |h| h.set_to(value));
    }
}

#[derive(Default)]
struct HeldHistogram {
    samples: Vec<f64>,
}

impl HeldValue for HeldHistogram {
    type Handle = Histogram;
    fn replay(self, to: &Histogram) {
        for sample in self.samples {
            to.record(sample);
        }
    }
}

impl HistogramFn for EarlyHandle<HeldHistogram> {
    fn record(&self, value: f64) {
        self.apply(
            |h| h.record(value),
            |h| {
                if h.samples.len() < HELD_SAMPLES {
                    h.samples.push(value);
                }
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use metrics_exporter_prometheus::PrometheusBuilder;

    fn metadata() -> Metadata<'static> {
        Metadata::new("test", Level::INFO, None)
    }

    /// The value of the line starting with `series ` in Prometheus text.
    fn value(text: &str, series: &str) -> Option<f64> {
        text.lines()
            .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
            .map(|v| v.parse().expect("a number"))
    }

    #[test]
    fn values_recorded_before_install_reach_the_target_and_later_ones_follow() {
        let early = Deferring::default();
        early.describe_counter("early_total".into(), None, "counted before the target".into());
        let counter = early.register_counter(&Key::from_name("early_total"), &metadata());
        counter.increment(2);
        // Registered again on each use, as the macros do: one held entry, one series.
        early
            .register_counter(&Key::from_name("early_total"), &metadata())
            .increment(1);
        let gauge = early.register_gauge(&Key::from_name("early_gauge"), &metadata());
        gauge.increment(4.0);
        gauge.set(10.0);
        gauge.decrement(3.0);
        let histogram = early.register_histogram(&Key::from_name("early_seconds"), &metadata());
        histogram.record(0.5);
        histogram.record(1.5);
        assert!(!early.installed());

        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        assert!(early.install(Box::new(recorder)));
        assert!(early.installed());
        let text = handle.render();
        assert_eq!(value(&text, "early_total"), Some(3.0), "{text}");
        assert!(text.contains("# HELP early_total counted before the target"), "{text}");
        assert_eq!(value(&text, "early_gauge"), Some(7.0), "{text}");
        assert_eq!(value(&text, "early_seconds_count"), Some(2.0), "{text}");
        assert_eq!(value(&text, "early_seconds_sum"), Some(2.0), "{text}");

        // The handles taken before keep working; new registrations go straight to the target.
        counter.increment(1);
        gauge.set(1.0);
        histogram.record(1.0);
        early
            .register_counter(&Key::from_name("late_total"), &metadata())
            .increment(5);
        let text = handle.render();
        assert_eq!(value(&text, "early_total"), Some(4.0), "{text}");
        assert_eq!(value(&text, "early_gauge"), Some(1.0), "{text}");
        assert_eq!(value(&text, "early_seconds_count"), Some(3.0), "{text}");
        assert_eq!(value(&text, "late_total"), Some(5.0), "{text}");

        // A second target is refused; the first stays.
        assert!(!early.install(Box::new(PrometheusBuilder::new().build_recorder())));
        assert_eq!(value(&handle.render(), "late_total"), Some(5.0));
    }

    #[test]
    fn a_held_histogram_keeps_a_bounded_number_of_samples() {
        let early = Deferring::default();
        let histogram = early.register_histogram(&Key::from_name("flood_seconds"), &metadata());
        for _ in 0..HELD_SAMPLES + 100 {
            histogram.record(1.0);
        }
        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        early.install(Box::new(recorder));
        let text = handle.render();
        assert_eq!(value(&text, "flood_seconds_count"), Some(HELD_SAMPLES as f64), "{text}");
    }

    #[test]
    fn no_increment_is_lost_or_counted_twice_while_the_target_is_installed() {
        let early = Arc::new(Deferring::default());
        let counter = early.register_counter(&Key::from_name("raced_total"), &metadata());
        let (threads, per_thread) = (4u64, 20_000u64);
        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        std::thread::scope(|s| {
            for _ in 0..threads {
                let counter = counter.clone();
                let early = early.clone();
                s.spawn(move || {
                    for i in 0..per_thread {
                        // Half through the held handle, half through fresh registrations.
                        if i % 2 == 0 {
                            counter.increment(1);
                        } else {
                            early
                                .register_counter(&Key::from_name("raced_total"), &metadata())
                                .increment(1);
                        }
                    }
                });
            }
            s.spawn(|| {
                std::thread::yield_now();
                early.install(Box::new(recorder));
            });
        });
        let text = handle.render();
        assert_eq!(
            value(&text, "raced_total"),
            Some((threads * per_thread) as f64),
            "{text}"
        );
    }
}
