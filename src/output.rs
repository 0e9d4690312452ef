//! Output shared by every command: the streams a command writes to, the `-o` formats, and the
//! envelope of machine-readable documents. stdout carries data only; everything for people
//! (progress, warnings, prompts, errors) goes to stderr. Renderers write to any `Write`, so
//! tests capture them exactly.

use std::fmt::Display;
use std::io::{self, Write};
use std::sync::{Arc, Mutex};

use comfy_table::{
    CellAlignment, ColumnConstraint, ContentArrangement, Table, Width as ColumnWidth, presets,
};
use serde::Serialize;

use crate::core::jsonpath::Template;

use crate::error::{Error, Result};

/// Where a command writes (argo-rollouts' `IOStreams`): `out` is the data stream (stdout),
/// `err` the stream for people (stderr). The process streams in `main`; buffers in tests.
pub struct Streams {
    pub out: Box<dyn Write>,
    err: ErrStream,
}

impl Streams {
    pub fn process() -> Streams {
        Streams { out: Box::new(io::stdout()), err: ErrStream::new(io::stderr()) }
    }

    /// Streams that write into buffers, for tests: (streams, stdout, stderr).
    pub fn captured() -> (Streams, Captured, Captured) {
        let (out, err) = (Captured::default(), Captured::default());
        (Streams { out: Box::new(out.clone()), err: ErrStream::new(err.clone()) }, out, err)
    }

    /// The stream for people, as a handle that writes there while the command holds these
    /// streams (the progress of a wait, `progress::Progress`).
    pub fn err_stream(&self) -> ErrStream {
        self.err.clone()
    }

    /// One line for people on stderr. A closed or failing stderr is ignored: there is nowhere
    /// left to report it, and a run must neither panic nor stop halfway because of it.
    pub fn say(&mut self, line: impl Display) {
        self.err.line(line);
    }

    pub fn warn(&mut self, line: impl Display) {
        self.say(format_args!("warning: {line}"));
    }

    pub fn note(&mut self, line: impl Display) {
        self.say(format_args!("note: {line}"));
    }
}

/// The stream for people of a run's [`Streams`], shared: what holds a handle writes lines to
/// the same stream (the process's stderr, or a test's buffer) as [`Streams::say`].
#[derive(Clone)]
pub struct ErrStream(Arc<Mutex<Box<dyn Write + Send>>>);

impl ErrStream {
    fn new(stream: impl Write + Send + 'static) -> ErrStream {
        ErrStream(Arc::new(Mutex::new(Box::new(stream))))
    }

    /// One line, as [`Streams::say`]: a failing stream is ignored.
    pub fn line(&self, line: impl Display) {
        if let Ok(mut err) = self.0.lock() {
            let _ = writeln!(err, "{line}");
            let _ = err.flush();
        }
    }
}

/// A line on the process's stderr from where no [`Streams`] reaches (the `-v=6` request log,
/// which runs inside the HTTP client); a failing stderr is ignored, as in [`Streams::say`].
pub fn log_line(line: impl Display) {
    let _ = writeln!(io::stderr().lock(), "{line}");
}

