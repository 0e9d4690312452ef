//! `status --watch` on a terminal: the full-screen view, a pure function of the status model and
//! of the view's own state (wide or not, the row filter, when the last change arrived) onto a
//! ratatui frame, and the keys that change that state. The terminal itself is
//! [`crate::screen`]'s; off a terminal `--watch` keeps its plain stream.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use k8s_openapi::jiff::Timestamp;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

use crate::core::status::{OrdinalStatus, StatefulSetStatus};
use crate::output::Canvas;

/// What the person watching chose: wide columns, a row filter (being typed or kept), and when
/// the model last changed (the time the header shows).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewState {
    pub wide: bool,
    pub filter: String,
    /// `/` was pressed: keys go to the filter until Enter or Esc.
    pub typing: bool,
    pub last_event: Timestamp,
}

impl ViewState {
    pub fn new(last_event: Timestamp) -> ViewState {
        ViewState { wide: false, filter: String::new(), typing: false, last_event }
    }
}

/// What a key asks of the loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    /// `q`, Esc or Ctrl-C: a chosen quit (exit 0).
    Quit,
    /// The state changed: draw again.
    Redraw,
    Ignored,
}

/// Applies one key to the view's state: `q`, Esc and Ctrl-C quit; `w` toggles wide; `/` starts a
/// filter, typed until Enter (kept) or Esc (cleared).
pub fn on_key(state: &mut ViewState, key: KeyEvent) -> Key {
    if key.kind == KeyEventKind::Release {
        return Key::Ignored;
    }
    if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
        return Key::Quit;
    }
    if state.typing {
        match key.code {
            KeyCode::Enter => state.typing = false,
            KeyCode::Esc => {
                state.typing = false;
                state.filter.clear();
            }
            KeyCode::Backspace => {
                state.filter.pop();
            }
            KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => state.filter.push(c),
            _ => return Key::Ignored,
        }
        return Key::Redraw;
    }
    match key.code {
        KeyCode::Char('q') | KeyCode::Esc => Key::Quit,
        KeyCode::Char('w') => {
            state.wide = !state.wide;
            Key::Redraw
        }
        KeyCode::Char('/') => {
            state.typing = true;
            Key::Redraw
        }
        _ => Key::Ignored,
    }
}

/// Whether an ordinal's row matches `filter`: its ordinal, pod or node contains it (ignoring
/// case); every row matches an empty filter.
fn matches(o: &OrdinalStatus, filter: &str) -> bool {
    let filter = filter.trim().to_lowercase();
    if filter.is_empty() {
        return true;
    }
    let pod = o.pod.as_ref();
    [Some(o.ordinal.to_string()), pod.map(|p| p.name.clone()), pod.and_then(|p| p.node.clone())]
        .into_iter()
        .flatten()
        .any(|text| text.to_lowercase().contains(&filter))
}

/// Draws the view of `model` on the whole frame: two header lines (the set and its counts; the
/// time of the last change and the keys), the per-ordinal table fitted to the width as `status`
/// fits it, and a pane of warnings grouped by code. `color` is false under NO_COLOR.
///
/// `whole` is the command that prints every warning (`kubectl stateful status web -n shop` with
/// the run's flags): the pane names it when it has no room for them all.
pub fn draw(
    frame: &mut Frame,
    model: &StatefulSetStatus,
    state: &ViewState,
    color: bool,
    now: Timestamp,
    whole: &str,
) {
    let area = frame.area();
    let [header, body] = Layout::vertical([Constraint::Length(2), Constraint::Min(0)]).areas(area);
    frame.render_widget(Paragraph::new(header_lines(model, state, color)), header);

    let mut shown = model.clone();
    shown.ordinals.retain(|o| matches(o, &state.filter));
    let table = table_lines(&shown, state.wide, usize::from(area.width), now);
    let pane = pane_lines(model, usize::from(area.width));
    let need_table = table.len().max(1);
    let need_pane = pane.len().max(1) + 1;
    let avail = usize::from(body.height);
    let table_height = need_table.min((avail / 2).max(avail.saturating_sub(need_pane)));
    let [table_area, pane_area] = Layout::vertical([
        Constraint::Length(u16::try_from(table_height).unwrap_or(u16::MAX)),
        Constraint::Min(0),
    ])
    .areas(body);
    draw_table(frame, table_area, &shown, model.ordinals.len(), table, state, color);
    draw_pane(frame, pane_area, model, pane, color, whole);
}

