//! Reading the cluster: one LIST per kind, run concurrently, never one GET per ordinal, so the
//! number of requests does not grow with replicas. Cluster-scoped kinds a user may not read
//! (PersistentVolumes, Nodes) degrade to "unknown" instead of failing the command.

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::Mutex;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::{ControllerRevision, StatefulSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{
    ConfigMap, Event, Namespace, Node, PersistentVolume, PersistentVolumeClaim, Pod, Service,
};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::storage::v1::StorageClass;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, ListParams, ObjectList};
use kube::core::{Expression, NamespaceResourceScope, Selector};
use kube::{Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;

use crate::client::Kube;
use crate::core::claims::claims_of;
use crate::core::facts::{self, Honoured};
use crate::core::narrow::{self, POD_NAME_LABEL};
use crate::core::objects::{current_revision, owned_elsewhere, selector, service_name, update_revision};
use crate::core::owners::AppSync;
use crate::core::reads::{Reads, VolumeSnapshots};
use crate::core::resize::{self, MidSwap};
use crate::core::status;
use crate::core::volume_snapshots::{GROUP, VolumeSnapshot};
use crate::error::{Error, Result, Stop, describe_kube_error};
use crate::output::Streams;

/// Objects per LIST page: large enough that a 1,000-replica StatefulSet (2,000 claims) is one
/// request per kind, small enough to bound a single response on a huge cluster.
const PAGE_SIZE: u32 = 5000;

/// Objects per LIST page when every pod of some namespaces is read (`-A`): each page is
/// reduced ([`narrow::slim_pod`]) before the next is asked for, so a small page bounds what is
/// held at once.
const EVERY_POD_PAGE_SIZE: u32 = 500;

/// At most this many namespaces have every pod read one LIST each (four at a time): a
/// namespace's LIST reads only its own pods. More than that are read with one paged LIST of all
/// namespaces, filtered page by page, rather than hundreds of requests.
const EVERY_POD_NAMESPACE_LISTS: usize = 32;

/// How many times a LIST starts again after its continue token expired, before failing.
const LIST_RESTARTS: u32 = 2;

/// The LISTs of this process that started again after a 410, one line each, for stderr.
static RESTARTED_LISTS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Where to look: one namespace or all of them.
#[derive(Debug, Clone)]
pub enum Scope {
    Namespace(String),
    All,
}

impl Scope {
    /// `-A` means every namespace; otherwise the command's namespace.
    pub fn from_flags(all_namespaces: bool, kube: &Kube) -> Scope {
        if all_namespaces { Scope::All } else { Scope::Namespace(kube.namespace.clone()) }
    }

    pub fn api<K>(&self, client: &Client) -> Api<K>
    where
        K: Resource<Scope = NamespaceResourceScope>,
        K::DynamicType: Default,
    {
        match self {
            Scope::Namespace(ns) => Api::namespaced(client.clone(), ns),
            Scope::All => Api::all(client.clone()),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Scope::Namespace(ns) => format!("in namespace {ns}"),
            Scope::All => "in all namespaces".to_owned(),
        }
    }
}

/// What besides StatefulSets, pods, claims and Services a command needs.
#[derive(Debug, Clone, Copy, Default)]
pub struct Extras {
    pub volumes: bool,
    pub nodes: bool,
    pub services: bool,
    pub autoscalers: bool,
    /// What this API server does where versions and feature gates differ: whether it keeps
    /// `maxUnavailable` (asked only when some StatefulSet sets it above one) and the
    /// ControllerRevisions of StatefulSets whose revisions differ ([`server_facts`]).
    pub facts: bool,
    /// Warning events about StatefulSets: what the controller fails to do.
    pub events: bool,
    /// The namespaces, to see one being deleted.
    pub namespaces: bool,
    /// The StorageClasses, when some claim is smaller than its template or resizing.
    pub storage_classes: bool,
    /// The VolumeSnapshots (one LIST; a cluster without the API answers 404, which is no
    /// error and no note).
    pub volume_snapshots: bool,
    /// The PodDisruptionBudgets in scope, for the quorum audit.
    pub budgets: bool,
    /// The journals of `pvc resize` swaps in scope (ConfigMaps this tool labels), to say which
    /// sets are mid-swap.
    pub swaps: bool,
}

/// Reads one StatefulSet, naming the namespace when that is what does not exist.
pub async fn statefulset(kube: &Kube, namespace: &str, name: &str) -> Result<StatefulSet> {
    let api: Api<StatefulSet> = kube.api_in(namespace);
    match api.get_opt(name).await.map_err(Error::kube(format!("read StatefulSet {namespace}/{name}")))? {
        Some(sts) => Ok(sts),
        None => match mid_swap(kube, namespace, name, None).await? {
            // Gone because `pvc resize` swaps it: not "not found", but what stands and the way out.
            Some(mid) => Err(Stop::MidResize(Box::new(mid)).into()),
            None => Err(missing(kube, namespace, "StatefulSet", name).await),
        },
    }
}

/// The half-done `pvc resize` swap of the StatefulSet `name` (`now`, as read), from its journal
/// ConfigMap; `None` when there is none, or ConfigMaps may not be read.
pub async fn mid_swap(
    kube: &Kube,
    namespace: &str,
    name: &str,
    now: Option<&StatefulSet>,
) -> Result<Option<MidSwap>> {
    let configmaps: Api<ConfigMap> = kube.api_in(namespace);
    let cm_name = resize::journal_name(name);
    let read = configmaps.get_opt(&cm_name).await.map_err(Error::kube(format!("read ConfigMap {cm_name}")));
    let Some(cm) = forbidden_as_none(read)?.flatten() else { return Ok(None) };
    let Some(journal) = resize::journal_of(&cm) else { return Ok(None) };
    let pods = list::<Pod>(&kube.client, &Scope::Namespace(namespace.to_owned()), None).await?;
    let since = cm.metadata.creation_timestamp.as_ref().map(|t| t.0);
    Ok(Some(MidSwap::of(&journal, namespace, since, now, &pods, &kube.flags)))
}

/// Refuses to act on `sts` while a `pvc resize` swap of it is half done (its journal exists):
/// the pods may have no controller, and what the swap re-creates would undo the change.
pub async fn refuse_mid_swap(kube: &Kube, sts: &StatefulSet) -> Result<()> {
    let namespace = sts.namespace().unwrap_or_default();
    match mid_swap(kube, &namespace, &sts.name_any(), Some(sts)).await? {
        Some(mid) => Err(Stop::MidResize(Box::new(mid)).into()),
        None => Ok(()),
    }
}

/// The error for a missing object: [`Error::NamespaceNotFound`] when the namespace itself is
/// missing (and readable), else [`Error::NotFound`].
pub async fn missing(kube: &Kube, namespace: &str, kind: &'static str, name: &str) -> Error {
    if namespace_missing(kube, namespace).await {
        Error::NamespaceNotFound(namespace.to_owned())
    } else {
        Error::NotFound { kind, name: name.to_owned(), namespace: namespace.to_owned() }
    }
}

/// The namespace in scope (or all of them), `None` when they may not be read or nobody asked.
async fn optional_namespaces(kube: &Kube, scope: &Scope, wanted: bool) -> Result<Option<Vec<Namespace>>> {
    if !wanted {
        return Ok(None);
    }
    match scope {
        Scope::Namespace(ns) => Ok(optional_namespace(kube, ns).await?.map(|n| vec![n])),
        Scope::All => {
            // Only a deletion in progress is looked at, which metadata says.
            let api: Api<Namespace> = kube.api_all();
            let listed =
                api.list_metadata(&ListParams::default()).await.map_err(Error::kube("list namespaces"));
            Ok(forbidden_as_none(listed)?.map(|list| {
                list.items
                    .into_iter()
                    .map(|n| Namespace { metadata: n.metadata, ..Namespace::default() })
                    .collect()
            }))
        }
    }
}

/// The namespace object, or `None` when it may not be read (it is only consulted, for a
/// deletion in progress).
pub async fn optional_namespace(kube: &Kube, namespace: &str) -> Result<Option<Namespace>> {
    let api: Api<Namespace> = kube.api_all();
    let read = api.get_opt(namespace).await.map_err(Error::kube(format!("read namespace {namespace}")));
    Ok(forbidden_as_none(read)?.flatten())
}

/// True only when the namespace is known not to exist (an unreadable one is not "missing").
async fn namespace_missing(kube: &Kube, namespace: &str) -> bool {
    let namespaces: Api<Namespace> = kube.api_all();
    matches!(namespaces.get_opt(namespace).await, Ok(None))
}

/// Everything about one StatefulSet: its pods (by its selector), the namespace's claims (names
/// decide attribution, so unlabelled look-alikes are seen too), its governing Service, the
/// cluster's PVs and Nodes, and the controller's Warning events about it.
///
/// When some claim lies outside the live ordinals, the namespace's other pods and
/// StatefulSets are read too (two more LISTs): whether such a claim is an orphan depends on
/// who mounts it and who else would (the rules of `core::orphans`, which `pvc prune` applies).
/// So they are when a live ordinal has no pod of the set (a pod its selector does not match may
/// hold that pod's name, which keeps the controller from creating it: `core::members`), and
/// when another object owns a live claim (another StatefulSet's pod may mount it too).
pub async fn reads_of(kube: &Kube, sts: StatefulSet, extras: Extras) -> Result<Reads> {
    let namespace = sts.metadata.namespace.clone().unwrap_or_else(|| kube.namespace.clone());
    let scope = Scope::Namespace(namespace.clone());
    let pod_selector = selector(&sts);
    let service = service_name(&sts).map(str::to_owned);
    let name = sts.name_any();
    let client = &kube.client;
    let services = async {
        match (&service, extras.services) {
            (Some(name), true) => {
                let api: Api<Service> = kube.api_in(&namespace);
                let found = api
                    .get_opt(name)
                    .await
                    .map_err(Error::kube(format!("read Service {namespace}/{name}")))?;
                Ok(found.into_iter().collect())
            }
            _ => Ok(Vec::new()),
        }
    };
    let (
        pods,
        pvcs,
        services,
        volumes,
        nodes,
        autoscalers,
        events,
        namespaces,
        volume_snapshots,
        budgets,
        swap_journals,
    ) = tokio::try_join!(
        list::<Pod>(client, &scope, pod_selector.as_ref()),
        list::<PersistentVolumeClaim>(client, &scope, None),
        services,
        optional_cluster_list::<PersistentVolume>(client, extras.volumes),
        optional_cluster_list::<Node>(client, extras.nodes),
        optional_autoscalers(client, &scope, extras.autoscalers),
        optional_events(client, &scope, Some(&name), extras.events),
        optional_namespaces(kube, &scope, extras.namespaces),
        optional_volume_snapshots(client, &scope, extras.volume_snapshots),
        optional_budgets(client, &scope, extras.budgets),
        optional_swap_journals(client, &scope, extras.swaps),
    )?;
    let (max_unavailable, revisions) = if extras.facts {
        server_facts(kube, &scope, std::slice::from_ref(&sts), pod_selector.as_ref()).await?
    } else {
        (None, None)
    };
    let mut snapshot = Reads {
        statefulsets: vec![sts],
        pods,
        pvcs,
        services,
        volumes,
        nodes,
        autoscalers,
        max_unavailable,
        revisions,
        events,
        namespaces,
        storage_classes: None,
        volume_snapshots,
        budgets,
        swap_journals,
    };
    let sts = &snapshot.statefulsets[0];
    let claims = claims_of(sts, &snapshot.pvcs);
    let elsewhere = claims.iter().any(|c| c.live && owned_elsewhere(c.pvc, sts));
    if claims.iter().any(|c| !c.live) || elsewhere || narrow::unheld(sts, &snapshot.pods) {
        let (pods, statefulsets) =
            tokio::try_join!(list::<Pod>(client, &scope, None), list::<StatefulSet>(client, &scope, None),)?;
        snapshot.pods = pods;
        let others = statefulsets.into_iter().filter(|s| s.name_any() != name);
        snapshot.statefulsets.extend(others);
    }
    snapshot.storage_classes = storage_classes_for(client, &snapshot, extras.storage_classes).await?;
    Ok(snapshot)
}

/// Everything in a namespace (or all), for commands that look at every StatefulSet.
///
/// In one namespace every pod is read (one LIST). Across all namespaces only StatefulSet pods
/// are (selected by the API server), plus every pod of the namespaces where some claim's fate
/// depends on who mounts it ([`narrow::namespaces_needing_every_pod`]), reduced page by page
/// to what the rules read when they belong to no StatefulSet.
pub async fn reads_in(kube: &Kube, scope: &Scope, extras: Extras) -> Result<Reads> {
    let client = &kube.client;
    let services =
        async { if extras.services { list::<Service>(client, scope, None).await } else { Ok(Vec::new()) } };
    let (
        statefulsets,
        pods,
        pvcs,
        services,
        volumes,
        nodes,
        autoscalers,
        events,
        namespaces,
        volume_snapshots,
        budgets,
        swap_journals,
    ) = tokio::try_join!(
        list::<StatefulSet>(client, scope, None),
        pods_to_start_with(client, scope),
        list::<PersistentVolumeClaim>(client, scope, None),
        services,
        optional_cluster_list::<PersistentVolume>(client, extras.volumes),
        optional_cluster_list::<Node>(client, extras.nodes),
        optional_autoscalers(client, scope, extras.autoscalers),
        optional_events(client, scope, None, extras.events),
        optional_namespaces(kube, scope, extras.namespaces),
        optional_volume_snapshots(client, scope, extras.volume_snapshots),
        optional_budgets(client, scope, extras.budgets),
        optional_swap_journals(client, scope, extras.swaps),
    )?;
    if statefulsets.is_empty()
        && let Scope::Namespace(ns) = scope
        && namespace_missing(kube, ns).await
    {
        return Err(Error::NamespaceNotFound(ns.clone()));
    }
    let needed = match scope {
        Scope::All => narrow::namespaces_needing_every_pod(&statefulsets, &pvcs, &pods),
        Scope::Namespace(_) => BTreeSet::new(),
    };
    let every_pod =
        async { if needed.is_empty() { Ok(Vec::new()) } else { every_pod_in(client, &needed).await } };
    let facts = async {
        if extras.facts { server_facts(kube, scope, &statefulsets, None).await } else { Ok((None, None)) }
    };
    let (every_pod, (max_unavailable, revisions)) = tokio::try_join!(every_pod, facts)?;
    let mut pods = pods;
    pods.retain(|p| !p.metadata.namespace.as_ref().is_some_and(|ns| needed.contains(ns)));
    pods.extend(every_pod);
    let mut snapshot = Reads {
        statefulsets,
        pods,
        pvcs,
        services,
        volumes,
        nodes,
        autoscalers,
        max_unavailable,
        revisions,
        events,
        namespaces,
        storage_classes: None,
        volume_snapshots,
        budgets,
        swap_journals,
    };
    snapshot.storage_classes = storage_classes_for(client, &snapshot, extras.storage_classes).await?;
    Ok(snapshot)
}

/// The `pvc resize` swap journals in `scope` (ConfigMaps labelled as this tool's); none when
/// ConfigMaps may not be read, or nobody asked.
async fn optional_swap_journals(client: &Client, scope: &Scope, wanted: bool) -> Result<Vec<ConfigMap>> {
    if !wanted {
        return Ok(Vec::new());
    }
    let ours = Selector::from(Expression::Equal(
        "app.kubernetes.io/managed-by".to_owned(),
        crate::core::owners::FIELD_MANAGER.to_owned(),
    ));
    let listed = forbidden_as_none(list::<ConfigMap>(client, scope, Some(&ours)).await)?.unwrap_or_default();
    Ok(listed.into_iter().filter(|cm| resize::journal_of(cm).is_some()).collect())
}

/// The PodDisruptionBudgets in `scope`, `None` when they may not be read or nobody asked.
pub async fn optional_budgets(
    client: &Client,
    scope: &Scope,
    wanted: bool,
) -> Result<Option<Vec<PodDisruptionBudget>>> {
    if !wanted {
        return Ok(None);
    }
    forbidden_as_none(list::<PodDisruptionBudget>(client, scope, None).await)
}

/// The StorageClasses, read only when some claim in `snapshot` is smaller than its template or
/// reports a resize condition (how it can grow depends on its class), so the usual `status`
/// stays at its requests;
/// `None` when they may not be read or are not needed.
pub async fn storage_classes_for(
    client: &Client,
    snapshot: &Reads,
    wanted: bool,
) -> Result<Option<Vec<StorageClass>>> {
    optional_cluster_list::<StorageClass>(client, wanted && status::wants_storage_classes(snapshot)).await
}

/// Warning events about StatefulSets (one of them, or all) and about pods, filtered by the API
/// server (field selectors on `involvedObject.kind` and `type`; a field selector cannot say
/// "pods of this set", so the core picks them out by name and uid): what the controller fails to
/// do, and why a pod is not Ready as its kubelet or the scheduler says. `None` when they may not
/// be read.
pub async fn optional_events(
    client: &Client,
    scope: &Scope,
    statefulset: Option<&str>,
    wanted: bool,
) -> Result<Option<Vec<Event>>> {
    if !wanted {
        return Ok(None);
    }
    let mut fields = "involvedObject.kind=StatefulSet,type=Warning".to_owned();
    if let Some(name) = statefulset {
        fields.push_str(&format!(",involvedObject.name={name}"));
    }
    let api: Api<Event> = scope.api(client);
    let what = format!("list events {}", scope.describe());
    let (controller, pods) = tokio::try_join!(
        async { forbidden_as_none(paged(&api, ListParams::default().fields(&fields), &what).await) },
        async {
            let pods = ListParams::default().fields("involvedObject.kind=Pod,type=Warning");
            forbidden_as_none(paged(&api, pods, &what).await)
        },
    )?;
    Ok(controller.map(|mut events| {
        events.extend(pods.unwrap_or_default());
        events
    }))
}

/// The VolumeSnapshots in `scope`, one paged LIST: [`VolumeSnapshots::NoApi`] when the cluster
/// does not serve `snapshot.storage.k8s.io/v1` (404, no discovery round trip needed) or nobody
/// asked, [`VolumeSnapshots::Forbidden`] on 403.
pub async fn optional_volume_snapshots(
    client: &Client,
    scope: &Scope,
    wanted: bool,
) -> Result<VolumeSnapshots> {
    if !wanted {
        return Ok(VolumeSnapshots::NoApi);
    }
    let resource = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk(GROUP, "v1", "VolumeSnapshot"),
        "volumesnapshots",
    );
    let api: Api<DynamicObject> = match scope {
        Scope::Namespace(ns) => Api::namespaced_with(client.clone(), ns, &resource),
        Scope::All => Api::all_with(client.clone(), &resource),
    };
    let what = format!("list volumesnapshots.{GROUP} {}", scope.describe());
    match paged(&api, ListParams::default(), &what).await {
        Ok(items) => Ok(VolumeSnapshots::Read(
            items
                .iter()
                .filter_map(|o| VolumeSnapshot::from_json(&serde_json::to_value(o).unwrap_or_default()))
                .collect(),
        )),
        Err(e) if e.status_code() == Some(404) => Ok(VolumeSnapshots::NoApi),
        Err(e) if e.status_code() == Some(403) => Ok(VolumeSnapshots::Forbidden),
        Err(e) => Err(e),
    }
}