/// A shared in-memory stream, for tests.
#[derive(Clone, Default)]
pub struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    pub fn text(&self) -> String {
        let bytes = self.0.lock().map(|b| b.clone()).unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().map_err(|_| io::Error::other("poisoned"))?.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// Human-readable table
    #[default]
    Table,
    /// Table with more columns
    Wide,
    /// JSON, schema in docs/
    Json,
    /// YAML, same schema as JSON
    Yaml,
    /// One stable DNS name per line, for scripts (`status NAME` only). Not among the values
    /// clap offers by default: the commands that take it parse `-o` with
    /// [`OutputFormat::with_dns`], so the others reject it as an invalid value.
    #[value(skip)]
    Dns,
    /// kubectl's `-o name`: `statefulset.apps/NAME`, one a line (`status` only, parsed by
    /// [`OutputFormat::for_status`]).
    #[value(skip)]
    Name,
    /// kubectl's `-o jsonpath=TEMPLATE` over the JSON document (`status` only): the template as
    /// given, checked by `core::jsonpath::Template::parse` when the command line was read. Kept for the
    /// process's life so the format stays `Copy`.
    #[value(skip)]
    Jsonpath(&'static str),
}

impl OutputFormat {
    /// Output for programs: JSON, YAML and `dns` lines carry no notes for people and never prompt.
    pub fn is_machine(self) -> bool {
        matches!(
            self,
            OutputFormat::Json
                | OutputFormat::Yaml
                | OutputFormat::Dns
                | OutputFormat::Name
                | OutputFormat::Jsonpath(_)
        )
    }

    /// The parser of `status`'s `-o`: [`OutputFormat::with_dns`]'s values, then kubectl's
    /// `name` and `jsonpath=TEMPLATE` (a template that does not parse is a usage error).
    pub fn for_status() -> StatusFormatParser {
        StatusFormatParser
    }

    /// The parser of `-o` for a command that also prints `dns`: every format, then `dns`, each
    /// with its help, so `--help`, the usage error for a bad value and completion list it.
    pub fn with_dns() -> impl clap::builder::TypedValueParser<Value = OutputFormat> {
        use clap::ValueEnum;
        use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
        let values = OutputFormat::value_variants()
            .iter()
            .filter_map(ValueEnum::to_possible_value)
            .chain([PossibleValue::new("dns").help("One stable DNS name per line (needs NAME)")]);
        PossibleValuesParser::new(values).map(|value| match value.as_str() {
            "dns" => OutputFormat::Dns,
            // Only the values above get here, and each of them is a variant's name.
            other => OutputFormat::from_str(other, false).unwrap_or_default(),
        })
    }
}

/// See [`OutputFormat::for_status`].
#[derive(Debug, Clone, Copy)]
pub struct StatusFormatParser;

impl clap::builder::TypedValueParser for StatusFormatParser {
    type Value = OutputFormat;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<OutputFormat, clap::Error> {
        use clap::error::ErrorKind;
        match value.to_str() {
            Some("name") => Ok(OutputFormat::Name),
            Some("jsonpath") => Err(clap::Error::raw(
                ErrorKind::InvalidValue,
                "-o jsonpath needs a template: -o jsonpath='{.name}'\n",
            )),
            Some(text) if text.starts_with("jsonpath=") => {
                let template = &text["jsonpath=".len()..];
                match Template::parse(template) {
                    Ok(_) => Ok(OutputFormat::Jsonpath(Box::leak(template.to_owned().into_boxed_str()))),
                    Err(e) => Err(clap::Error::raw(ErrorKind::InvalidValue, format!("-o jsonpath: {e}\n"))),
                }
            }
            _ => OutputFormat::with_dns().parse_ref(cmd, arg, value),
        }
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = clap::builder::PossibleValue> + '_>> {
        use clap::builder::PossibleValue;
        let values: Vec<PossibleValue> = OutputFormat::with_dns()
            .possible_values()
            .into_iter()
            .flatten()
            .chain([
                PossibleValue::new("name").help("statefulset.apps/NAME, one a line, as kubectl's -o name"),
                PossibleValue::new("jsonpath=TEMPLATE")
                    .help("kubectl's JSONPath template over the JSON document, e.g. '{.items[*].name}'"),
            ])
            .collect();
        Some(Box::new(values.into_iter()))
    }
}

/// The kind of a machine-readable document and the version of its schema (docs/ has each
/// schema). Changing a field is a schema change: bump the version and say so in the docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kind {
    pub name: &'static str,
    pub version: &'static str,
}

pub const STATUS: Kind = Kind { name: "StatefulSetStatus", version: "v5" };
pub const STATUS_LIST: Kind = Kind { name: "StatefulSetStatusList", version: "v5" };
pub const FLEET_STATUS: Kind = Kind { name: "FleetStatus", version: "v4" };
pub const FLEET_PRUNE_PLAN: Kind = Kind { name: "FleetPrunePlan", version: "v2" };
pub const PRUNE_PLAN: Kind = Kind { name: "PrunePlan", version: "v2" };
pub const PRUNE_RESULT: Kind = Kind { name: "PruneResult", version: "v1" };
pub const RECOVERY: Kind = Kind { name: "Recovery", version: "v2" };
pub const VERSION: Kind = Kind { name: "Version", version: "v1" };
pub const ROLLOUT_EVENT: Kind = Kind { name: "RolloutEvent", version: "v3" };
pub const RESIZE_PLAN: Kind = Kind { name: "ResizePlan", version: "v2" };
pub const PVC_RESTORE: Kind = Kind { name: "PvcRestore", version: "v3" };
pub const RESIZE_EVENT: Kind = Kind { name: "ResizeEvent", version: "v3" };
pub const RESTART_EVENT: Kind = Kind { name: "RestartEvent", version: "v2" };
pub const DRAIN_EVENT: Kind = Kind { name: "DrainEvent", version: "v3" };
pub const SCALE_EVENT: Kind = Kind { name: "ScaleEvent", version: "v2" };