fn header_lines(model: &StatefulSetStatus, state: &ViewState, color: bool) -> Vec<Line<'static>> {
    let r = &model.replicas;
    let bold = Style::default().add_modifier(Modifier::BOLD);
    let mut first = vec![
        Span::styled(format!("StatefulSet {}/{}", model.namespace, model.name), bold),
        Span::raw(format!("  {}/{} ready, {} updated", r.ready, r.desired, r.updated)),
    ];
    if model.deletion.is_some() {
        first.push(Span::styled("  being deleted", paint(color, Color::Red)));
    }
    let second = if state.typing {
        vec![
            Span::styled(format!("filter: {}", state.filter), bold),
            Span::styled("▏", bold),
            Span::raw("  Enter keeps · Esc clears"),
        ]
    } else {
        let mut spans = vec![
            Span::raw(format!("last event {} UTC", state.last_event.strftime("%H:%M:%S"))),
            Span::raw(" · "),
            Span::styled("q quits", bold),
            Span::raw(format!(" · w {} · / filter", if state.wide { "narrow" } else { "wide" })),
        ];
        if !state.filter.trim().is_empty() {
            spans.push(Span::styled(format!(" · filter \"{}\"", state.filter.trim()), bold));
        }
        spans
    };
    vec![Line::from(first), Line::from(second)]
}

/// The ordinal table as `status` writes it (`write_ordinals`), fitted to `width`: wide or not,
/// it is cut to the screen the same way, never drawn past its edge.
fn table_lines(shown: &StatefulSetStatus, wide: bool, width: usize, now: Timestamp) -> Vec<String> {
    let mut out = Vec::new();
    let canvas = Canvas { color: false, width: Some(width) };
    // Writing to a Vec cannot fail.
    let _ = super::write_ordinals(&mut out, shown, wide, canvas, now);
    String::from_utf8_lossy(&out).lines().map(str::to_owned).collect()
}

fn draw_table(
    frame: &mut Frame,
    area: Rect,
    shown: &StatefulSetStatus,
    all: usize,
    table: Vec<String>,
    state: &ViewState,
    color: bool,
) {
    if shown.ordinals.is_empty() {
        let text = if all == 0 {
            "no ordinals (0 replicas)".to_owned()
        } else {
            format!("no ordinal, pod or node matches \"{}\" (/ then Esc clears)", state.filter.trim())
        };
        frame.render_widget(Paragraph::new(text), area);
        return;
    }
    let rows = usize::from(area.height);
    let mut lines: Vec<Line> = Vec::new();
    // One line per row: the header, then the ordinals in order.
    let one_per_row = table.len() == shown.ordinals.len() + 1;
    for (i, text) in table.iter().enumerate() {
        let style = if i == 0 {
            Style::default().add_modifier(Modifier::BOLD)
        } else if one_per_row {
            let o = &shown.ordinals[i - 1];
            match &o.pod {
                None => paint(color, Color::Red),
                Some(p) if !p.ready => paint(color, Color::Red),
                Some(p) if !p.available => paint(color, Color::Yellow),
                Some(_) => Style::default(),
            }
        } else {
            Style::default()
        };
        lines.push(Line::styled(text.clone(), style));
    }
    if lines.len() > rows && rows > 1 {
        let hidden = lines.len() - (rows - 1);
        lines.truncate(rows - 1);
        lines.push(Line::styled(
            format!("… {hidden} more rows (/ filters)"),
            Style::default().add_modifier(Modifier::DIM),
        ));
    }
    frame.render_widget(Paragraph::new(lines), area);
}

/// The warnings as `status` groups them ([`super::grouped_warnings`]: one line per code, the
/// affected objects joined and a shared remedy said once) and the notes on what could not be
/// read, wrapped to `width`. A word longer than the width (a printed command kept whole) is cut
/// into pieces of the width with nothing added between them, so no character is lost at the
/// screen's edge and the pieces, copied, are the command.
fn pane_lines(model: &StatefulSetStatus, width: usize) -> Vec<String> {
    let width = width.max(20);
    let canvas = Canvas { color: false, width: Some(width) };
    let mut lines = Vec::new();
    let wrap = |lines: &mut Vec<String>, lead: &str, indent: &str, text: &str| {
        let mut out = Vec::new();
        // Writing to a Vec cannot fail.
        let _ = canvas.write_wrapped(&mut out, lead, indent, text);
        for line in String::from_utf8_lossy(&out).lines() {
            lines.extend(hard_wrapped(line, width));
        }
    };
    let messages: Vec<(String, &str)> =
        model.warnings.iter().map(|w| (format!("{:?}", w.code), w.message.as_str())).collect();
    for (lead, text) in super::grouped_warnings(&messages) {
        // The text renderer's leads are indented under its `Warnings:` heading; the pane is
        // its own heading.
        let lead = lead.strip_prefix("  ").unwrap_or(&lead);
        if text.is_empty() {
            lines.extend(hard_wrapped(lead, width));
        } else {
            wrap(&mut lines, lead, "  ", &text);
        }
    }
    for note in &model.notes {
        wrap(&mut lines, "note: ", "  ", note);
    }
    lines
}