/// The StatefulSets of `scope` that the label selector `selector` (`-l`) selects, as the API
/// server evaluates it (one LIST of their metadata with `labelSelector`): their namespaces and
/// names. A selector it cannot parse (400) is a usage error.
pub async fn selected(kube: &Kube, scope: &Scope, selector: &str) -> Result<BTreeSet<(String, String)>> {
    let api: Api<StatefulSet> = scope.api(&kube.client);
    let params = ListParams::default().labels(selector);
    match api.list_metadata(&params).await {
        Ok(list) => Ok(list
            .items
            .into_iter()
            .map(|m| (m.metadata.namespace.unwrap_or_default(), m.metadata.name.unwrap_or_default()))
            .collect()),
        Err(kube::Error::Api(status)) if status.code == 400 => {
            Err(Stop::BadSelector { selector: selector.to_owned(), why: status.message }.into())
        }
        Err(e) => {
            Err(Error::kube(format!("list statefulsets {} selected by {selector}", scope.describe()))(e))
        }
    }
}

/// Lists every object of a namespaced kind in `scope`, page by page.
pub async fn list<K>(client: &Client, scope: &Scope, selector: Option<&Selector>) -> Result<Vec<K>>
where
    K: Resource<Scope = NamespaceResourceScope> + Clone + DeserializeOwned + std::fmt::Debug,
    K::DynamicType: Default,
{
    let api: Api<K> = scope.api(client);
    let what = format!("list {} {}", K::plural(&Default::default()), scope.describe());
    let mut params = ListParams::default();
    if let Some(selector) = selector {
        params = params.labels_from(selector);
    }
    paged(&api, params, &what).await
}

