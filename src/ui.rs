//! The terminal: whether we may prompt, colour or animate, and the prompts themselves.
//! Prompts, progress and warnings go to stderr; stdout stays data.

use std::io::IsTerminal;
use std::time::Duration;

use dialoguer::theme::{ColorfulTheme, SimpleTheme, Theme};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::error::{Error, Result, Stop};

#[derive(Debug, Clone, Copy)]
pub struct Terminal {
    /// stdin and stderr are a terminal: prompts can be shown and answered.
    pub interactive: bool,
    /// stdout is a terminal and NO_COLOR is unset.
    pub color: bool,
    /// stderr is a terminal and NO_COLOR is unset: spinners and redraws are fine.
    pub animate: bool,
    /// The width of the terminal stdout is, which tables and header lines fit; `None` when
    /// stdout is a pipe or a file (scripts get every character).
    pub columns: Option<usize>,
}

impl Terminal {
    pub fn detect() -> Self {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let stderr = std::io::stderr().is_terminal();
        Terminal {
            interactive: std::io::stdin().is_terminal() && stderr,
            color: std::io::stdout().is_terminal() && !no_color,
            animate: stderr && !no_color,
            columns: console::Term::stdout().size_checked().map(|(_, columns)| usize::from(columns)),
        }
    }

    /// How text for people is drawn on stdout: [`Terminal::color`] and [`Terminal::columns`].
    pub fn canvas(&self) -> crate::output::Canvas {
        crate::output::Canvas { color: self.color, width: self.columns }
    }

    /// Refuses, before anything changes, a run that would need a prompt nobody can answer.
    pub fn require_consent(&self, yes: bool, action: &str) -> Result<()> {
        if yes || self.interactive {
            Ok(())
        } else {
            Err(Stop::NoTerminalToConfirm { action: action.to_owned() }.into())
        }
    }

