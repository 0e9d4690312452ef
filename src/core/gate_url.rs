//! A gate's URL (`--gate-http`) keeps no secret. The URL is journaled on the StatefulSet (a
//! resumed run checks the same gates), shown in the plan and named in every event, so a
//! credential in it would be written to the cluster, the plan and the log. A credential goes in
//! the environment instead, named in the URL as `${NAME}` and read at each request: a password
//! in the user info (`https://ci:${GATE_PASSWORD}@host/`), a user name alone (a token), a query
//! parameter named like a credential (`?token=${GATE_TOKEN}`). A URL that carries one literally
//! is refused before anything is read or written, shown masked, with the form that works.
//!
//! The URL is read as text, not re-encoded by a parser, so that `{pod}`, `{ordinal}` and
//! `${NAME}` survive as they were typed.

use super::advice::shell_word;

/// What replaces a credential where a URL is shown.
pub const MASK: &str = "***";

/// A credential a URL carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// The password of the user info (`user:password@`).
    Password,
    /// A user name with no password (`token@`): a token, as often as not.
    User,
    /// A query parameter named like a credential (`token`, `api_key`, `X-Amz-Signature`, …).
    Query(String),
}

impl Credential {
    /// `a password in its user info`, `a credential in query parameter token`.
    fn describe(&self) -> String {
        match self {
            Credential::Password => "a password in its user info".to_owned(),
            Credential::User => "a user name with no password (often a token) in its user info".to_owned(),
            Credential::Query(name) => format!("a credential in query parameter {name}"),
        }
    }

    /// The environment variable the refusal suggests for it.
    fn variable(&self) -> String {
        match self {
            Credential::Password => "GATE_PASSWORD".to_owned(),
            Credential::User => "GATE_TOKEN".to_owned(),
            Credential::Query(name) => {
                let name: String = name
                    .chars()
                    .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' })
                    .collect();
                format!("GATE_{}", name.trim_matches('_'))
            }
        }
    }
}

/// Why a gate's URL cannot be used: each a usage error, caught before anything is read or
/// written. Every URL in them is masked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GateRefusal {
    #[error("{flag} {shown}: not an http:// or https:// URL; nothing was changed")]
    NotAUrl { flag: &'static str, shown: String },
    #[error(
        "{flag} {shown} carries {what}, which would be written to the StatefulSet's journal, the plan and the log; \
         nothing was changed. Name it from the environment instead, read at each request and never written: \
         {assignments}, then {flag} {suggested}"
    )]
    Credential {
        flag: &'static str,
        /// The URL as given, its credentials masked.
        shown: String,
        what: String,
        /// `export GATE_PASSWORD='<its value>'`, one per credential.
        assignments: String,
        /// The URL with `${NAME}` in place of each credential, quoted for the shell.
        suggested: String,
    },
    #[error(
        "{flag} {shown} reads ${{{variable}}} from the environment, which does not set it; set it (export \
         {variable}=…) and run this again; nothing was changed"
    )]
    Unset { flag: &'static str, shown: String, variable: String },
}

/// The parts of a URL by byte span: where each credential's value lies.
struct Spans {
    credentials: Vec<(Credential, std::ops::Range<usize>)>,
}

/// A value names the environment (holds a `${NAME}` reference) rather than a secret.
fn from_environment(value: &str) -> bool {
    references(value).next().is_some()
}

/// Whether a query parameter's name says it holds a credential.
fn credential_name(name: &str) -> bool {
    const WITHIN: [&str; 13] = [
        "token",
        "secret",
        "password",
        "passwd",
        "pwd",
        "apikey",
        "api_key",
        "api-key",
        "auth",
        "credential",
        "signature",
        "session",
        "jwt",
    ];
    const EXACTLY: [&str; 5] = ["key", "sig", "code", "pass", "sas"];
    let name = name.to_ascii_lowercase();
    WITHIN.iter().any(|w| name.contains(w))
        || EXACTLY.contains(&name.as_str())
        || name.ends_with("_key")
        || name.ends_with("-key")
}

fn spans(url: &str) -> Spans {
    let mut credentials = Vec::new();
    let start = url.find("://").map_or(0, |i| i + 3);
    let authority_end = url[start..].find(['/', '?', '#']).map_or(url.len(), |i| start + i);
    if let Some(at) = url[start..authority_end].rfind('@') {
        let userinfo = start..start + at;
        match url[userinfo.clone()].find(':') {
            Some(colon) => {
                let password = userinfo.start + colon + 1..userinfo.end;
                if !password.is_empty() && !from_environment(&url[password.clone()]) {
                    credentials.push((Credential::Password, password));
                }
            }
            None if !userinfo.is_empty() && !from_environment(&url[userinfo.clone()]) => {
                credentials.push((Credential::User, userinfo));
            }
            None => {}
        }
    }
    if let Some(question) = url[authority_end..].find('?').map(|i| authority_end + i) {
        let end = url[question..].find('#').map_or(url.len(), |i| question + i);
        let mut at = question + 1;
        for pair in url[question + 1..end].split('&') {
            if let Some((name, value)) = pair.split_once('=') {
                let value_start = at + name.len() + 1;
                if credential_name(name) && !value.is_empty() && !from_environment(value) {
                    credentials
                        .push((Credential::Query(name.to_owned()), value_start..value_start + value.len()));
                }
            }
            at += pair.len() + 1;
        }
    }
    Spans { credentials }
}