/// The pods a snapshot starts with: every pod of one namespace, or across all namespaces the
/// StatefulSet pods only (label [`POD_NAME_LABEL`], selected by the API server).
async fn pods_to_start_with(client: &Client, scope: &Scope) -> Result<Vec<Pod>> {
    match scope {
        Scope::Namespace(_) => list::<Pod>(client, scope, None).await,
        Scope::All => {
            let labelled = Selector::from(Expression::Exists(POD_NAME_LABEL.to_owned()));
            list::<Pod>(client, scope, Some(&labelled)).await
        }
    }
}

/// Every pod of `namespaces`, those of no StatefulSet reduced to what the rules read
/// ([`narrow::slim_pod`]) page by page: one LIST per namespace (a few at a time) when there are
/// few of them, else one LIST of all namespaces that keeps only theirs.
async fn every_pod_in(client: &Client, namespaces: &BTreeSet<String>) -> Result<Vec<Pod>> {
    let keep = |pod: Pod| Some(if narrow::statefulset_pod(&pod) { pod } else { narrow::slim_pod(pod) });
    let params = ListParams::default().limit(EVERY_POD_PAGE_SIZE);
    if namespaces.len() <= EVERY_POD_NAMESPACE_LISTS {
        let lists = namespaces.iter().map(|ns| {
            let api: Api<Pod> = Api::namespaced(client.clone(), ns);
            let params = params.clone();
            async move { paged_map(&api, params, &format!("list pods in namespace {ns}"), keep).await }
        });
        let pods: Vec<Vec<Pod>> = futures::stream::iter(lists).buffer_unordered(4).try_collect().await?;
        return Ok(pods.into_iter().flatten().collect());
    }
    let api: Api<Pod> = Api::all(client.clone());
    let wanted = |pod: Pod| {
        let ours = pod.metadata.namespace.as_ref().is_some_and(|ns| namespaces.contains(ns));
        if ours { keep(pod) } else { None }
    };
    paged_map(&api, params, "list pods in all namespaces", wanted).await
}

