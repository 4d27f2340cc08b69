//! When periodic background tasks (purges, refreshes, upkeep) run.

use std::time::Duration;

use tokio::time::{Instant, Interval, MissedTickBehavior};

/// The longest a periodic task waits for its first run. Every task used to run once at once: in `--mode=all` all of
/// them ran beside start-up itself, for the same two cores and the same SQLite pool (each query of theirs opened a
/// connection of its own), and none is needed before the first request (docs/performance.md "Start-up").
pub const FIRST_RUN_AFTER_START: Duration = Duration::from_secs(2);

/// Ticks first after [`first_delay`], then every `period` (at least a millisecond); a tick missed while the task
/// was busy is delayed, not bunched. Must be called within a tokio runtime.
pub fn interval(period: Duration) -> Interval {
    let period = period.max(Duration::from_millis(1));
    let mut every = tokio::time::interval_at(Instant::now() + first_delay(period), period);
    every.set_missed_tick_behavior(MissedTickBehavior::Delay);
    every
}

/// How long after start a task of this `period` first runs: the period or [`FIRST_RUN_AFTER_START`], whichever is
/// shorter (an hourly purge must not wait an hour: a process restarted more often would never run it).
pub fn first_delay(period: Duration) -> Duration {
    period.min(FIRST_RUN_AFTER_START)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_run_waits_for_the_period_or_start_up_whichever_is_shorter() {
        assert_eq!(first_delay(Duration::from_secs(3600)), FIRST_RUN_AFTER_START);
        assert_eq!(first_delay(Duration::from_millis(500)), Duration::from_millis(500));
        assert_eq!(first_delay(Duration::ZERO), Duration::ZERO);
    }

    #[tokio::test]
    async fn ticks_come_after_the_first_delay_then_every_period() {
        let start = Instant::now();
        let mut every = interval(Duration::from_millis(30));
        every.tick().await;
        assert!(start.elapsed() >= Duration::from_millis(30), "no tick at once");
        every.tick().await;
        assert!(start.elapsed() >= Duration::from_millis(60));
        // A zero period is a millisecond, not tokio's panic.
        let mut zero = interval(Duration::ZERO);
        zero.tick().await;
        zero.tick().await;
    }
}
