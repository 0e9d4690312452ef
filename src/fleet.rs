//! Read-only commands across several kubeconfig contexts (`status -A --context a --context b`,
//! `--all-contexts`): each context connected and queried on its own, a bounded number at once,
//! each within its own deadline; a context that fails is a result, not a failed run. An exec
//! credential plugin runs off kube's synchronous path with a deadline of its own
//! (`client::exec`), so one that hangs fails its own context and holds up no other. The merge
//! and the summary are the core's ([`crate::core::fleet`]), which counts contexts that reach one
//! cluster once (its identity is read here: [`identify`]).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::Api;
use kube::config::{ExecInteractiveMode, Kubeconfig};
use tokio::sync::Mutex;

use crate::client::{Kube, KubeArgs};
use crate::core::fleet::ClusterIdentity;
use crate::error::{Error, Result, Stop};

/// How many contexts are queried at once.
const AT_ONCE: usize = 4;

/// How long one context's reads may take, unless `--request-timeout` says otherwise; its exec
/// credential plugin, if any, gets as long again, before them.
const CONTEXT_DEADLINE: Duration = Duration::from_secs(30);

/// What one context of a fleet run gave, and the cluster it reached when that is known.
pub struct Outcome<T> {
    pub context: String,
    pub result: Result<T, String>,
    pub cluster: Option<ClusterIdentity>,
    /// The error itself when it was a usage error (exit 2, e.g. a `-l` the API server cannot
    /// parse): the run's flags are wrong, not the context, so the run stops on it
    /// ([`usage_error`]) instead of listing it as one context's failure.
    pub usage: Option<Error>,
}

/// The first usage error among `outcomes` ([`Outcome::usage`]), taken out.
pub fn usage_error<T>(outcomes: &mut [Outcome<T>]) -> Option<Error> {
    outcomes.iter_mut().find_map(|o| o.usage.take())
}

/// The contexts a fleet run queries: `--context` as given, or with `all` every context of the
/// kubeconfig ([`crate::core::fleet::contexts_to_query`]).
///
/// # Errors
/// [`Error::Kubeconfig`] when `all` and the kubeconfig cannot be read; [`Stop::NoContexts`] when it
/// has no contexts.
pub fn contexts(kube_args: &KubeArgs, all: bool) -> Result<Vec<String>> {
    let in_kubeconfig = if all { kubeconfig_contexts(kube_args)? } else { Vec::new() };
    let contexts = crate::core::fleet::contexts_to_query(&kube_args.context, all, &in_kubeconfig);
    if contexts.is_empty() {
        return Err(Stop::NoContexts.into());
    }
    Ok(contexts)
}

/// What the exit code says of a fleet run once everything readable was written: `Ok`, or
/// [`Error::ContextsFailed`] naming the first of `outcomes` (context, error if it failed) that
/// could not be read.
pub fn failures<'a>(outcomes: impl IntoIterator<Item = (&'a str, Option<&'a str>)>) -> Result<()> {
    let (mut total, mut failed, mut first) = (0, 0, None);
    for (context, error) in outcomes {
        total += 1;
        if let Some(error) = error {
            failed += 1;
            first.get_or_insert_with(|| format!("{context}: {error}"));
        }
    }
    match first {
        Some(first) => Err(Error::ContextsFailed { failed, total, first }),
        None => Ok(()),
    }
}

/// The names of the kubeconfig's contexts, in its order.
///
/// # Errors
/// [`Error::Kubeconfig`] when there is no kubeconfig or it does not parse.
fn kubeconfig_contexts(kube_args: &KubeArgs) -> Result<Vec<String>> {
    Ok(kube_args.kubeconfig()?.contexts.iter().map(|c| c.name.clone()).collect())
}

