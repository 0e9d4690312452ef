//! Read-only commands across several kubeconfig contexts (`status -A --context a --context b`,
//! `--all-contexts`): each context connected and queried on its own, a bounded number at once,
//! each within its own deadline; a context that fails is a result, not a failed run. The merge
//! and the summary are the core's ([`crate::core::fleet`]).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use kube::config::{ExecInteractiveMode, Kubeconfig};
use tokio::sync::Mutex;

use crate::client::{Kube, KubeArgs};
use crate::error::{Error, Result, Stop};

/// How many contexts are queried at once.
const AT_ONCE: usize = 4;

/// How long one context may take, connection and every read included, unless
/// `--request-timeout` says otherwise.
const CONTEXT_DEADLINE: Duration = Duration::from_secs(30);

/// The contexts a fleet run queries: `--context` as given, or with `all` every context of the
/// kubeconfig ([`crate::core::fleet::contexts_to_query`]).
///
/// # Errors
/// [`Error::Kubeconfig`] when `all` and the kubeconfig cannot be read; [`Error::Usage`] when it
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

/// Runs `query` in each of `contexts` (at most [`AT_ONCE`] at a time, each within its deadline)
/// and returns each context's outcome in the order given, errors as one line. Contexts whose
/// user runs an exec credential plugin that may ask something (`interactiveMode` other than
/// `Never`) are run one after the other, never two prompts at once.
pub async fn each<T, F, Fut>(
    kube_args: &KubeArgs,
    contexts: &[String],
    query: F,
) -> Vec<(String, Result<T, String>)>
where
    F: Fn(Kube) -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let kubeconfig = kube_args.kubeconfig().ok();
    let deadline = kube_args.request_timeout.filter(|t| !t.is_zero()).unwrap_or(CONTEXT_DEADLINE);
    let prompts = Arc::new(Mutex::new(()));
    let query = &query;
    let mut results: Vec<(usize, String, Result<T, String>)> =
        futures::stream::iter(contexts.iter().enumerate())
            .map(|(i, context)| {
                let args = kube_args.for_context(context);
                let interactive = kubeconfig.as_ref().is_some_and(|k| may_prompt(k, context));
                let prompts = prompts.clone();
                async move {
                    let _turn = match interactive {
                        true => Some(prompts.lock_owned().await),
                        false => None,
                    };
                    let run = async {
                        let kube = args.connect().await?;
                        query(kube).await
                    };
                    let outcome = match tokio::time::timeout(deadline, run).await {
                        Ok(Ok(value)) => Ok(value),
                        Ok(Err(error)) => Err(first_line(&error)),
                        Err(_) => Err(format!("no answer within {}", humantime::format_duration(deadline))),
                    };
                    (i, context.clone(), outcome)
                }
            })
            .buffer_unordered(AT_ONCE)
            .collect()
            .await;
    results.sort_by_key(|(i, _, _)| *i);
    results.into_iter().map(|(_, context, outcome)| (context, outcome)).collect()
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
