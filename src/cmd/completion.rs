//! Shell completion: `kubectl stateful completion SHELL` prints a script for the shell, and the
//! hidden `__complete` command answers kubectl's plugin completion protocol (kubectl 1.26+ runs
//! `kubectl_complete-stateful ARGS… WORD` and reads candidates, then `:DIRECTIVE`, as cobra
//! prints them). StatefulSet and pod names come from the cluster.

use std::io::Write;

use clap::CommandFactory;
use clap_complete::Shell;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::ResourceExt;
use kube::api::{Api, ListParams, PartialObjectMeta};

// The one edge back to the top of the tree, and an inherent one: the completion protocol
// walks the whole command tree, as clap_complete does with `Cli::command()`.
use crate::cli::Cli;
use crate::client::KubeArgs;
use crate::error::Result;
use crate::output::{Streams, rendered};

#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The shell to print a completion script for
    #[arg(value_enum)]
    pub shell: Shell,
}

/// Prints the completion script for invoking `kubectl-stateful` directly; `kubectl stateful`
/// completes through the `kubectl_complete-stateful` script shipped beside the binary.
pub fn run(args: Args, io: &mut Streams) -> Result<()> {
    let mut command = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, "kubectl-stateful", &mut script);
    if args.shell == Shell::Bash {
        // clap_complete names bash's states after the subcommands' bin names ("kubectl stateful
        // status": kubectl__subcmd__stateful__…) but tracks them after the binary's
        // (kubectl__stateful__…), so no state matched and nothing completed after the command
        // (clap-rs/clap#6421). Spell them one way.
        let text = String::from_utf8_lossy(&script).replace("kubectl__subcmd__stateful", "kubectl__stateful");
        script = text.into_bytes();
    }
    rendered(io.out.write_all(&script).and_then(|()| io.out.flush()))
}

/// cobra's ShellCompDirectiveNoFileComp: never fall back to file names.
const NO_FILE_COMPLETION: u8 = 4;

/// What the words typed so far ask to complete.
#[derive(Debug, PartialEq, Eq)]
pub enum Want {
    Words(Vec<String>),
    StatefulSets,
    StatefulSetPods,
    Namespaces,
    Nothing,
}

/// Answers kubectl's completion request: `words` are the arguments after `kubectl stateful`,
/// the last one being the word under the cursor (possibly empty).
pub async fn complete(words: Vec<String>, io: &mut Streams) -> Result<()> {
    let (typed, current) = match words.split_last() {
        Some((current, typed)) => (typed.to_vec(), current.clone()),
        None => (Vec::new(), String::new()),
    };
    let (want, kube_args) = wanted(&typed, &current);
    let candidates = match want {
        Want::Words(words) => words,
        Want::Nothing => Vec::new(),
        // Completion must never fail loudly: without a cluster, offer nothing.
        other => cluster_names(&kube_args, other).await.unwrap_or_default(),
    };
    rendered(write_candidates(&mut io.out, &candidates, &current))
}

/// Candidates that start with the word under the cursor, then cobra's directive line.
fn write_candidates(out: &mut dyn Write, candidates: &[String], current: &str) -> std::io::Result<()> {
    for candidate in candidates.iter().filter(|c| c.starts_with(current)) {
        writeln!(out, "{candidate}")?;
    }
    writeln!(out, ":{NO_FILE_COMPLETION}")
}

/// Walks the command tree along `typed` and decides what `current` should complete to; also
/// collects the connection flags typed so far, so names come from the right cluster.
pub fn wanted(typed: &[String], current: &str) -> (Want, KubeArgs) {
    let root = Cli::command();
    let mut command = &root;
    let mut kube_args = KubeArgs::default();
    let mut positionals = 0;
    let mut pending_value: Option<String> = None;
    for word in typed {
        if let Some(flag) = pending_value.take() {
            match flag.as_str() {
                "namespace" => kube_args.namespace = Some(word.clone()),
                "context" => kube_args.context = vec![word.clone()],
                "kubeconfig" => kube_args.kubeconfig = Some(word.into()),
                _ => {}
            }
            continue;
        }
        if let Some(flag) = word.strip_prefix('-') {
            let (name, inline) = match flag.trim_start_matches('-').split_once('=') {
                Some((name, value)) => (name, Some(value)),
                None => (flag.trim_start_matches('-'), None),
            };
            let arg = find_arg(&root, command, name, word.starts_with("--"));
            if let Some(arg) = arg.filter(|a| a.get_action().takes_values()) {
                let id = arg.get_id().to_string();
                match inline {
                    Some(value) if id == "namespace" => kube_args.namespace = Some(value.to_owned()),
                    Some(value) if id == "context" => kube_args.context = vec![value.to_owned()],
                    Some(_) => {}
                    None => pending_value = Some(id),
                }
            }
            continue;
        }
        match command.find_subcommand(word) {
            Some(sub) => {
                command = sub;
                positionals = 0;
            }
            None => positionals += 1,
        }
    }
    let want = if let Some(flag) = pending_value {
        match flag.as_str() {
            "namespace" => Want::Namespaces,
            _ => find_arg(&root, command, &flag, true)
                .map(|a| {
                    Want::Words(a.get_possible_values().iter().map(|v| v.get_name().to_owned()).collect())
                })
                .unwrap_or(Want::Nothing),
        }
    } else if current.starts_with('-') {
        let flags = command.get_arguments().chain(root.get_arguments().filter(|a| a.is_global_set()));
        Want::Words(
            flags
                .filter(|a| !a.is_hide_set())
                .filter_map(|a| a.get_long().map(|l| format!("--{l}")))
                .collect(),
        )
    } else if command.has_subcommands() {
        Want::Words(
            command.get_subcommands().filter(|s| !s.is_hide_set()).map(|s| s.get_name().to_owned()).collect(),
        )
    } else if positionals == 0 && command.get_positionals().next().is_some() {
        match command.get_name() {
            "recover" if !typed.iter().any(|w| w == "--ordinal") => Want::StatefulSetPods,
            "completion" => Want::Words(shell_names()),
            _ => Want::StatefulSets,
        }
    } else {
        Want::Nothing
    };
    (want, kube_args)
}