    fn require_answer(&self, question: &str) -> Result<()> {
        if self.interactive {
            Ok(())
        } else {
            Err(Stop::NoTerminalToAsk { question: question.to_owned() }.into())
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
            .with_prompt(fit_question(question, prompt_columns(), " (y/n) › yes".len()))
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
            .with_prompt(fit_question(
                &format!("{question} Type {expected} to confirm"),
                prompt_columns(),
                expected.len() + 4,
            ))
            .allow_empty(true)
            .interact_text()
            .map_err(prompt_error)?;
        Ok(answer.trim() == expected)
    }

    /// One of `choices`; returns its index.
    pub fn choose(&self, question: &str, choices: &[&str]) -> Result<usize> {
        let answer = choices.iter().map(|c| c.chars().count()).max().unwrap_or(0) + " · ".len();
        dialoguer::Select::with_theme(&*self.theme())
            .with_prompt(fit_question(question, prompt_columns(), answer))
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

/// The width of the terminal prompts are drawn on (stderr), when it is one.
fn prompt_columns() -> Option<usize> {
    console::Term::stderr().size_checked().map(|(_, columns)| usize::from(columns)).filter(|c| *c > 0)
}

/// `question` broken into lines that fit a terminal of `columns` (after the prompt's `? `), with
/// `room` columns left after the last one for the prompt's marks and the answer. dialoguer
/// counts the lines of a prompt to clear them once it is answered, but not the rows a line
/// longer than the terminal wraps onto: those stayed on screen as stale copies. Unchanged when
/// it fits, or off a terminal.
pub fn fit_question(question: &str, columns: Option<usize>, room: usize) -> String {
    let Some(columns) = columns else { return question.to_owned() };
    let width = columns.saturating_sub(2).max(20);
    if console::measure_text_width(question) + room <= width {
        return question.to_owned();
    }
    let wrap = |text: &str, width: usize| -> Vec<String> {
        textwrap::wrap(text, textwrap::Options::new(width).break_words(false))
            .into_iter()
            .map(std::borrow::Cow::into_owned)
            .collect()
    };
    let mut lines = wrap(question, width);
    if let Some(last) = lines.pop() {
        if console::measure_text_width(&last) + room <= width {
            lines.push(last);
        } else {
            lines.extend(wrap(&last, width.saturating_sub(room).max(10)));
        }
    }
    lines.join("\n")
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

/// What turns the frame on screen (`previous`) into `next` on a terminal of `rows` × `columns`:
/// only the lines that changed, or moved because a line above wraps onto another number of
/// rows, are rewritten (each row of theirs cleared first), by cursor position; the cursor ends
/// below the frame and what was below it is cleared. `None` when either frame does not fit the
/// screen, wrapped lines counted: then the caller clears it and writes the whole frame.
pub fn repaint(previous: &str, next: &str, rows: usize, columns: usize) -> Option<String> {
    // Each line with the row it starts on (from 0) and how many rows it takes when wrapped.
    let layout = |frame: &'_ str| -> (Vec<(usize, usize, String)>, usize) {
        let mut row = 0;
        let lines = frame
            .lines()
            .map(|line| {
                let taken = console::measure_text_width(line).div_ceil(columns.max(1)).max(1);
                row += taken;
                (row - taken, taken, line.to_owned())
            })
            .collect();
        (lines, row)
    };
    let (old, old_rows) = layout(previous);
    let (new, new_rows) = layout(next);
    // The last row stays free: writing the final newline there would scroll the screen.
    if old_rows >= rows || new_rows >= rows {
        return None;
    }
    let mut out = String::new();
    for (i, (start, taken, line)) in new.iter().enumerate() {
        if old.get(i).is_some_and(|(s, t, l)| (s, t, l) == (start, taken, line)) {
            continue;
        }
        for row in *start..start + taken {
            out.push_str(&format!("\x1b[{};1H\x1b[2K", row + 1));
        }
        out.push_str(&format!("\x1b[{};1H{line}", start + 1));
    }
    out.push_str(&format!("\x1b[{};1H\x1b[J", new_rows + 1));
    Some(out)
}

#[cfg(test)]
mod fit_question_tests {
    use super::fit_question;

    #[test]
    fn a_question_that_fits_is_unchanged() {
        assert_eq!(fit_question("Remove it?", Some(80), 10), "Remove it?");
        let long = "word ".repeat(40);
        assert_eq!(fit_question(&long, None, 10), long, "off a terminal");
    }

    #[test]
    fn a_long_question_is_broken_into_lines_with_room_for_the_answer() {
        let question = "Next: step 1/3, partition 3 -> 2, updates web-2 (first stages the new template with partition 3)";
        let fitted = fit_question(question, Some(80), " · stop here (resume later)".len());
        assert_eq!(
            fitted,
            "Next: step 1/3, partition 3 -> 2, updates web-2 (first stages the new template\nwith partition 3)"
        );
        for line in fitted.lines() {
            assert!(line.len() + 2 <= 80, "{line}");
        }
        // The last line leaves room for the answer: here it needs a line of its own.
        let tight = fit_question(question, Some(80), 70);
        let last = tight.lines().last().unwrap();
        assert!(last.len() + 70 <= 78, "{tight}");
        assert_eq!(tight.replace('\n', " "), question, "the same words");
    }
}

#[cfg(test)]
mod repaint_tests {
    use super::repaint;

    #[test]
    fn an_unchanged_frame_only_moves_the_cursor_below_it() {
        assert_eq!(repaint("a\nb\n", "a\nb\n", 24, 80).unwrap(), "\x1b[3;1H\x1b[J");
    }

    #[test]
    fn only_changed_lines_are_written() {
        let out =
            repaint("NAME READY\nweb-0 true\nweb-1 false\n", "NAME READY\nweb-0 true\nweb-1 true\n", 24, 80);
        assert_eq!(out.unwrap(), "\x1b[3;1H\x1b[2K\x1b[3;1Hweb-1 true\x1b[4;1H\x1b[J");
    }

    #[test]
    fn what_the_new_frame_lacks_is_cleared() {
        assert_eq!(repaint("a\nb\nc\n", "a\n", 24, 80).unwrap(), "\x1b[2;1H\x1b[J");
    }

    #[test]
    fn a_line_that_wraps_onto_fewer_rows_moves_the_lines_below_it() {
        // Width 4: "xxxxxx" takes rows 1-2, so "b" is on row 3; then "xx" takes one row.
        let out = repaint("xxxxxx\nb\n", "xx\nb\n", 24, 4).unwrap();
        assert_eq!(out, "\x1b[1;1H\x1b[2K\x1b[1;1Hxx\x1b[2;1H\x1b[2K\x1b[2;1Hb\x1b[3;1H\x1b[J");
    }

    #[test]
    fn every_row_of_a_changed_wrapped_line_is_cleared_first() {
        let out = repaint("a\nxxxxxx\n", "a\nyyyyy\n", 24, 4).unwrap();
        assert_eq!(out, "\x1b[2;1H\x1b[2K\x1b[3;1H\x1b[2K\x1b[2;1Hyyyyy\x1b[4;1H\x1b[J");
    }

    #[test]
    fn colour_codes_do_not_count_towards_the_width() {
        let coloured = format!("{}\n", "\x1b[31mx\x1b[0m".repeat(10));
        let out = repaint(&coloured, &coloured, 3, 10).unwrap();
        assert_eq!(out, "\x1b[2;1H\x1b[J");
    }

    #[test]
    fn a_frame_taller_than_the_screen_is_drawn_whole() {
        let tall = "x\n".repeat(24);
        assert_eq!(repaint("a\n", &tall, 24, 80), None);
        assert_eq!(repaint(&tall, "a\n", 24, 80), None);
        // 30 rows once its 100-column line wraps onto two.
        let wrapped = format!("{}\n{}", "x".repeat(100), "y\n".repeat(22));
        assert_eq!(repaint("a\n", &wrapped, 24, 80), None);
    }
}