/// A document as printed: `kind` and `schemaVersion` first, then the body's own fields (the
/// way Kubernetes' TypeMeta heads every object).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Document<'a, T: Serialize> {
    pub kind: &'static str,
    pub schema_version: &'static str,
    #[serde(flatten)]
    pub body: &'a T,
}

impl<'a, T: Serialize> Document<'a, T> {
    pub fn new(kind: Kind, body: &'a T) -> Self {
        Document { kind: kind.name, schema_version: kind.version, body }
    }
}

/// A document's body with the answers of a `--dry-run=server` run (`serverDryRun`: a list of
/// `{step, write, answer[, reason | dependsOn]}`), present only in such a run.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WithServerDryRun<'a, T: Serialize> {
    #[serde(flatten)]
    pub body: &'a T,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_dry_run: Option<&'a crate::write::ServerDryRun>,
}

pub fn write_json(w: &mut dyn Write, value: &impl Serialize) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *w, value)?;
    writeln!(w)
}

/// One compact JSON document per line (NDJSON), for event streams and watch snapshots.
pub fn write_json_line(w: &mut dyn Write, value: &impl Serialize) -> io::Result<()> {
    serde_json::to_writer(&mut *w, value)?;
    writeln!(w)?;
    w.flush()
}

pub fn write_yaml(w: &mut dyn Write, value: &impl Serialize) -> io::Result<()> {
    let text = serde_saphyr::to_string(value).map_err(io::Error::other)?;
    w.write_all(text.as_bytes())
}

/// Writes `kind` with `body` as JSON or YAML; false for any other format, which the caller
/// draws itself.
pub fn write_document(
    w: &mut dyn Write,
    format: OutputFormat,
    kind: Kind,
    body: &impl Serialize,
) -> io::Result<bool> {
    write_checked_document(w, format, kind, body, None)
}

/// [`write_document`], with the answers of a `--dry-run=server` run when there are some
/// (`serverDryRun`, [`WithServerDryRun`]).
pub fn write_checked_document(
    w: &mut dyn Write,
    format: OutputFormat,
    kind: Kind,
    body: &impl Serialize,
    server: Option<&crate::write::ServerDryRun>,
) -> io::Result<bool> {
    let body = WithServerDryRun { body, server_dry_run: server };
    let document = Document::new(kind, &body);
    match format {
        OutputFormat::Json => write_json(w, &document).map(|()| true),
        OutputFormat::Yaml => write_yaml(w, &document).map(|()| true),
        OutputFormat::Table
        | OutputFormat::Wide
        | OutputFormat::Dns
        | OutputFormat::Name
        | OutputFormat::Jsonpath(_) => Ok(false),
    }
}

/// The error for a failed write to stdout (a closed pipe among them, which `main` treats as
/// success).
pub fn output_error(error: io::Error) -> Error {
    Error::Output(error)
}

/// Maps a renderer's `io::Result` to the command's.
pub fn rendered<T>(result: io::Result<T>) -> Result<T> {
    result.map_err(output_error)
}

/// A kubectl-style table: upper-case headers, no borders, columns three spaces apart.
pub fn table<I, S>(headers: I) -> Table
where
    I: IntoIterator<Item = S>,
    S: Into<comfy_table::Cell>,
{
    let mut table = Table::new();
    table
        .load_style(presets::NOTHING)
        .set_content_arrangement(ContentArrangement::Disabled)
        .force_no_tty()
        .set_header(headers);
    table
}

/// Writes a table built with [`table`], with the spacing kubectl uses and no trailing blanks.
pub fn write_table(w: &mut dyn Write, table: Table) -> io::Result<()> {
    write_spaced_table(w, table, 3)
}

fn write_spaced_table(w: &mut dyn Write, mut table: Table, gap: u16) -> io::Result<()> {
    let columns = table.column_count();
    for (i, column) in table.column_iter_mut().enumerate() {
        column.set_padding((0, if i + 1 == columns { 0 } else { gap }));
        column.set_cell_alignment(CellAlignment::Left);
    }
    for line in table.lines() {
        writeln!(w, "{}", line.trim_end())?;
    }
    Ok(())
}

/// How text for people is drawn: in colour or not, and fitted to a terminal of `width` columns.
/// `width` is `None` in pipes and files, which get every character of every cell on one line
/// (scripts parse them; nothing is cut or wrapped there).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Canvas {
    pub color: bool,
    pub width: Option<usize>,
}

