//! The time limit of a whole run, honoured by every phase: parsing, shapes,
//! differentiation, simplification, extraction, Hessian assembly, printing and `--check`.
//!
//! A run sets a deadline once ([`Deadline::start`]); each phase asks [`check`] (or
//! [`expired`]) at points it passes often enough, and stops with a [`LimitExceeded`]
//! that names the limit, the phase and the flag that raises it. The deadline is per
//! thread (a run is single-threaded), so parallel runs (the tests) do not interfere. The
//! limit is wall-clock time, measured from the start of the run.

use std::cell::Cell;
use std::time::{Duration, Instant};

thread_local! {
    static DEADLINE: Cell<Option<(Instant, Duration)>> = const { Cell::new(None) };
}

/// A run stopped by a resource limit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{phase} stopped at the {limit} before it finished; raise it with {flag}")]
pub struct LimitExceeded {
    /// The limit, with its value: `time limit (2 s)`, `node limit (500000 e-nodes)`.
    pub limit: String,
    /// The phase that stopped: `differentiation`, `printing`, ….
    pub phase: &'static str,
    /// The command-line flag that raises the limit.
    pub flag: &'static str,
}

/// The deadline of the current run on this thread; dropping it lifts the limit.
#[derive(Debug)]
pub struct Deadline {
    previous: Option<(Instant, Duration)>,
}

impl Deadline {
    /// Start the clock: the run on this thread must finish within `limit`.
    pub fn start(limit: Duration) -> Deadline {
        let previous = DEADLINE.with(|d| d.replace(Some((Instant::now(), limit))));
        Deadline { previous }
    }
}

impl Drop for Deadline {
    fn drop(&mut self) {
        DEADLINE.with(|d| d.set(self.previous));
    }
}

/// The time left before the deadline (`None`: no deadline is set).
pub fn remaining() -> Option<Duration> {
    DEADLINE
        .with(|d| d.get())
        .map(|(start, limit)| limit.saturating_sub(start.elapsed()))
}

/// The time left, or `fallback` when no deadline is set (the engine called on its own).
pub fn remaining_or(fallback: Duration) -> Duration {
    remaining().map_or(fallback, |r| r.min(fallback))
}

/// Whether the deadline has passed.
pub fn expired() -> bool {
    remaining().is_some_and(|r| r.is_zero())
}

/// The time limit as a [`LimitExceeded`] of `phase`.
pub fn time_limit_exceeded(phase: &'static str) -> LimitExceeded {
    let seconds = DEADLINE
        .with(|d| d.get())
        .map_or(0.0, |(_, limit)| limit.as_secs_f64());
    LimitExceeded {
        limit: format!("time limit ({seconds} s)"),
        phase,
        flag: "--time-limit",
    }
}

/// `Err` once the deadline has passed, naming `phase`.
pub fn check(phase: &'static str) -> Result<(), LimitExceeded> {
    if expired() {
        Err(time_limit_exceeded(phase))
    } else {
        Ok(())
    }
}

/// The node limit as a [`LimitExceeded`] of `phase`.
pub fn node_limit_exceeded(phase: &'static str, limit: usize) -> LimitExceeded {
    LimitExceeded {
        limit: format!("node limit ({limit} e-nodes)"),
        phase,
        flag: "--node-limit",
    }
}