async fn paged<K>(api: &Api<K>, params: ListParams, what: &str) -> Result<Vec<K>>
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug,
{
    paged_map(api, params.limit(PAGE_SIZE), what, Some).await
}

/// Lists page by page (the page size is in `params`), keeping what `keep` makes of each
/// object before the next page is asked for.
async fn paged_map<K, T>(
    api: &Api<K>,
    params: ListParams,
    what: &str,
    keep: impl FnMut(K) -> Option<T>,
) -> Result<Vec<T>>
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug,
{
    let page = |token: Option<String>| {
        let params = match &token {
            Some(token) => params.clone().continue_token(token),
            None => params.clone(),
        };
        async move {
            let page: ObjectList<K> = api.list(&params).await?;
            Ok((page.items, page.metadata.continue_))
        }
    };
    let restarted = pages(page, keep, LIST_RESTARTS).await.map_err(Error::kube(what))?;
    if restarted.restarts > 0 {
        record_restart(what, restarted.restarts);
    }
    Ok(restarted.items)
}

/// What [`pages`] read, and how many times it had to start again.
#[derive(Debug, PartialEq)]
struct Paged<T> {
    items: Vec<T>,
    restarts: u32,
}

/// Drives a paged LIST: `page(continue)` returns one page and the next continue token (none
/// or empty on the last page). A continue token the API server no longer serves (410 Expired:
/// etcd was compacted past the list's resourceVersion, `storage.ErrResourceExpired` in
/// k8s.io/apiserver) restarts the list from its first page, dropping what was read: the rest
/// of the pages would come from a different point in time, and a prune must not judge a claim
/// against a mix. The 410 answer's own "inconsistent continue" token is deliberately not used.
/// After `max_restarts` restarts the 410 is returned.
async fn pages<K, T, F, Fut>(
    mut page: F,
    mut keep: impl FnMut(K) -> Option<T>,
    max_restarts: u32,
) -> kube::Result<Paged<T>>
where
    F: FnMut(Option<String>) -> Fut,
    Fut: Future<Output = kube::Result<(Vec<K>, Option<String>)>>,
{
    let mut items = Vec::new();
    let mut token: Option<String> = None;
    let mut restarts = 0;
    loop {
        let continued = token.is_some();
        match page(token.take()).await {
            Ok((batch, next)) => {
                items.extend(batch.into_iter().filter_map(&mut keep));
                match next.filter(|c| !c.is_empty()) {
                    Some(next) => token = Some(next),
                    None => return Ok(Paged { items, restarts }),
                }
            }
            Err(kube::Error::Api(status)) if status.code == 410 && continued && restarts < max_restarts => {
                restarts += 1;
                items.clear();
            }
            Err(e) => return Err(e),
        }
    }
}

