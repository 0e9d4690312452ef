//! Ctrl-C for the whole process. The handler is installed when a command starts, before any
//! request, so SIGINT never kills the process halfway through a change: waits notice it and
//! say where they left things, a prompt returns (console re-raises SIGINT on ^C), and `run`
//! gives a command a moment to stop cleanly before it gives up on it.

use std::sync::OnceLock;

use tokio::sync::watch;

static PRESSED: OnceLock<watch::Sender<bool>> = OnceLock::new();

fn sender() -> &'static watch::Sender<bool> {
    PRESSED.get_or_init(|| watch::channel(false).0)
}

/// Installs the handler now (on Unix synchronously, so no SIGINT can slip in before it).
pub fn listen() {
    let pressed = sender();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut interrupt) = signal(SignalKind::interrupt()) {
            tokio::spawn(async move {
                if interrupt.recv().await.is_some() {
                    pressed.send_replace(true);
                }
            });
        }
    }
    #[cfg(not(unix))]
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            pressed.send_replace(true);
        }
    });
}

/// Resolves once Ctrl-C has been pressed (at once if it already was).
pub async fn interrupted() {
    let mut pressed = sender().subscribe();
    // The sender lives in a static, so waiting can only end with Ctrl-C.
    let _ = pressed.wait_for(|pressed| *pressed).await;
}

/// Whether Ctrl-C has been pressed, for loops that check between steps.
pub fn is_interrupted() -> bool {
    *sender().borrow()
}