/// `url` with each span replaced by what `with` gives for its credential.
fn replaced(url: &str, spans: &Spans, with: impl Fn(&Credential) -> String) -> String {
    let mut text = String::with_capacity(url.len());
    let mut at = 0;
    for (credential, span) in &spans.credentials {
        text.push_str(&url[at..span.start]);
        text.push_str(&with(credential));
        at = span.end;
    }
    text.push_str(&url[at..]);
    text
}

/// The credentials `url` carries literally (not from the environment).
#[cfg(test)]
fn credentials(url: &str) -> Vec<Credential> {
    spans(url).credentials.into_iter().map(|(c, _)| c).collect()
}

/// `url` as it may be shown: each literal credential replaced by [`MASK`].
pub fn masked(url: &str) -> String {
    replaced(url, &spans(url), |_| MASK.to_owned())
}

/// The `${NAME}` references of `text`, in order, with their byte spans.
fn references(text: &str) -> impl Iterator<Item = (&str, std::ops::Range<usize>)> {
    let mut from = 0;
    std::iter::from_fn(move || {
        loop {
            let open = from + text[from..].find("${")?;
            let Some(close) = text[open + 2..].find('}').map(|i| open + 2 + i) else {
                from = text.len();
                return None;
            };
            from = open + 2;
            let name = &text[open + 2..close];
            let valid = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if valid {
                from = close + 1;
                return Some((name, open..close + 1));
            }
        }
    })
}

/// The environment variables `url` names (`${NAME}`), each once, in order.
pub fn variables(url: &str) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for (name, _) in references(url) {
        if !names.iter().any(|n| n == name) {
            names.push(name.to_owned());
        }
    }
    names
}

/// `url` with each `${NAME}` replaced by its value from `lookup` (the environment), as sent;
/// never shown, journaled or logged.
///
/// # Errors
/// The first name `lookup` has no value for.
pub fn resolve(url: &str, lookup: impl Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut text = String::with_capacity(url.len());
    let mut at = 0;
    for (name, span) in references(url) {
        let value = lookup(name).ok_or_else(|| name.to_owned())?;
        text.push_str(&url[at..span.start]);
        text.push_str(&value);
        at = span.end;
    }
    text.push_str(&url[at..]);
    Ok(text)
}

/// Checks a URL given to `flag` before anything is read or written: an http(s) URL once its
/// placeholders and references are filled in, carrying no literal credential.
///
/// # Errors
/// [`GateRefusal::NotAUrl`] or [`GateRefusal::Credential`], the URL masked.
pub fn check(flag: &'static str, url: &str) -> Result<(), GateRefusal> {
    let spans = spans(url);
    let shown = replaced(url, &spans, |_| MASK.to_owned());
    if !spans.credentials.is_empty() {
        let mut assignments: Vec<String> = Vec::new();
        for (credential, _) in &spans.credentials {
            let line = format!("export {}='<its value>'", credential.variable());
            if !assignments.contains(&line) {
                assignments.push(line);
            }
        }
        let suggested = replaced(url, &spans, |c| format!("${{{}}}", c.variable()));
        let what: Vec<String> = spans.credentials.iter().map(|(c, _)| c.describe()).collect();
        return Err(GateRefusal::Credential {
            flag,
            shown,
            what: what.join(" and "),
            assignments: assignments.join("; "),
            suggested: shell_word(&suggested).into_owned(),
        });
    }
    let sample = super::rollout::gates::expand(url, Some(("web-0", 0)), "default");
    let sample = resolve(&sample, |_| Some("x".to_owned())).unwrap_or(sample);
    match sample.parse::<http::Uri>() {
        Ok(uri) if matches!(uri.scheme_str(), Some("http" | "https")) && uri.host().is_some() => Ok(()),
        _ => Err(GateRefusal::NotAUrl { flag, shown }),
    }
}