fn record_restart(what: &str, restarts: u32) {
    let times = if restarts == 1 { "once".to_owned() } else { format!("{restarts} times") };
    let line = format!(
        "{what}: the API server expired the list's continue token between pages (410), so it was read again from the start ({times})"
    );
    RESTARTED_LISTS.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(line);
}

/// Warns on stderr about every LIST of this process that had to start again (see [`pages`]).
pub fn report_restarted_lists(io: &mut Streams) {
    let lines =
        std::mem::take(&mut *RESTARTED_LISTS.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
    for line in lines {
        io.warn(line);
    }
}

/// A cluster-scoped list that `None` stands in for when the caller may not read it.
async fn optional_cluster_list<K>(client: &Client, wanted: bool) -> Result<Option<Vec<K>>>
where
    K: Resource<Scope = kube::core::ClusterResourceScope> + Clone + DeserializeOwned + std::fmt::Debug,
    K::DynamicType: Default,
{
    if !wanted {
        return Ok(None);
    }
    let api: Api<K> = Api::all(client.clone());
    forbidden_as_none(
        paged(&api, ListParams::default(), &format!("list {}", K::plural(&Default::default()))).await,
    )
}

async fn optional_autoscalers(
    client: &Client,
    scope: &Scope,
    wanted: bool,
) -> Result<Option<Vec<HorizontalPodAutoscaler>>> {
    if !wanted {
        return Ok(None);
    }
    forbidden_as_none(list::<HorizontalPodAutoscaler>(client, scope, None).await)
}

/// A read these credentials may not make (403) is `None`, not an error; any other failure is.
/// How the Argo CD Application `namespace/name` syncs (`Replace=true` or not), read from its
/// `spec.syncPolicy.syncOptions`; unknown, with why, when it cannot be read (no Application CRD
/// in this cluster, Argo CD running elsewhere, no permission, no such Application here). One
/// GET, never an error: the guard then says what it could not check.
pub async fn argo_application_sync(kube: &Kube, namespace: &str, name: &str) -> AppSync {
    let resource = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("argoproj.io", "v1alpha1", "Application"),
        "applications",
    );
    let api: Api<DynamicObject> = Api::namespaced_with(kube.client.clone(), namespace, &resource);
    match api.get_opt(name).await {
        Ok(Some(app)) => match serde_json::to_value(&app) {
            Ok(json) => {
                AppSync::of(&json, format!("Application {namespace}/{name}'s spec.syncPolicy.syncOptions"))
            }
            Err(e) => AppSync::Unknown(e.to_string()),
        },
        Ok(None) => AppSync::Unknown(format!("no Application {namespace}/{name} in this cluster")),
        Err(e) => AppSync::Unknown(describe_kube_error(&e)),
    }
}

