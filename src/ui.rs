//! The terminal: whether we may prompt, colour or animate, and the prompts themselves.
//! Prompts, progress and warnings go to stderr; stdout stays data.

use std::io::IsTerminal;
use std::time::Duration;

use dialoguer::theme::{ColorfulTheme, SimpleTheme, Theme};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy)]
pub struct Terminal {
    /// stdin and stderr are a terminal: prompts can be shown and answered.
    pub interactive: bool,
    /// stdout is a terminal and NO_COLOR is unset.
    pub color: bool,
    /// stderr is a terminal and NO_COLOR is unset: spinners and redraws are fine.
    pub animate: bool,
}

impl Terminal {
    pub fn detect() -> Self {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let stderr = std::io::stderr().is_terminal();
        Terminal {
            interactive: std::io::stdin().is_terminal() && stderr,
            color: std::io::stdout().is_terminal() && !no_color,
            animate: stderr && !no_color,
        }
    }

    /// Refuses, before anything changes, a run that would need a prompt nobody can answer.
    pub fn require_consent(&self, yes: bool, action: &str) -> Result<()> {
        if yes || self.interactive {
            Ok(())
        } else {
            Err(Error::Usage(format!("refusing to {action} without a terminal to confirm on: pass --yes")))
        }
    }

    fn require_answer(&self, question: &str) -> Result<()> {
        if self.interactive {
            Ok(())
        } else {
            Err(Error::Usage(format!("cannot ask {question:?} without a terminal: pass --yes")))
        }
    }

    fn theme(&self) -> Box<dyn Theme> {
        if self.animate { Box::new(ColorfulTheme::default()) } else { Box::new(SimpleTheme) }
    }

    /// Yes/no, default no. With `yes`, answers yes without asking.
    pub fn confirm(&self, yes: bool, question: &str) -> Result<bool> {
        if yes {
            return Ok(true);
        }
        self.require_answer(question)?;
        dialoguer::Confirm::with_theme(&*self.theme())
            .with_prompt(question)
            .default(false)
            .interact()
            .map_err(prompt_error)
    }

    /// The user types `expected` to go on (for deletions). With `yes`, goes on without asking.
    pub fn confirm_typed(&self, yes: bool, question: &str, expected: &str) -> Result<bool> {
        if yes {
            return Ok(true);
        }
        self.require_answer(question)?;
        let answer: String = dialoguer::Input::with_theme(&*self.theme())
            .with_prompt(format!("{question} Type {expected} to confirm"))
            .allow_empty(true)
            .interact_text()
            .map_err(prompt_error)?;
        Ok(answer.trim() == expected)
    }

    /// One of `choices`; returns its index.
    pub fn choose(&self, question: &str, choices: &[&str]) -> Result<usize> {
        dialoguer::Select::with_theme(&*self.theme())
            .with_prompt(question)
            .items(choices)
            .default(0)
            .interact()
            .map_err(prompt_error)
    }

    /// A spinner line on stderr, or nothing when stderr is not a terminal.
    pub fn spinner(&self) -> ProgressBar {
        if !self.animate {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("{spinner} {prefix} {wide_msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.enable_steady_tick(Duration::from_millis(120));
        bar
    }
}

fn prompt_error(error: dialoguer::Error) -> Error {
    // A prompt hides the cursor while it runs; one left by ^C would leave it hidden.
    let _ = console::Term::stderr().show_cursor();
    match error {
        dialoguer::Error::IO(e) if e.kind() == std::io::ErrorKind::Interrupted => {
            Error::Interrupted { at_prompt: true, left: "nothing was changed by it".to_owned(), resume: None }
        }
        dialoguer::Error::IO(e) => Error::Output(e),
    }
}