/// `line` cut into pieces of at most `width` characters.
fn hard_wrapped(line: &str, width: usize) -> Vec<String> {
    let chars: Vec<char> = line.chars().collect();
    if chars.len() <= width {
        return vec![line.to_owned()];
    }
    chars.chunks(width.max(1)).map(|piece| piece.iter().collect()).collect()
}

fn draw_pane(
    frame: &mut Frame,
    area: Rect,
    model: &StatefulSetStatus,
    lines: Vec<String>,
    color: bool,
    whole: &str,
) {
    let title = match model.warnings.len() {
        0 => " No warnings ".to_owned(),
        n => format!(" Warnings ({n}) "),
    };
    let title_style = if model.warnings.is_empty() { Style::default() } else { paint(color, Color::Yellow) };
    let block = Block::default().borders(Borders::TOP).title(Span::styled(title, title_style));
    let inner = usize::from(block.inner(area).height);
    let width = usize::from(area.width).max(1);
    let mut shown: Vec<Line> = lines.into_iter().map(Line::from).collect();
    if shown.len() > inner && inner > 0 {
        // What is left out is named with the whole command that prints it, on as many lines
        // as it takes (pieces of the width, nothing added between them).
        let more = |hidden: usize| {
            let mut out = Vec::new();
            let canvas = Canvas { color: false, width: Some(width) };
            // Writing to a Vec cannot fail.
            let _ = canvas.write_wrapped(
                &mut out,
                "",
                "",
                &format!("… {hidden} more lines: `{whole}` shows them all"),
            );
            String::from_utf8_lossy(&out)
                .lines()
                .flat_map(|line| hard_wrapped(line, width))
                .collect::<Vec<_>>()
        };
        let mut room = inner.saturating_sub(more(shown.len()).len());
        let mut tail = more(shown.len() - room);
        // The count can grow a digit and the tail a line.
        if room + tail.len() > inner {
            room = inner.saturating_sub(tail.len());
            tail = more(shown.len() - room);
        }
        shown.truncate(room);
        let dim = Style::default().add_modifier(Modifier::DIM);
        shown.extend(tail.into_iter().map(|t| Line::styled(t, dim)));
        shown.truncate(inner);
    }
    frame.render_widget(Paragraph::new(shown).block(block), area);
}

/// A colour, or no style under NO_COLOR.
fn paint(color: bool, colour: Color) -> Style {
    if color { Style::default().fg(colour) } else { Style::default() }
}

#[cfg(test)]
mod tests {
    use crossterm::event::{KeyEvent, KeyModifiers};
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;

    use super::*;

    /// The fixture's clock: when its model was built.
    fn now() -> Timestamp {
        Timestamp::from_second(crate::core::fixtures::created().as_second() + 3_700).unwrap()
    }

    /// The screen as text, a line per row, trailing blanks cut.
    fn screen(width: u16, height: u16, state: &ViewState) -> String {
        let model = super::super::tests::model();
        let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
        terminal.draw(|frame| draw(frame, &model, state, false, now(), WHOLE)).unwrap();
        let buffer = terminal.backend().buffer();
        let mut text = String::new();
        for y in 0..height {
            let row: String = (0..width).map(|x| buffer[(x, y)].symbol()).collect();
            text.push_str(row.trim_end());
            text.push('\n');
        }
        text
    }

    /// The command the overflow line names.
    const WHOLE: &str = "kubectl stateful status web -n shop --context prod";

    fn state() -> ViewState {
        ViewState::new(now())
    }

    #[test]
    fn the_view_at_80x24() {
        insta::assert_snapshot!(screen(80, 24, &state()));
    }

    #[test]
    fn the_view_at_120x40() {
        insta::assert_snapshot!(screen(120, 40, &state()));
    }

    #[test]
    fn the_wide_view_at_120x40_is_cut_to_the_screen() {
        let wide = ViewState { wide: true, ..state() };
        let text = screen(120, 40, &wide);
        assert!(text.lines().all(|l| l.chars().count() <= 120));
        assert!(text.contains("IMAGES") && text.contains("w narrow"), "{text}");
        insta::assert_snapshot!(text);
    }

    #[test]
    fn a_filter_being_typed_at_80x24() {
        let typing = ViewState { filter: "web-2".into(), typing: true, ..state() };
        insta::assert_snapshot!(screen(80, 24, &typing));
    }

