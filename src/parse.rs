//! Value parsers of the flags and arguments: everything is checked at parse time (a usage
//! error, exit 2) so that no name reaches a URL unchecked and no duration overflows a deadline.

use std::time::Duration;

/// The longest duration any flag takes (30 days): far beyond any rollout step or request,
/// and small enough that every deadline computed from it fits.
pub const MAX_DURATION: Duration = Duration::from_secs(30 * 24 * 3600);

/// A duration such as `30s`, `2m`, `1h30m` (humantime), at most [`MAX_DURATION`].
pub fn duration(text: &str) -> Result<Duration, String> {
    let parsed = humantime::parse_duration(text)
        .map_err(|e| format!("{text:?} is not a duration like 30s, 2m or 1h30m ({e})"))?;
    bounded(text, parsed)
}

/// kubectl's `--request-timeout`: a duration or bare seconds (`30`); `0` waits forever.
pub fn request_timeout(text: &str) -> Result<Duration, String> {
    match text.parse::<u64>() {
        Ok(seconds) => bounded(text, Duration::from_secs(seconds.min(MAX_DURATION.as_secs() + 1))),
        Err(_) => duration(text),
    }
}

fn bounded(text: &str, duration: Duration) -> Result<Duration, String> {
    if duration > MAX_DURATION {
        return Err(format!("{text:?} is longer than the most any flag takes, 30 days"));
    }
    Ok(duration)
}

/// The name of a Kubernetes object: a DNS-1123 subdomain (lower-case letters, digits, `-`
/// and `.`, at most 253 characters, starting and ending with a letter or digit), as the API
/// server requires (`k8s.io/apimachinery/pkg/util/validation`, `IsDNS1123Subdomain`).
pub fn object_name(text: &str) -> Result<String, String> {
    let labels_ok = text.split('.').all(|label| is_label(label, 253));
    if text.is_empty() || text.len() > 253 || !labels_ok {
        return Err(format!(
            "{text:?} is not a Kubernetes object name (lower-case letters, digits, '-' and '.', starting and ending \
             with a letter or digit)"
        ));
    }
    Ok(text.to_owned())
}

/// `--port`: a port number (1-65535) or a Service port name (see `PortSelector`).
pub fn port(text: &str) -> Result<crate::core::status::dns::PortSelector, String> {
    text.parse()
}

/// A namespace: a DNS-1123 label (at most 63 characters). Empty means "not given", as kubectl
/// reads `-n ''`: the context's namespace, then `default`.
pub fn namespace(text: &str) -> Result<String, String> {
    if text.is_empty() || is_label(text, 63) {
        return Ok(text.to_owned());
    }
    Err(format!(
        "{text:?} is not a namespace name (lower-case letters, digits and '-', at most 63 characters, starting \
         and ending with a letter or digit)"
    ))
}

fn is_label(text: &str, max: usize) -> bool {
    let bytes = text.as_bytes();
    let edge = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    !bytes.is_empty()
        && bytes.len() <= max
        && bytes.first().is_some_and(edge)
        && bytes.last().is_some_and(edge)
        && bytes.iter().all(|b| edge(b) || *b == b'-')
}