pub fn forbidden_as_none<T>(result: Result<T>) -> Result<Option<T>> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(e) if e.status_code() == Some(403) => Ok(None),
        Err(e) => Err(e),
    }
}

/// What the server does where Kubernetes versions and feature gates differ, read only when it
/// matters to one of `statefulsets`: whether it keeps `maxUnavailable` (one server-side dry
/// run, for the first set that sets or asks for it above one), and the ControllerRevisions
/// (by `selector` when given) when some set's current and update revisions differ, to compare
/// their templates. Both degrade to "unknown" rather than failing the command.
pub async fn server_facts(
    kube: &Kube,
    scope: &Scope,
    statefulsets: &[StatefulSet],
    selector: Option<&Selector>,
) -> Result<(Option<Honoured>, Option<Vec<ControllerRevision>>)> {
    let probe = async {
        match statefulsets.iter().find(|s| facts::max_unavailable_matters(s)) {
            Some(sts) => Some(max_unavailable_honoured(kube, sts).await),
            None => None,
        }
    };
    let revisions = async {
        if statefulsets.iter().any(|s| current_revision(s) != update_revision(s)) {
            forbidden_as_none(list::<ControllerRevision>(&kube.client, scope, selector).await)
        } else {
            Ok(None)
        }
    };
    let (honoured, revisions) = tokio::join!(probe, revisions);
    Ok((honoured, revisions?))
}

