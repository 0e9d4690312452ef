//! `-o jsonpath=TEMPLATE`, as kubectl takes it: literal text with `{…}` expressions, each a
//! JSONPath over the command's JSON document (`{.name}`, `{.items[*].name}`) or a quoted
//! string (`{"\n"}`). The JSONPath itself is parsed and evaluated by the `jsonpath-rust` crate
//! (RFC 9535, kube-client's own choice); this module only splits the template, writes
//! kubectl's leading `.` as `$.`, and prints the results as kubectl does: several results
//! joined by a space, strings bare, other values as JSON, a missing field as nothing, and no
//! newline added at the end.
//!
//! kubectl's `{range …}`/`{end}` loops are not supported: such a template is refused when it is
//! parsed (a usage error), saying so.

use jsonpath_rust::parser::model::JpQuery;
use jsonpath_rust::parser::parse_json_path;
use jsonpath_rust::query::js_path_process;
use serde_json::Value;

/// A parsed template.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq)]
enum Part {
    Text(String),
    Path(JpQuery),
}

/// Why a template cannot be used (one line each).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("unclosed {{ in the template")]
    Unclosed,
    #[error("the template has an empty {{}}")]
    Empty,
    #[error("{{{word}}} is not supported in -o jsonpath templates (use -o json with jq for loops)")]
    Unsupported { word: String },
    #[error("{{{expression}}} is not a JSONPath expression")]
    NotAPath { expression: String },
    #[error("{{{expression}}} is not a quoted string")]
    BadString { expression: String },
}

impl Template {
    /// Parses `text` (what follows `jsonpath=`).
    ///
    /// # Errors
    /// A [`TemplateError`] naming the part that is wrong.
    pub fn parse(text: &str) -> Result<Template, TemplateError> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find('{') {
            if open > 0 {
                parts.push(Part::Text(rest[..open].to_owned()));
            }
            let after = &rest[open + 1..];
            let close = closing_brace(after).ok_or(TemplateError::Unclosed)?;
            parts.push(expression(after[..close].trim())?);
            rest = &after[close + 1..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_owned()));
        }
        Ok(Template { parts })
    }

    /// The template filled in from `document`.
    pub fn render(&self, document: &Value) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(text) => out.push_str(text),
                Part::Path(query) => {
                    let found = js_path_process(query, document).unwrap_or_default();
                    let values: Vec<String> = found.into_iter().map(|r| print_value(r.val())).collect();
                    out.push_str(&values.join(" "));
                }
            }
        }
        out
    }
}

/// The index of the `}` that closes an expression, past any quoted string in it.
fn closing_brace(text: &str) -> Option<usize> {
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (i, c) in text.char_indices() {
        match (quote, c) {
            (Some(_), _) if escaped => escaped = false,
            (Some(_), '\\') => escaped = true,
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '}') => return Some(i),
            (None, _) => {}
        }
    }
    None
}

fn expression(inner: &str) -> Result<Part, TemplateError> {
    if inner.is_empty() {
        return Err(TemplateError::Empty);
    }
    let word = inner.split_whitespace().next().unwrap_or_default();
    if matches!(word, "range" | "end") {
        return Err(TemplateError::Unsupported { word: word.to_owned() });
    }
    if inner.starts_with('"') {
        return quoted(inner).map(Part::Text);
    }
    // kubectl's paths start at the object, `.a.b`; JSONPath's at the root, `$.a.b`.
    let path = match inner {
        "." | "$" => "$".to_owned(),
        _ if inner.starts_with('$') => inner.to_owned(),
        _ if inner.starts_with('.') || inner.starts_with('[') => format!("${inner}"),
        _ => format!("$.{inner}"),
    };
    parse_json_path(&path)
        .map(Part::Path)
        .map_err(|_| TemplateError::NotAPath { expression: inner.to_owned() })
}

/// A double-quoted string with kubectl's escapes (`\n`, `\t`, `\"`, `\\`).
fn quoted(inner: &str) -> Result<String, TemplateError> {
    let bad = || TemplateError::BadString { expression: inner.to_owned() };
    let body = inner.strip_prefix('"').and_then(|s| s.strip_suffix('"')).ok_or_else(bad)?;
    let mut out = String::new();
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some('r') => out.push('\r'),
                Some(c @ ('"' | '\\')) => out.push(c),
                _ => return Err(bad()),
            },
            '"' => return Err(bad()),
            c => out.push(c),
        }
    }
    Ok(out)
}

/// A result as kubectl prints it: a string bare, null as nothing, anything else as JSON.
fn print_value(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn render(template: &str, document: &Value) -> String {
        Template::parse(template).unwrap_or_else(|e| panic!("{template}: {e}")).render(document)
    }

    #[test]
    fn fills_in_kubectl_templates() {
        let one = json!({"kind": "StatefulSetStatus", "name": "web", "replicas": {"desired": 3},
            "ordinals": [{"pod": "web-0", "ready": true}, {"pod": "web-1", "ready": false}]});
        let list = json!({"items": [{"name": "web", "namespace": "a"}, {"name": "db", "namespace": "b"}]});
        let cases: &[(&str, &Value, &str)] = &[
            ("{.name}", &one, "web"),
            ("name={.name} desired={.replicas.desired}", &one, "name=web desired=3"),
            ("{.ordinals[*].pod}", &one, "web-0 web-1"),
            ("{.ordinals[1].ready}", &one, "false"),
            ("{.ordinals[?(@.ready == true)].pod}", &one, "web-0"),
            ("{$.kind}", &one, "StatefulSetStatus"),
            ("{.replicas}", &one, r#"{"desired":3}"#),
            ("{.missing}", &one, ""),
            ("{.items[*].name}", &list, "web db"),
            ("{.items[0].namespace}/{.items[0].name}{\"\\n\"}", &list, "a/web\n"),
            ("no braces", &list, "no braces"),
            ("{ .name }", &one, "web"),
            ("{\"}\"}", &one, "}"),
        ];
        for (template, document, want) in cases {
            assert_eq!(render(template, document), *want, "{template}");
        }
    }

    #[test]
    fn refuses_what_it_cannot_do_with_one_line() {
        let cases = [
            ("{.name", TemplateError::Unclosed),
            ("{}", TemplateError::Empty),
            ("{range .items[*]}{.name}{end}", TemplateError::Unsupported { word: "range".into() }),
            ("{end}", TemplateError::Unsupported { word: "end".into() }),
            ("{\"a}", TemplateError::Unclosed),
            ("{\"a\\q\"}", TemplateError::BadString { expression: "\"a\\q\"".into() }),
        ];
        for (template, want) in cases {
            assert_eq!(Template::parse(template), Err(want), "{template}");
        }
        let Err(error) = Template::parse("{.items[}") else { panic!("a bad path parses") };
        assert!(matches!(error, TemplateError::NotAPath { .. }), "{error:?}");
        for error in [error, TemplateError::Unclosed, TemplateError::Unsupported { word: "range".into() }] {
            assert_eq!(error.to_string().lines().count(), 1, "{error}");
        }
    }
}
