//! Commands printed as advice: they carry the run's connection flags and the object's namespace,
//! with every word quoted for a POSIX shell, so that a person can paste them as printed, in any
//! shell, whatever `$KUBECONFIG` and the current context are by then.

/// The connection flags of a run that advice repeats: `--context` and `--kubeconfig` as given
/// (none when they were not: the same defaults then apply to the advice).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunFlags {
    pub context: Option<String>,
    pub kubeconfig: Option<String>,
}

impl RunFlags {
    /// ` --context C --kubeconfig K`, each quoted; empty when neither was given.
    pub fn connection(&self) -> String {
        let mut flags = String::new();
        if let Some(context) = &self.context {
            flags.push_str(&format!(" --context {}", shell_word(context)));
        }
        if let Some(kubeconfig) = &self.kubeconfig {
            flags.push_str(&format!(" --kubeconfig {}", shell_word(kubeconfig)));
        }
        flags
    }

    /// `kubectl -n NS [--context C] [--kubeconfig K] ARGS`: `args` as written (the caller quotes
    /// what it interpolates).
    pub fn kubectl(&self, namespace: &str, args: &str) -> String {
        format!("kubectl -n {}{} {args}", shell_word(namespace), self.connection())
    }

    /// `kubectl stateful ARGS -n NS [--context C] [--kubeconfig K]`: the plugin's flags after
    /// its arguments, where kubectl passes them on to the plugin.
    pub fn plugin(&self, namespace: &str, args: &str) -> String {
        format!("kubectl stateful {args} -n {}{}", shell_word(namespace), self.connection())
    }
}

/// `word` as one word for a POSIX shell: as it is when nothing in it is special, else in single
/// quotes (an embedded `'` closed, escaped and reopened).
pub fn shell_word(word: &str) -> std::borrow::Cow<'_, str> {
    let plain = !word.is_empty()
        && word.chars().all(|c| {
            c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/' | ':' | '@' | '=' | ',' | '+')
        });
    if plain { word.into() } else { format!("'{}'", word.replace('\'', "'\\''")).into() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advice_carries_the_namespace_and_the_flags_given() {
        let none = RunFlags::default();
        assert_eq!(none.kubectl("db", "delete pod web-01"), "kubectl -n db delete pod web-01");
        assert_eq!(none.plugin("db", "recover web-1"), "kubectl stateful recover web-1 -n db");
        let both =
            RunFlags { context: Some("prod eu".into()), kubeconfig: Some("/home/me/.kube/it's".into()) };
        assert_eq!(
            both.kubectl("db", "delete pod web-01"),
            "kubectl -n db --context 'prod eu' --kubeconfig '/home/me/.kube/it'\\''s' delete pod web-01"
        );
        assert_eq!(
            both.plugin("db", "recover web-1"),
            "kubectl stateful recover web-1 -n db --context 'prod eu' --kubeconfig '/home/me/.kube/it'\\''s'"
        );
    }
}