impl Canvas {
    /// Writes `key` and `value` as one header line, `value` starting at column `indent`; on a
    /// terminal, wrapped to its width with the continuation lines under the value.
    pub fn write_field(&self, w: &mut dyn Write, key: &str, value: &str, indent: usize) -> io::Result<()> {
        let first = format!("{:<indent$}", format!("{key}:"));
        self.write_wrapped(w, &first, &" ".repeat(indent), value)
    }

    /// Writes `text` after `first` (the line's lead, e.g. two spaces and a code), continuation
    /// lines led by `rest`; wrapped at word boundaries to the terminal's width, one line
    /// elsewhere. A word longer than the line (a URL, a command) is never broken.
    pub fn write_wrapped(&self, w: &mut dyn Write, first: &str, rest: &str, text: &str) -> io::Result<()> {
        let line = format!("{first}{text}");
        match self.width {
            Some(width) if console::measure_text_width(&line) > width => {
                let options = textwrap::Options::new(width)
                    .subsequent_indent(rest)
                    .break_words(false)
                    .word_separator(textwrap::WordSeparator::AsciiSpace)
                    .word_splitter(textwrap::WordSplitter::NoHyphenation);
                for piece in textwrap::wrap(&unbreakable_commands(&line), options) {
                    writeln!(w, "{}", piece.trim_end().replace(NO_BREAK, " "))?;
                }
                Ok(())
            }
            _ => writeln!(w, "{line}"),
        }
    }
}

/// Stands for a space that must not become a line break while wrapping.
const NO_BREAK: char = '\u{a0}';

/// `text` with the spaces inside `backquoted` spans (the commands printed as advice) made
/// unbreakable: a command cut across two lines would run as two commands when pasted. Only a
/// span that closes counts: a lone backquote in text the plugin relays (an API server's or a
/// kubelet's message) must not make the rest of the line one unbreakable word.
fn unbreakable_commands(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('`') {
        let Some(close) = rest[open + 1..].find('`') else { break };
        let span = &rest[open..=open + 1 + close];
        out.push_str(&rest[..open]);
        out.push_str(&span.replace(' ', &NO_BREAK.to_string()));
        rest = &rest[open + 2 + close..];
    }
    out.push_str(rest);
    out
}

/// Writes a table built with [`table`] fitted to `canvas`: on a terminal narrower than the
/// table, its columns first move two spaces apart instead of three, then the widest cells are
/// cut with `…` (the widest column first, never a header) so that each row stays one line;
/// kubectl's `get` lets rows wrap into each other instead. `-o wide`, JSON and pipes keep every
/// character.
pub fn write_fitted_table(w: &mut dyn Write, mut table: Table, canvas: Canvas) -> io::Result<()> {
    let Some(width) = canvas.width else { return write_table(w, table) };
    let measure = |row: &comfy_table::Row| -> Vec<usize> {
        row.cell_iter().map(|c| console::measure_text_width(&c.content())).collect()
    };
    let headers = table.header().map(measure).unwrap_or_default();
    let mut natural = headers.clone();
    for row in table.row_iter() {
        for (i, cell) in measure(row).into_iter().enumerate() {
            if let Some(n) = natural.get_mut(i) {
                *n = (*n).max(cell);
            }
        }
    }
    if spanned(&natural, 3) <= width {
        return write_table(w, table);
    }
    // Names are cut last: `node-0000…` cannot be told from its neighbours.
    let names: Vec<bool> = table
        .header()
        .map(|h| h.cell_iter().map(|c| NAME_COLUMNS.contains(&c.content().as_str())).collect())
        .unwrap_or_default();
    let floor: Vec<usize> = natural.iter().zip(&headers).map(|(&n, &h)| h.max(n.min(6))).collect();
    let names_whole: Vec<usize> =
        floor.iter().zip(&natural).zip(&names).map(|((&f, &n), &name)| if name { n } else { f }).collect();
    let widths = fitted_widths(&floor, &fitted_widths(&names_whole, &natural, width), width);
    let last = widths.len().saturating_sub(1);
    for (i, content) in widths.into_iter().enumerate() {
        if let Some(column) = table.column_mut(i) {
            // comfy-table counts the padding after every column but the last.
            let padded = u16::try_from(content + if i == last { 0 } else { 2 }).unwrap_or(u16::MAX);
            column.set_constraint(ColumnConstraint::Absolute(ColumnWidth::Fixed(padded)));
        }
    }
    table.set_content_arrangement(ContentArrangement::Dynamic).set_truncation_indicator("…");
    for row in table.row_iter_mut() {
        row.max_height(1);
    }
    write_spaced_table(w, table, 2)
}

