//! What a wait says while it waits (issue #31 item 4): what it waits for, where that stands and
//! since when. On a terminal (stderr, `NO_COLOR` unset) an indicatif spinner line redrawn in
//! place; otherwise (a pipe, a file, `NO_COLOR`) one plain line each time the state changes, on
//! the run's stream for people ([`ErrStream`]), so a test's captured streams see it. Nothing is
//! said for a wait that ends within its first second.
//! [`crate::wait::Waiter::until_shown`] drives it; the words come from the command.

use std::time::Duration;

use indicatif::ProgressBar;
use tokio::time::Instant;

use crate::output::ErrStream;
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
    /// Where the plain lines go.
    err: ErrStream,
    /// The state last printed as a plain line.
    said: Option<String>,
    /// No plain lines (a spinner on a terminal still): the run writes events for programs,
    /// which say where the wait stands, and its stderr stays for errors.
    quiet: bool,
}

impl Progress {
    /// The progress of a wait for `what` (`the replacement of pg-1`), started now, that ends
    /// at `deadline` at the latest; its plain lines go to `err`. The spinner is drawn on the
    /// process's stderr, the terminal [`Terminal::animate`] is about.
    pub fn start(term: &Terminal, err: ErrStream, what: impl Into<String>, deadline: Instant) -> Progress {
        Progress {
            err,
            what: what.into(),
            started: Instant::now(),
            deadline,
            animate: term.animate,
            bar: None,
            term: *term,
            said: None,
            quiet: false,
        }
    }

    /// This progress without its plain lines when `events` (the run writes JSON events that
    /// say where the wait stands: a program reading them wants nothing else on stderr but
    /// errors); a spinner on a terminal is still drawn.
    pub fn quiet_under(mut self, events: bool) -> Progress {
        self.quiet = events;
        self
    }

    /// Shows `state` (`Pending on node-2`), once the wait has lasted [`QUIET_FOR`].
    pub fn show(&mut self, state: &str) {
        self.show_at(None, state, Instant::now());
    }

    /// [`Progress::show`] for a wait whose subject moves on while it waits (the member a
    /// restart waits on): `what` replaces what it waits for; a new one is a change.
    pub fn show_as(&mut self, what: &str, state: &str) {
        self.show_at(Some(what), state, Instant::now());
    }

    fn show_at(&mut self, what: Option<&str>, state: &str, now: Instant) {
        if let Some(what) = what
            && what != self.what
        {
            self.what = what.to_owned();
            self.said = None;
        }
        let elapsed = now.saturating_duration_since(self.started);
        if elapsed < QUIET_FOR {
            return;
        }
        let line = line(&self.what, state, elapsed, self.deadline.saturating_duration_since(self.started));
        if self.animate {
            let bar = self.bar.get_or_insert_with(|| self.term.spinner());
            bar.set_message(line);
        } else if !self.quiet && self.said.as_deref() != Some(state) {
            self.said = Some(state.to_owned());
            self.err.line(line);
        }
    }

    /// Ends it: the spinner line is cleared (plain lines stay). Dropping it does the same, so
    /// a wait that ends with an error leaves no spinner behind.
    pub fn finish(self) {
        drop(self);
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(bar) = self.bar.take() {
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
    use crate::output::Streams;

    fn plain() -> Terminal {
        Terminal { interactive: false, color: false, animate: false, columns: None }
    }

    #[test]
    fn a_plain_line_per_change_goes_to_the_runs_stream_after_a_second() {
        let (io, _, err) = Streams::captured();
        let deadline = Instant::now() + Duration::from_secs(300);
        let mut progress = Progress::start(&plain(), io.err_stream(), "the replacement of pg-1", deadline);
        let started = progress.started;
        progress.show_at(None, "Pending", started + Duration::from_millis(400));
        assert_eq!(err.text(), "", "nothing within the first second");
        progress.show_at(None, "Pending", started + Duration::from_millis(1_500));
        progress.show_at(None, "Pending", started + Duration::from_millis(2_500));
        progress.show_at(None, "Running on node-2", started + Duration::from_millis(3_500));
        // Another subject with the same state is a change.
        progress.show_at(
            Some("the replacement of pg-2"),
            "Running on node-2",
            started + Duration::from_secs(4),
        );
        progress.finish();
        assert_eq!(
            err.text(),
            "waiting for the replacement of pg-1: Pending (1s of at most 5m)\n\
             waiting for the replacement of pg-1: Running on node-2 (3s of at most 5m)\n\
             waiting for the replacement of pg-2: Running on node-2 (4s of at most 5m)\n"
        );
    }

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
