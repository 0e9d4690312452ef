//! Output formats shared by every command. stdout carries data only; renderers write to any
//! `Write` so tests can snapshot them.

use std::io::Write;

use comfy_table::{CellAlignment, ContentArrangement, Table, presets};
use serde::Serialize;

use crate::error::Result;

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
}

impl OutputFormat {
    pub fn is_machine(self) -> bool {
        matches!(self, OutputFormat::Json | OutputFormat::Yaml)
    }
}

pub fn write_json(w: &mut impl Write, value: &impl Serialize) -> Result<()> {
    serde_json::to_writer_pretty(&mut *w, value).map_err(std::io::Error::from)?;
    writeln!(w)?;
    Ok(())
}

/// One compact JSON document per line (NDJSON), for event streams and watch snapshots.
pub fn write_json_line(w: &mut impl Write, value: &impl Serialize) -> Result<()> {
    serde_json::to_writer(&mut *w, value).map_err(std::io::Error::from)?;
    writeln!(w)?;
    w.flush()?;
    Ok(())
}

pub fn write_yaml(w: &mut impl Write, value: &impl Serialize) -> Result<()> {
    let text = serde_saphyr::to_string(value).map_err(std::io::Error::other)?;
    w.write_all(text.as_bytes())?;
    Ok(())
}

/// Writes `value` as JSON or YAML; false when `format` is a table format.
pub fn write_machine(w: &mut impl Write, format: OutputFormat, value: &impl Serialize) -> Result<bool> {
    match format {
        OutputFormat::Json => write_json(w, value).map(|()| true),
        OutputFormat::Yaml => write_yaml(w, value).map(|()| true),
        OutputFormat::Table | OutputFormat::Wide => Ok(false),
    }
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
pub fn write_table(w: &mut impl Write, mut table: Table) -> Result<()> {
    let columns = table.column_count();
    for (i, column) in table.column_iter_mut().enumerate() {
        column.set_padding((0, if i + 1 == columns { 0 } else { 3 }));
        column.set_cell_alignment(CellAlignment::Left);
    }
    for line in table.lines() {
        writeln!(w, "{}", line.trim_end())?;
    }
    Ok(())
}

/// `-` for what is unknown or absent, as kubectl prints `<none>`-like placeholders.
pub fn or_dash(value: Option<impl AsRef<str>>) -> String {
    value.map(|v| v.as_ref().to_owned()).filter(|v| !v.is_empty()).unwrap_or_else(|| "-".to_owned())
}