/// How narrow the prose column of [`write_fitted_prose_table`] may get before the other columns
/// give way: three or four words a line.
const PROSE_FLOOR: usize = 20;

/// Columns of a plan that say what a confirmation does: [`write_fitted_prose_table`] keeps them
/// whole, as it keeps names.
const CONFIRMED_COLUMNS: [&str; 3] = ["VERDICT", "ACTION", "PHASE"];

/// Writes a table of `headers` and `rows` fitted to `canvas`, for a table with one column of
/// prose that a person must read whole before answering (a prune's `REASON`, a rollout step's
/// pods): on a terminal narrower than the table, the `prose` column gives way first, down to
/// `PROSE_FLOOR` (20) characters, and its cells wrap at spaces onto the lines below (a row then
/// takes several lines, aligned, its other cells on the first); if that is not enough, the other
/// columns are cut with `…` as [`write_fitted_table`] cuts them, but names and what a plan
/// confirms (`VERDICT`, `ACTION`, `PHASE`) never: a table whose names and headers are wider than
/// the terminal stays wider. The prose never gets narrower than its longest word.
/// `-o wide`, JSON and pipes keep every row on one line, as [`write_table`] writes it.
pub fn write_fitted_prose_table(
    w: &mut dyn Write,
    headers: &[&str],
    rows: Vec<Vec<String>>,
    canvas: Canvas,
    prose: &str,
) -> io::Result<()> {
    let plain = |rows: Vec<Vec<String>>| {
        let mut t = table(headers.iter().copied());
        for row in rows {
            t.add_row(row);
        }
        t
    };
    let Some(width) = canvas.width else { return write_table(w, plain(rows)) };
    let header_widths: Vec<usize> = headers.iter().map(|h| console::measure_text_width(h)).collect();
    let mut natural = header_widths.clone();
    for row in &rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(n) = natural.get_mut(i) {
                *n = (*n).max(console::measure_text_width(cell));
            }
        }
    }
    if spanned(&natural, 3) <= width {
        return write_table(w, plain(rows));
    }
    let mut widths = natural.clone();
    let prose = headers.iter().position(|h| *h == prose);
    if let Some(p) = prose {
        let others = spanned(&widths, 2) - widths[p];
        // Never narrower than its longest word: a name in the prose (a pod, a claim) wraps
        // whole, never split across lines.
        let longest_word = rows
            .iter()
            .filter_map(|row| row.get(p))
            .flat_map(|cell| cell.split(' '))
            .map(console::measure_text_width)
            .max()
            .unwrap_or(0);
        let floor = natural[p].min(PROSE_FLOOR.max(longest_word)).max(header_widths[p]);
        widths[p] = width.saturating_sub(others).clamp(floor, natural[p]);
    }
    if spanned(&widths, 2) > width {
        // The prose keeps its width; the others give way as in `write_fitted_table`, but
        // names and what the person confirms (a verdict, an action, a phase) stay whole.
        let names: Vec<bool> =
            headers.iter().map(|h| NAME_COLUMNS.contains(h) || CONFIRMED_COLUMNS.contains(h)).collect();
        let floor: Vec<usize> = widths
            .iter()
            .zip(&header_widths)
            .enumerate()
            .map(|(i, (&n, &h))| if Some(i) == prose { n } else { h.max(n.min(6)) })
            .collect();
        let names_whole: Vec<usize> =
            floor.iter().zip(&widths).zip(&names).map(|((&f, &n), &name)| if name { n } else { f }).collect();
        // Names are never cut here: the person confirms a plan by them. A table whose floors
        // are wider than the terminal stays wider.
        widths = fitted_widths(&names_whole, &widths, width);
    }
    let mut t = table(headers.iter().copied());
    for row in rows {
        t.add_row(row.into_iter().enumerate().map(|(i, cell)| match widths.get(i) {
            Some(&fits) if Some(i) != prose && console::measure_text_width(&cell) > fits => {
                console::truncate_str(&cell, fits, "…").into_owned()
            }
            _ => cell,
        }));
    }
    let last = widths.len().saturating_sub(1);
    for (i, content) in widths.into_iter().enumerate() {
        if let Some(column) = t.column_mut(i) {
            // comfy-table counts the padding after every column but the last.
            let padded = u16::try_from(content + if i == last { 0 } else { 2 }).unwrap_or(u16::MAX);
            column.set_constraint(ColumnConstraint::Absolute(ColumnWidth::Fixed(padded)));
        }
    }
    t.set_content_arrangement(ContentArrangement::Dynamic);
    write_spaced_table(w, t, 2)
}

