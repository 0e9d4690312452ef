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
        let prompt = self.fit(question, CONFIRM_ROOM, "Go ahead?")?;
        dialoguer::Confirm::with_theme(&*self.theme())
            .with_prompt(prompt)
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
        let typed = format!("Type {expected} to confirm");
        let whole = format!("{question} {typed}");
        // Room for the theme's marks and for the name as it is typed.
        let room = TYPED_ROOM + console::measure_text_width(expected);
        let prompt = if prompt_fits(&whole, room, self.prompt_width()) {
            whole
        } else {
            // The question whole above, the line to type at alone.
            let (above, _) = fit_prompt(question, usize::MAX, self.prompt_width(), "");
            write_above(&above)?;
            typed
        };
        let answer: String = dialoguer::Input::with_theme(&*self.theme())
            .with_prompt(prompt)
            .allow_empty(true)
            .interact_text()
            .map_err(prompt_error)?;
        Ok(answer.trim() == expected)
    }

    /// One of `choices`; returns its index.
    pub fn choose(&self, question: &str, choices: &[&str]) -> Result<usize> {
        let prompt = self.fit(question, CHOOSE_ROOM, "Which way?")?;
        dialoguer::Select::with_theme(&*self.theme())
            .with_prompt(prompt)
            .items(choices)
            .default(0)
            .interact()
            .map_err(prompt_error)
    }

    /// The width prompts fit: stderr's terminal, 80 columns when it has none.
    fn prompt_width(&self) -> usize {
        // A terminal that reports 0 columns (some CI ptys) has no width to fit: 80 is assumed.
        console::Term::stderr()
            .size_checked()
            .map(|(_, columns)| usize::from(columns))
            .filter(|c| *c > 0)
            .unwrap_or(80)
    }

    /// Writes what of `question` does not fit one prompt line above it on stderr and returns
    /// the line to ask (see [`fit_prompt`]).
    fn fit(&self, question: &str, room: usize, fallback: &str) -> Result<String> {
        let (above, prompt) = fit_prompt(question, room, self.prompt_width(), fallback);
        write_above(&above)?;
        Ok(prompt)
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

/// Columns a prompt's theme adds around the question: `? `, ` (y/n) › no` (colourful) or
/// ` [y/n] ` (plain), for a yes/no question.
const CONFIRM_ROOM: usize = 14;
/// Likewise for a choice: `? ` and ` ›`.
const CHOOSE_ROOM: usize = 4;
/// Likewise for a typed confirmation, before the name typed: `? ` and ` › `.
const TYPED_ROOM: usize = 5;

/// Whether `question` and `room` columns of the theme's marks fit one line of `width` columns,
/// the last column left free (the cursor there would wrap).
fn prompt_fits(question: &str, room: usize, width: usize) -> bool {
    console::measure_text_width(question).saturating_add(room) < width
}

/// A prompt that fits one line of a `width`-column terminal: dialoguer redraws (and erases) a
/// prompt as one line, so a longer one leaves stale copies of its first rows on the screen.
/// Returns the lines to write above the prompt and the prompt. A question that fits stays
/// whole; otherwise, when its last sentence is a question that fits, what comes before it goes
/// above (wrapped), or when its first sentence is one, what comes after it; otherwise the whole
/// text goes above and `fallback` is asked.
pub fn fit_prompt(question: &str, room: usize, width: usize, fallback: &str) -> (Vec<String>, String) {
    if prompt_fits(question, room, width) {
        return (Vec::new(), question.to_owned());
    }
    let wrap = |text: &str| -> Vec<String> {
        let options = textwrap::Options::new(width.saturating_sub(1).max(20))
            .break_words(false)
            .word_separator(textwrap::WordSeparator::AsciiSpace)
            .word_splitter(textwrap::WordSplitter::NoHyphenation);
        textwrap::wrap(text, options).into_iter().map(|line| line.trim_end().to_owned()).collect()
    };
    // The last sentence: after the last ". ", "? " or "; " (an ellipsis or a number's dot
    // inside a word is not followed by a space).
    let last = [". ", "? ", "; "].iter().filter_map(|end| question.rfind(end).map(|at| at + end.len())).max();
    if let Some(at) = last {
        let (head, tail) = question.split_at(at);
        if tail.ends_with('?') && prompt_fits(tail, room, width) {
            return (wrap(head.trim_end()), tail.to_owned());
        }
    }
    // A question first and its details after it ("Remove it? web keeps …"): the details above.
    if let Some(at) = question.find("? ").map(|at| at + 1) {
        let (head, tail) = question.split_at(at);
        if prompt_fits(head, room, width) {
            return (wrap(tail.trim_start()), head.to_owned());
        }
    }
    (wrap(question), fallback.to_owned())
}

/// Writes the lines [`fit_prompt`] put above a prompt, on stderr.
fn write_above(lines: &[String]) -> Result<()> {
    let term = console::Term::stderr();
    for line in lines {
        term.write_line(line).map_err(Error::Output)?;
    }
    Ok(())
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

#[cfg(test)]
mod prompt_tests {
    use super::{CHOOSE_ROOM, CONFIRM_ROOM, TYPED_ROOM, fit_prompt, prompt_fits};

    /// The prompts the commands ask, as they are worded (long names where names vary).
    const QUESTIONS: [(&str, usize, &str); 6] = [
        ("Roll web back to revision web-5bcd7596f?", CONFIRM_ROOM, "Go ahead?"),
        (
            "Next: step 1/3, partition 4 -> 3, updates web-3 (first stages the new template with partition 4)",
            CHOOSE_ROOM,
            "Which way?",
        ),
        (
            "postgres-1, postgres-2 stuck not Ready on a revision the rollout no longer runs; the controller \
             will not replace them (OrderedReady). Delete them, so that them come back on the update revision?",
            CONFIRM_ROOM,
            "Go ahead?",
        ),
        (
            "Restart postgres-0, postgres-1, postgres-2, postgres-3 one at a time, each waited for until Ready?",
            CONFIRM_ROOM,
            "Go ahead?",
        ),
        ("Remove it? web keeps its template, partition and pods as they are now.", CONFIRM_ROOM, "Go ahead?"),
        (
            "Delete 4 PVC(s) of docs-status/postgres (data-postgres-3, wal-postgres-3, data-postgres-4, \
             wal-postgres-4)?",
            TYPED_ROOM + 8,
            "Type postgres to confirm",
        ),
    ];

    /// What a person sees: the lines above, then the prompt with `▮` for the theme's marks.
    fn screen(width: usize) -> String {
        let mut out = String::new();
        for (question, room, fallback) in QUESTIONS {
            let (above, prompt) = fit_prompt(question, room, width, fallback);
            for line in &above {
                assert!(console::measure_text_width(line) < width, "{line:?} is wider than {width}");
                out.push_str(&format!("{line}\n"));
            }
            assert!(prompt_fits(&prompt, room, width), "{prompt:?} does not fit {width}");
            out.push_str(&format!("? {prompt}{}\n---\n", "▮".repeat(room - 2)));
        }
        out
    }

    #[test]
    fn prompts_at_80_columns() {
        insta::assert_snapshot!("prompts_80", screen(80));
    }

    #[test]
    fn prompts_at_120_columns() {
        insta::assert_snapshot!("prompts_120", screen(120));
    }

    #[test]
    fn a_question_that_fits_is_asked_whole() {
        assert_eq!(
            fit_prompt("Scale web from 3 to 5?", CONFIRM_ROOM, 80, "Go ahead?"),
            (vec![], "Scale web from 3 to 5?".to_owned())
        );
    }
}