    #[test]
    fn a_kept_filter_shows_the_matching_rows_only() {
        let node = ViewState { filter: "NODE-1".into(), ..state() };
        let text = screen(80, 24, &node);
        assert!(text.contains("filter \"NODE-1\""), "{text}");
        // The table's rows: the lines between its header and the warnings pane.
        let rows: Vec<&str> = text
            .lines()
            .skip_while(|l| !l.starts_with("ORDINAL"))
            .skip(1)
            .take_while(|l| !l.contains("Warnings"))
            .collect();
        assert_eq!(rows.len(), 1, "{text}");
        assert!(rows[0].starts_with("1        web-1"), "{text}");
        let none = ViewState { filter: "nothing".into(), ..state() };
        assert!(screen(80, 24, &none).contains("no ordinal, pod or node matches \"nothing\""));
    }

    /// The pane's lines, a line cut at the screen's edge joined to the next with nothing
    /// between them (as its pieces are meant to be read), the others with a space.
    fn pane_text(screen: &str, width: usize) -> String {
        let mut text = String::new();
        for line in screen.lines().skip_while(|l| !l.contains("Warnings (")).skip(1) {
            text.push_str(line.trim_start());
            if line.chars().count() < width {
                text.push(' ');
            }
        }
        text
    }

    #[test]
    fn the_pane_cuts_no_printed_command_at_the_edge() {
        // Tall enough for every warning: each printed command is there whole.
        let text = screen(80, 60, &state());
        assert!(text.lines().all(|l| l.chars().count() <= 80), "{text}");
        let pane = pane_text(&text, 80);
        let patch =
            r#"`kubectl patch service web -n default -p '{"spec":{"publishNotReadyAddresses":true}}'`"#;
        assert!(pane.contains(patch), "{pane}");
        assert!(!text.contains("more lines"), "{text}");
    }

    #[test]
    fn a_full_pane_names_the_whole_command_that_shows_the_rest() {
        let text = screen(80, 24, &state());
        assert_eq!(text.lines().count(), 24);
        let pane = pane_text(&text, 80);
        assert!(pane.contains(&format!("more lines: `{WHOLE}` shows them")), "{pane}");
        // At 40 columns the command takes two lines and still fits.
        let narrow = screen(40, 16, &state());
        assert!(narrow.lines().all(|l| l.chars().count() <= 40), "{narrow}");
        assert!(pane_text(&narrow, 40).contains(&format!("`{WHOLE}` shows them")), "{narrow}");
    }

    #[test]
    fn a_tiny_terminal_draws_without_panicking() {
        for (w, h) in [(1, 1), (20, 3), (40, 6), (80, 5)] {
            let text = screen(w, h, &state());
            assert_eq!(text.lines().count(), usize::from(h));
        }
    }

    #[test]
    fn keys() {
        let key = |code| KeyEvent::new(code, KeyModifiers::NONE);
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        let mut s = state();
        assert_eq!(on_key(&mut s, key(KeyCode::Char('x'))), Key::Ignored);
        assert_eq!(on_key(&mut s, key(KeyCode::Char('w'))), Key::Redraw);
        assert!(s.wide);
        assert_eq!(on_key(&mut s, key(KeyCode::Char('/'))), Key::Redraw);
        // While typing, q and w are text; Esc clears and ends the filter, Enter keeps it.
        for c in ['q', 'w', '1'] {
            assert_eq!(on_key(&mut s, key(KeyCode::Char(c))), Key::Redraw);
        }
        assert_eq!(on_key(&mut s, key(KeyCode::Backspace)), Key::Redraw);
        assert_eq!((s.filter.as_str(), s.typing, s.wide), ("qw", true, true));
        assert_eq!(on_key(&mut s, key(KeyCode::Esc)), Key::Redraw);
        assert_eq!((s.filter.as_str(), s.typing), ("", false));
        on_key(&mut s, key(KeyCode::Char('/')));
        on_key(&mut s, key(KeyCode::Char('2')));
        assert_eq!(on_key(&mut s, key(KeyCode::Enter)), Key::Redraw);
        assert_eq!((s.filter.as_str(), s.typing), ("2", false));
        for quit in [key(KeyCode::Char('q')), key(KeyCode::Esc), ctrl_c] {
            assert_eq!(on_key(&mut state(), quit), Key::Quit);
        }
        // Ctrl-C quits even while typing.
        let mut typing = ViewState { typing: true, ..state() };
        assert_eq!(on_key(&mut typing, ctrl_c), Key::Quit);
    }
}