/// Whether this API server keeps `maxUnavailable`: a server-side dry run of creating a copy of
/// `sts` that asks for it ([`facts::probe`]); nothing is stored.
pub async fn max_unavailable_honoured(kube: &Kube, sts: &StatefulSet) -> Honoured {
    let namespace = sts.namespace().unwrap_or_else(|| kube.namespace.clone());
    match crate::write::Probe::new(kube).create(&namespace, &facts::probe(sts)).await {
        Ok(created) => Honoured::from_dry_run(&created),
        Err(kube::Error::Api(status)) if status.code == 403 => Honoured::Unknown(format!(
            "no permission to create StatefulSets in namespace {namespace}, which even a server-side dry run needs"
        )),
        Err(e) => Honoured::Unknown(format!("a server-side dry run failed: {}", describe_kube_error(&e))),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use super::*;

    /// A page as the API server answers it: items and the next continue token, or a status code.
    type Answer = std::result::Result<(Vec<u32>, Option<&'static str>), u16>;

    /// Runs [`pages`] over scripted answers, checking the continue token each request sends.
    fn run(script: Vec<(Option<&'static str>, Answer)>, max_restarts: u32) -> kube::Result<Paged<u32>> {
        let script = std::cell::RefCell::new(VecDeque::from(script));
        let page = |token: Option<String>| {
            let (sent, answer) =
                script.borrow_mut().pop_front().expect("a request the script did not expect");
            assert_eq!(token.as_deref(), sent, "continue token sent");
            let answer = answer.map(|(items, next)| (items, next.map(str::to_owned))).map_err(|code| {
                kube::Error::Api(Box::new(kube::core::Status { code, ..Default::default() }))
            });
            async move { answer }
        };
        let paged = tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(pages(
            page,
            Some,
            max_restarts,
        ));
        assert!(script.borrow().is_empty(), "requests the list did not make");
        paged
    }

    #[test]
    fn pages_are_read_until_the_token_runs_out() {
        let paged = run(vec![(None, Ok((vec![1, 2], Some("a")))), (Some("a"), Ok((vec![3], Some(""))))], 2);
        assert_eq!(paged.unwrap(), Paged { items: vec![1, 2, 3], restarts: 0 });
    }

    #[test]
    fn an_expired_continue_token_restarts_the_list_without_what_was_read() {
        let paged = run(
            vec![
                (None, Ok((vec![1, 2], Some("a")))),
                (Some("a"), Err(410)),
                // Read again from the start: the first page may differ now.
                (None, Ok((vec![1, 4], Some("b")))),
                (Some("b"), Ok((vec![5], None))),
            ],
            2,
        );
        assert_eq!(paged.unwrap(), Paged { items: vec![1, 4, 5], restarts: 1 });
    }

    #[test]
    fn restarts_are_bounded() {
        let expiring = |first| vec![(None, Ok((vec![first], Some("a")))), (Some("a"), Err(410))];
        let script = [expiring(1), expiring(2), expiring(3)].concat();
        let error = run(script, 2).unwrap_err();
        assert!(matches!(error, kube::Error::Api(status) if status.code == 410));
    }

    #[test]
    fn a_410_on_the_first_page_is_an_error_not_a_restart() {
        let error = run(vec![(None, Err(410))], 2).unwrap_err();
        assert!(matches!(error, kube::Error::Api(status) if status.code == 410));
    }

    #[test]
    fn other_errors_between_pages_are_not_retried() {
        let error = run(vec![(None, Ok((vec![1], Some("a")))), (Some("a"), Err(500))], 2).unwrap_err();
        assert!(matches!(error, kube::Error::Api(status) if status.code == 500));
    }
}