/// Checks that the environment sets every variable `urls` name, before a run that will
/// request them writes anything (a resumed run's journaled gates among them).
///
/// # Errors
/// [`GateRefusal::Unset`] for the first variable it does not set.
pub fn check_environment<'u>(
    flag: &'static str,
    urls: impl IntoIterator<Item = &'u String>,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<(), GateRefusal> {
    for url in urls {
        if let Some(variable) = variables(url).into_iter().find(|name| lookup(name).is_none()) {
            return Err(GateRefusal::Unset { flag, shown: masked(url), variable });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows: URL → the credentials it carries literally, and how it is shown.
    #[test]
    fn credentials_in_the_user_info_and_the_query_are_found_and_masked() {
        let cases: [(&str, Vec<Credential>, &str); 11] = [
            ("http://127.0.0.1:9090/health", vec![], "http://127.0.0.1:9090/health"),
            (
                "https://ci:s3cret@grafana/api/health",
                vec![Credential::Password],
                "https://ci:***@grafana/api/health",
            ),
            ("https://ghp_abc@host/x", vec![Credential::User], "https://***@host/x"),
            ("https://ci:${GATE_PASSWORD}@grafana/", vec![], "https://ci:${GATE_PASSWORD}@grafana/"),
            ("https://${TOKEN}@host/", vec![], "https://${TOKEN}@host/"),
            (
                "http://prom/q?pod={pod}&token=abc&n={namespace}",
                vec![Credential::Query("token".into())],
                "http://prom/q?pod={pod}&token=***&n={namespace}",
            ),
            (
                "https://s3/b/o?X-Amz-Signature=f00&X-Amz-Date=1&api_key=k",
                vec![Credential::Query("X-Amz-Signature".into()), Credential::Query("api_key".into())],
                "https://s3/b/o?X-Amz-Signature=***&X-Amz-Date=1&api_key=***",
            ),
            ("http://h/?access_token=${T}&key=", vec![], "http://h/?access_token=${T}&key="),
            ("http://h/a@b?q=1", vec![], "http://h/a@b?q=1"),
            (
                "http://u:p@h/?sig=1#token=x",
                vec![Credential::Password, Credential::Query("sig".into())],
                "http://u:***@h/?sig=***#token=x",
            ),
            ("http://h/path?monitor=up&query=rate", vec![], "http://h/path?monitor=up&query=rate"),
        ];
        for (url, found, shown) in cases {
            assert_eq!(credentials(url), found, "{url}");
            assert_eq!(masked(url), shown, "{url}");
        }
    }

    /// A URL with a credential is refused, masked, with the form that names the environment.
    #[test]
    fn a_literal_credential_is_refused_with_the_form_that_reads_the_environment() {
        let refusal = check("--gate-http", "https://ci:s3cret@grafana/api/health?token=t0k").unwrap_err();
        let text = refusal.to_string();
        assert!(!text.contains("s3cret") && !text.contains("t0k"), "never shown: {text}");
        assert_eq!(
            text,
            "--gate-http https://ci:***@grafana/api/health?token=*** carries a password in its user info and a \
             credential in query parameter token, which would be written to the StatefulSet's journal, the plan \
             and the log; nothing was changed. Name it from the environment instead, read at each request and \
             never written: export GATE_PASSWORD='<its value>'; export GATE_TOKEN='<its value>', then --gate-http \
             'https://ci:${GATE_PASSWORD}@grafana/api/health?token=${GATE_TOKEN}'"
        );
        assert_eq!(
            check("--gate-http", "https://ci:${GATE_PASSWORD}@grafana/api/health?token=${GATE_TOKEN}"),
            Ok(())
        );
        assert_eq!(check("--gate-http", "http://prom/q?pod={pod}&o={ordinal}"), Ok(()));
        let not = check("--gate-http", "ftp://u:pw@host/x").unwrap_err();
        assert_eq!(
            not,
            GateRefusal::Credential {
                flag: "--gate-http",
                shown: "ftp://u:***@host/x".into(),
                what: "a password in its user info".into(),
                assignments: "export GATE_PASSWORD='<its value>'".into(),
                suggested: "'ftp://u:${GATE_PASSWORD}@host/x'".into(),
            }
        );
        assert_eq!(
            check("--gate-http", "ftp://host/x"),
            Err(GateRefusal::NotAUrl { flag: "--gate-http", shown: "ftp://host/x".into() })
        );
    }

    #[test]
    fn references_are_read_from_the_environment_at_each_request_and_checked_up_front() {
        let env = |name: &str| (name == "GATE_PASSWORD").then(|| "p@ss".to_owned());
        let url = "https://ci:${GATE_PASSWORD}@grafana/x?a=${GATE_PASSWORD}&b=${1X}&c=$HOME";
        assert_eq!(variables(url), ["GATE_PASSWORD"]);
        assert_eq!(
            resolve(url, env).unwrap(),
            "https://ci:p@ss@grafana/x?a=p@ss&b=${1X}&c=$HOME",
            "only ${{NAME}} is read; the rest is left as typed"
        );
        assert_eq!(resolve("http://h/?t=${MISSING}", env), Err("MISSING".to_owned()));
        let urls = vec!["http://h/".to_owned(), "http://h/?token=${GATE_TOKEN}".to_owned()];
        assert_eq!(
            check_environment("--gate-http", &urls, env),
            Err(GateRefusal::Unset {
                flag: "--gate-http",
                shown: "http://h/?token=${GATE_TOKEN}".into(),
                variable: "GATE_TOKEN".into()
            })
        );
        assert_eq!(check_environment("--gate-http", &urls[..1], env), Ok(()));
    }
}
