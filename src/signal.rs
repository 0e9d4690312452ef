//! Ctrl-C (SIGINT), SIGTERM and SIGHUP for the whole process: what `timeout`, a CI job's
//! cancellation and a closed SSH session send are handled like Ctrl-C. The handler is installed
//! when a command starts, before any request, so a signal never kills the process halfway
//! through a change: waits notice it and say where they left things, a prompt returns (console
//! reports ^C as an interrupted read), and `run` gives a command a moment to stop cleanly
//! before it gives up on it.

use std::sync::OnceLock;

use tokio::sync::watch;

static PRESSED: OnceLock<watch::Sender<bool>> = OnceLock::new();

fn sender() -> &'static watch::Sender<bool> {
    PRESSED.get_or_init(|| watch::channel(false).0)
}

/// Installs the handlers now (on Unix synchronously, so no signal can slip in before them).
pub fn listen() {
    let pressed = sender();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        for kind in [SignalKind::interrupt(), SignalKind::terminate(), SignalKind::hangup()] {
            if let Ok(mut stream) = signal(kind) {
                tokio::spawn(async move {
                    if stream.recv().await.is_some() {
                        pressed.send_replace(true);
                    }
                });
            }
        }
    }
    #[cfg(not(unix))]
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            pressed.send_replace(true);
        }
    });
}

/// Resolves once a signal has arrived (at once if one already has).
pub async fn interrupted() {
    let mut pressed = sender().subscribe();
    // The sender lives in a static, so waiting can only end with a signal.
    let _ = pressed.wait_for(|pressed| *pressed).await;
}

/// Whether a signal has arrived, for loops that check between steps.
pub fn is_interrupted() -> bool {
    *sender().borrow()
}