/// The width of columns of `widths`, `gap` spaces apart.
fn spanned(widths: &[usize], gap: usize) -> usize {
    widths.iter().sum::<usize>() + gap * widths.len().saturating_sub(1)
}

/// A cell of a table [`write_fitted_table`] may cut: cut after as many characters as fit,
/// not at the last space before (comfy-table wraps at spaces, which would leave `7d4b9c (…`
/// where `7d4b9c (current…` fits).
pub fn cell(content: impl ToString) -> comfy_table::Cell {
    comfy_table::Cell::new(content).set_delimiter('\0')
}

/// The columns of names (of objects a person then types), which [`write_fitted_table`] keeps
/// whole; the others give way.
const NAME_COLUMNS: [&str; 8] = ["NAME", "NAMESPACE", "CONTEXT", "POD", "NODE", "PVC", "PV", "TEMPLATE"];

/// Columns of `natural` content widths, two spaces apart, narrowed to fit `width`: the widest
/// column gives a column at a time, down to its `floor` (its header's width, or 6 for a cell
/// that must still say something; a name's whole width). Wider than `width` when the floors are.
fn fitted_widths(floor: &[usize], natural: &[usize], width: usize) -> Vec<usize> {
    let mut widths = natural.to_vec();
    while spanned(&widths, 2) > width {
        let Some((i, _)) = widths
            .iter()
            .enumerate()
            .filter(|(i, w)| **w > floor[*i])
            .max_by_key(|(i, w)| (**w, std::cmp::Reverse(*i)))
        else {
            break;
        };
        widths[i] -= 1;
    }
    widths
}

/// `-` for what is unknown or absent, as kubectl prints `<none>`-like placeholders.
pub fn or_dash(value: Option<impl AsRef<str>>) -> String {
    value.map(|v| v.as_ref().to_owned()).filter(|v| !v.is_empty()).unwrap_or_else(|| "-".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_lead_with_kind_and_schema_version() {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Body {
            stateful_set: &'static str,
        }
        let mut out = Vec::new();
        write_document(&mut out, OutputFormat::Json, VERSION, &Body { stateful_set: "web" }).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "{\n  \"kind\": \"Version\",\n  \"schemaVersion\": \"v1\",\n  \"statefulSet\": \"web\"\n}\n"
        );
    }

    #[test]
    fn only_closed_backquoted_spans_are_kept_whole() {
        let nb = NO_BREAK.to_string();
        assert_eq!(
            unbreakable_commands("run `kubectl stateful status web` then `a b`"),
            format!("run `kubectl{nb}stateful{nb}status{nb}web` then `a{nb}b`")
        );
        // A relayed message's lone backquote leaves the rest breakable.
        assert_eq!(
            unbreakable_commands("`a b` and it's `x unclosed y z"),
            format!("`a{nb}b` and it's `x unclosed y z")
        );
        assert_eq!(unbreakable_commands("no quotes here"), "no quotes here");
    }

    #[test]
    fn a_broken_stderr_is_ignored() {
        struct Closed;
        impl Write for Closed {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::ErrorKind::BrokenPipe.into())
            }
            fn flush(&mut self) -> io::Result<()> {
                Err(io::ErrorKind::BrokenPipe.into())
            }
        }
        let mut streams = Streams { out: Box::new(Vec::new()), err: ErrStream::new(Closed) };
        streams.say("nobody reads this");
        streams.warn("nor this");
    }
}

/// `word` as one word for a POSIX shell (the core's, which advice in models uses too).
pub use crate::core::advice::shell_word;

#[cfg(test)]
mod shell_word_tests {
    use super::shell_word;

    #[test]
    fn words_a_shell_would_split_or_expand_are_quoted() {
        assert_eq!(shell_word("kwok-prod_eu.1"), "kwok-prod_eu.1");
        assert_eq!(
            shell_word("arn:aws:eks:eu-west-1:1234:cluster/prod"),
            "arn:aws:eks:eu-west-1:1234:cluster/prod"
        );
        assert_eq!(shell_word("second ctx"), "'second ctx'");
        assert_eq!(shell_word("it's"), "'it'\\''s'");
        assert_eq!(shell_word("$HOME"), "'$HOME'");
        assert_eq!(shell_word(""), "''");
    }
}