fn find_arg<'c>(
    root: &'c clap::Command,
    command: &'c clap::Command,
    name: &str,
    long: bool,
) -> Option<&'c clap::Arg> {
    let matches = |a: &&clap::Arg| {
        if long {
            a.get_long() == Some(name) || a.get_id() == name
        } else {
            name.chars().next() == a.get_short()
        }
    };
    command.get_arguments().find(matches).or_else(|| root.get_arguments().find(matches))
}

/// The shells `completion` accepts, by name.
fn shell_names() -> Vec<String> {
    use clap::ValueEnum;
    Shell::value_variants()
        .iter()
        .filter_map(|s| s.to_possible_value())
        .map(|v| v.get_name().to_owned())
        .collect()
}

async fn cluster_names(kube_args: &KubeArgs, want: Want) -> Result<Vec<String>> {
    let kube = kube_args.connect().await?;
    let (client, ns) = (kube.client, kube.namespace.as_str());
    match want {
        Want::Namespaces => names(Api::<Namespace>::all(client), |_| true).await,
        Want::StatefulSets => names(Api::<StatefulSet>::namespaced(client, ns), |_| true).await,
        Want::StatefulSetPods => {
            let of_a_statefulset =
                |p: &PartialObjectMeta<Pod>| p.owner_references().iter().any(|o| o.kind == "StatefulSet");
            names(Api::<Pod>::namespaced(client, ns), of_a_statefulset).await
        }
        Want::Words(words) => Ok(words),
        Want::Nothing => Ok(Vec::new()),
    }
}

/// The names of the objects `api` lists (metadata only) that `keep` accepts.
async fn names<K>(api: Api<K>, keep: impl Fn(&PartialObjectMeta<K>) -> bool) -> Result<Vec<String>>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
    K::DynamicType: Default,
{
    let what = format!("list {}", K::plural(&Default::default()));
    let list = api.list_metadata(&ListParams::default()).await.map_err(crate::error::Error::kube(what))?;
    Ok(list.items.iter().filter(|o| keep(o)).map(ResourceExt::name_any).collect())
}
#[cfg(test)]
mod tests {
    use super::*;

    fn want(line: &str) -> Want {
        let mut words: Vec<String> = line.split(' ').map(str::to_owned).collect();
        let current = words.pop().unwrap_or_default();
        wanted(&words, &current).0
    }

    #[test]
    fn completes_commands_flags_names_and_values() {
        let Want::Words(commands) = want("") else { panic!() };
        assert!(commands.contains(&"status".to_owned()) && commands.contains(&"rollout".to_owned()));
        assert!(!commands.contains(&"__complete".to_owned()), "hidden commands stay hidden");
        assert_eq!(want("status "), Want::StatefulSets);
        assert_eq!(want("-n shop rollout "), Want::StatefulSets);
        assert_eq!(want("recover "), Want::StatefulSetPods);
        assert_eq!(want("recover --ordinal 1 "), Want::StatefulSets);
        assert_eq!(want("status -n "), Want::Namespaces);
        assert_eq!(
            want("pvc "),
            Want::Words(vec!["prune".to_owned(), "resize".to_owned(), "restore".to_owned()])
        );
        assert_eq!(want("pvc restore "), Want::StatefulSets);
        assert_eq!(want("pvc resize "), Want::StatefulSets);
        assert_eq!(want("status web "), Want::Nothing);
        let Want::Words(formats) = want("status -o ") else { panic!() };
        assert_eq!(formats, ["table", "wide", "json", "yaml", "dns", "name", "jsonpath=TEMPLATE"]);
        // Only `status` prints `dns`.
        let Want::Words(formats) = want("pvc prune web -o ") else { panic!() };
        assert_eq!(formats, ["table", "wide", "json", "yaml"]);
        let Want::Words(flags) = want("rollout web --") else { panic!() };
        assert!(flags.contains(&"--image".to_owned()) && flags.contains(&"--namespace".to_owned()));
    }

    #[test]
    fn reads_connection_flags_for_the_lookup() {
        let words: Vec<String> = ["--context", "prod", "-n", "db", "status"].map(str::to_owned).to_vec();
        let (_, args) = wanted(&words, "");
        assert_eq!(
            (args.context.last().map(String::as_str), args.namespace.as_deref()),
            (Some("prod"), Some("db"))
        );
    }
}