/// Runs `query` in each of `contexts` (at most [`AT_ONCE`] at a time, each within its deadline,
/// and its exec credential plugin within one of its own) and returns each context's outcome in
/// the order given, errors as one line, with the cluster it reached ([`identify`]). Contexts
/// whose user runs an exec credential plugin that may ask something (`interactiveMode` other
/// than `Never`) are run one after the other, never two prompts at once.
pub async fn each_with_cluster<T, F, Fut>(
    kube_args: &KubeArgs,
    contexts: &[String],
    query: F,
) -> Vec<Outcome<T>>
where
    F: Fn(Kube) -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let kubeconfig = kube_args.kubeconfig().ok();
    let deadline = kube_args.request_timeout.filter(|t| !t.is_zero()).unwrap_or(CONTEXT_DEADLINE);
    let prompts = Arc::new(Mutex::new(()));
    let query = &query;
    let mut results: Vec<(usize, Outcome<T>)> = futures::stream::iter(contexts.iter().enumerate())
        .map(|(i, context)| {
            let args = kube_args.for_context(context);
            let interactive = kubeconfig.as_ref().is_some_and(|k| may_prompt(k, context));
            let prompts = prompts.clone();
            async move {
                let _turn = match interactive {
                    true => Some(prompts.lock_owned().await),
                    false => None,
                };
                let outcome =
                    |result, cluster| (i, Outcome { context: context.clone(), result, cluster, usage: None });
                let kube = match args.connect_fleet(deadline).await {
                    Ok(kube) => kube,
                    Err(error) => return outcome(Err(first_line(&error)), None),
                };
                let run = async { tokio::join!(identify(&kube), query(kube.clone())) };
                match tokio::time::timeout(deadline, run).await {
                    Ok((cluster, Ok(value))) => outcome(Ok(value), Some(cluster)),
                    Ok((cluster, Err(error))) => {
                        let (i, mut o) = outcome(Err(first_line(&error)), Some(cluster));
                        o.usage = (error.exit_code() == crate::error::exit::USAGE).then_some(error);
                        (i, o)
                    }
                    Err(_) => outcome(
                        Err(format!("no answer within {}", humantime::format_duration(deadline))),
                        None,
                    ),
                }
            }
        })
        .buffer_unordered(AT_ONCE)
        .collect()
        .await;
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, outcome)| outcome).collect()
}

/// The cluster `kube` reaches: the uid of its `kube-system` namespace (one GET of its metadata),
/// else, when that may not be read, its API server's URL ([`ClusterIdentity`]).
pub async fn identify(kube: &Kube) -> ClusterIdentity {
    let namespaces: Api<Namespace> = kube.api_all();
    match namespaces.get_metadata_opt("kube-system").await {
        Ok(Some(namespace)) if namespace.metadata.uid.is_some() => {
            ClusterIdentity::KubeSystemUid(namespace.metadata.uid.unwrap_or_default())
        }
        _ => ClusterIdentity::server(&kube.server),
    }
}

/// Whether the user of `context` authenticates with an exec plugin that may ask something.
fn may_prompt(kubeconfig: &Kubeconfig, context: &str) -> bool {
    let user = kubeconfig
        .contexts
        .iter()
        .find(|c| c.name == context)
        .and_then(|c| c.context.as_ref())
        .and_then(|c| c.user.clone());
    let exec = kubeconfig
        .auth_infos
        .iter()
        .find(|a| Some(&a.name) == user.as_ref())
        .and_then(|a| a.auth_info.as_ref())
        .and_then(|a| a.exec.as_ref());
    exec.is_some_and(|e| !matches!(e.interactive_mode, Some(ExecInteractiveMode::Never)))
}

fn first_line(error: &Error) -> String {
    error.to_string().lines().next().unwrap_or_default().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_name_the_first_failed_context_and_count_them_all() {
        assert!(failures([("a", None), ("b", None)]).is_ok());
        let error = failures([("a", None), ("b", Some("refused")), ("c", Some("forbidden"))]).unwrap_err();
        assert!(matches!(
            error,
            Error::ContextsFailed { failed: 2, total: 3, ref first } if first == "b: refused"
        ));
    }
}
