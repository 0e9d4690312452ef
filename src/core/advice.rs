//! Commands printed as advice: they carry the run's connection flags and the object's namespace,
//! with every word quoted for a POSIX shell, so that a person can paste them as printed, in any
//! shell, whatever `$KUBECONFIG` and the current context are by then.

/// The connection flags of a run that advice repeats: `--context` and `--kubeconfig` as given
/// (none when they were not: the same defaults then apply to the advice), and the other flags
/// that choose the cluster or the identity (`--cluster`, `--server`, `--user`, `--as`…), so
/// that a pasted command reaches the same API server as the same user. `--token` is never
/// repeated: printed advice must not carry a secret.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunFlags {
    pub context: Option<String>,
    pub kubeconfig: Option<String>,
    /// The other flags given, as words (`["--cluster", "c1", "--as", "ops"]`).
    pub others: Vec<String>,
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
        for word in &self.others {
            flags.push(' ');
            flags.push_str(&shell_word(word));
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

    /// `kubectl stateful ARGS [--context C] [--kubeconfig K]`: a plugin command that names no
    /// namespace (`drain` of nodes, `pvc prune -A`).
    pub fn plugin_cluster(&self, args: &str) -> String {
        format!("kubectl stateful {args}{}", self.connection())
    }

    /// `kubectl [--context C] [--kubeconfig K] ARGS`: a kubectl command about cluster-scoped
    /// objects (PersistentVolumes, nodes) or the cluster itself (`auth can-i` cluster-wide).
    pub fn kubectl_cluster(&self, args: &str) -> String {
        format!("kubectl{} {args}", self.connection())
    }
}

/// No connection flags: what a request without a run of its own (a unit test, a default)
/// repeats.
static NO_FLAGS: RunFlags = RunFlags { context: None, kubeconfig: None, others: Vec::new() };

impl Default for &RunFlags {
    fn default() -> Self {
        &NO_FLAGS
    }
}

/// The commands between backticks in `message`, in order: what a person pastes (tests check
/// each the way the end-to-end tests run them).
#[cfg(test)]
pub fn commands_in(message: &str) -> Vec<&str> {
    message.split('`').skip(1).step_by(2).collect()
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
        let both = RunFlags {
            context: Some("prod eu".into()),
            kubeconfig: Some("/home/me/.kube/it's".into()),
            ..RunFlags::default()
        };
        assert_eq!(
            both.kubectl("db", "delete pod web-01"),
            "kubectl -n db --context 'prod eu' --kubeconfig '/home/me/.kube/it'\\''s' delete pod web-01"
        );
        assert_eq!(
            both.plugin("db", "recover web-1"),
            "kubectl stateful recover web-1 -n db --context 'prod eu' --kubeconfig '/home/me/.kube/it'\\''s'"
        );
    }

    #[test]
    fn cluster_wide_advice_carries_the_flags_given_and_no_namespace() {
        let none = RunFlags::default();
        assert_eq!(none.plugin_cluster("drain node-7"), "kubectl stateful drain node-7");
        assert_eq!(none.kubectl_cluster("uncordon node-7"), "kubectl uncordon node-7");
        let context = RunFlags {
            context: Some("kind-a".into()),
            kubeconfig: Some("/k config".into()),
            ..RunFlags::default()
        };
        assert_eq!(
            context.plugin_cluster("pvc prune -A"),
            "kubectl stateful pvc prune -A --context kind-a --kubeconfig '/k config'"
        );
        assert_eq!(
            context.kubectl_cluster("patch pv pv-1 -p x"),
            "kubectl --context kind-a --kubeconfig '/k config' patch pv pv-1 -p x"
        );
        let default: &RunFlags = Default::default();
        assert_eq!(default, &none);
    }
}
