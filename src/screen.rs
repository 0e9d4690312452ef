//! A full-screen view on the terminal (ratatui over crossterm): raw mode and the alternate
//! screen while it runs, the terminal restored whenever it ends (a return, an error, a panic),
//! and its input (keys, resizes) as a stream. What is drawn is the caller's pure function of
//! its model; this module only owns the terminal.

use std::io::{self, IsTerminal, Stdout};
use std::sync::Once;

use crossterm::event::{Event, EventStream};
use crossterm::{cursor, execute, terminal};
use futures::StreamExt;
use ratatui::Frame;
use ratatui::backend::CrosstermBackend;

/// Whether a full-screen view can run: stdout is a terminal to draw on, stdin one to read keys
/// from, and the terminal is not `TERM=dumb`. Otherwise callers keep their plain output.
pub fn available() -> bool {
    io::stdout().is_terminal()
        && io::stdin().is_terminal()
        && std::env::var_os("TERM").is_none_or(|term| term != "dumb")
}

/// The terminal while a full-screen view runs on it; dropping it restores the terminal.
pub struct Screen {
    terminal: ratatui::Terminal<CrosstermBackend<Stdout>>,
    events: EventStream,
}

impl Screen {
    /// Switches the terminal to raw mode and the alternate screen, with the cursor hidden.
    ///
    /// # Errors
    /// The terminal refused a mode; what was switched already is switched back.
    pub fn enter() -> io::Result<Screen> {
        install_panic_hook();
        terminal::enable_raw_mode()?;
        let mut stdout = io::stdout();
        if let Err(e) = execute!(stdout, terminal::EnterAlternateScreen, cursor::Hide) {
            restore();
            return Err(e);
        }
        let terminal = match ratatui::Terminal::new(CrosstermBackend::new(stdout)) {
            Ok(terminal) => terminal,
            Err(e) => {
                restore();
                return Err(e);
            }
        };
        Ok(Screen { terminal, events: EventStream::new() })
    }

    /// Draws one frame (ratatui diffs it against the last and writes only the cells changed).
    ///
    /// # Errors
    /// Writing to the terminal failed.
    pub fn draw(&mut self, view: impl FnOnce(&mut Frame)) -> io::Result<()> {
        self.terminal.draw(view).map(|_| ())
    }

    /// The next key press or resize; `None` once the terminal's input has ended.
    pub async fn next_event(&mut self) -> Option<io::Result<Event>> {
        self.events.next().await
    }

    /// After a resize: the whole screen is drawn again at the new size on the next draw.
    ///
    /// # Errors
    /// The terminal's size could not be read.
    pub fn resized(&mut self) -> io::Result<()> {
        self.terminal.autoresize()?;
        self.terminal.clear()
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        restore();
    }
}

/// Leaves the alternate screen and raw mode and shows the cursor; harmless when they are off.
fn restore() {
    let _ = execute!(io::stdout(), terminal::LeaveAlternateScreen, cursor::Show);
    let _ = terminal::disable_raw_mode();
}

/// A panic while the view runs restores the terminal before its message is printed, so the
/// message is readable and the shell usable.
fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if terminal::is_raw_mode_enabled().unwrap_or(false) {
                restore();
            }
            previous(info);
        }));
    });
}
