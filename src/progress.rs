//! What a wait says while it waits (issue #31 item 4): what it waits for, where that stands and
//! since when, on stderr. On a terminal (stderr, `NO_COLOR` unset) an indicatif spinner line
//! redrawn in place; otherwise (a pipe, a file, `NO_COLOR`) one plain line each time the state
//! changes. Nothing is said for a wait that ends within its first second.
//! [`crate::wait::Waiter::until_shown`] drives it; the words come from the command.

use std::time::Duration;

use indicatif::ProgressBar;
use tokio::time::Instant;

use crate::ui::Terminal;

/// Waits shorter than this say nothing.
pub const QUIET_FOR: Duration = Duration::from_secs(1);

/// The progress of one wait.
pub struct Progress {
    what: String,
    started: Instant,
    deadline: Instant,
    animate: bool,
    bar: Option<ProgressBar>,
    term: Terminal,
    /// The state last printed as a plain line.
    said: Option<String>,
}

impl Progress {
    /// The progress of a wait for `what` (`the replacement of pg-1`), started now, that ends
    /// at `deadline` at the latest.
    pub fn start(term: &Terminal, what: impl Into<String>, deadline: Instant) -> Progress {
        Progress {
            what: what.into(),
            started: Instant::now(),
            deadline,
            animate: term.animate,
            bar: None,
            term: *term,
            said: None,
        }
    }

    /// Shows `state` (`Pending on node-2`), once the wait has lasted [`QUIET_FOR`].
    pub fn show(&mut self, state: &str) {
        let now = Instant::now();
        let elapsed = now.saturating_duration_since(self.started);
        if elapsed < QUIET_FOR {
            return;
        }
        let line = line(&self.what, state, elapsed, self.deadline.saturating_duration_since(self.started));
        if self.animate {
            let bar = self.bar.get_or_insert_with(|| self.term.spinner());
            bar.set_message(line);
        } else if self.said.as_deref() != Some(state) {
            self.said = Some(state.to_owned());
            crate::output::log_line(line);
        }
    }

    /// Ends it: the spinner line is cleared (plain lines stay).
    pub fn finish(self) {
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }
}

/// `waiting for the replacement of pg-1: Pending on node-2 (12s of at most 5m)`.
pub fn line(what: &str, state: &str, elapsed: Duration, limit: Duration) -> String {
    let seconds = |d: Duration| humantime::format_duration(Duration::from_secs(d.as_secs())).to_string();
    // The deadline was set a moment before the wait started: 4m 59.99s is the 5m asked for.
    let limit = Duration::from_secs(limit.as_millis().div_ceil(1000).try_into().unwrap_or(u64::MAX));
    format!("waiting for {what}: {state} ({} of at most {})", seconds(elapsed), seconds(limit))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_says_what_where_and_since_when() {
        assert_eq!(
            line(
                "the replacement of pg-1",
                "Pending on node-2",
                Duration::from_millis(12_400),
                Duration::from_secs(300)
            ),
            "waiting for the replacement of pg-1: Pending on node-2 (12s of at most 5m)"
        );
        assert_eq!(
            line(
                "PVC data-web-0 to grow to 2Gi",
                "1Gi",
                Duration::from_secs(61),
                Duration::from_millis(599_990)
            ),
            "waiting for PVC data-web-0 to grow to 2Gi: 1Gi (1m 1s of at most 10m)"
        );
    }
}
