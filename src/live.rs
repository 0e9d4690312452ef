//! A live view of one StatefulSet kept current by watches (kube-runtime reflectors), for
//! `status --watch` and for every wait ([`crate::wait`]): callers wake on every change instead
//! of polling.

use std::sync::Arc;

use futures::stream::{BoxStream, SelectAll};
use futures::{Stream, StreamExt};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{Node, PersistentVolume, PersistentVolumeClaim, Pod, Service};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::{Api, DynamicObject};
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Resource, ResourceExt};
use serde::de::DeserializeOwned;

use crate::client::Kube;
use crate::core::objects::{selector, service_name};
use crate::core::reads::Reads;
use crate::core::volume_snapshots::VolumeSnapshot;
use crate::error::{Error, Result, Stop};

/// Which kinds besides the StatefulSet and its pods to keep current.
#[derive(Debug, Clone, Copy, Default)]
pub struct Kinds {
    /// The namespace's PersistentVolumeClaims.
    pub claims: bool,
    pub service: bool,
    pub nodes: bool,
    pub volumes: bool,
    /// The namespace's PodDisruptionBudgets.
    pub budgets: bool,
    /// The namespace's VolumeSnapshots (`snapshot.storage.k8s.io/v1`).
    pub volume_snapshots: bool,
}

pub struct Live {
    /// What is watched, for errors (`StatefulSet web`, `the pods on node-7`).
    what: String,
    /// `None` for a watch of a node's pods alone ([`Live::on_node`]).
    statefulset: Option<Store<StatefulSet>>,
    pods: Store<Pod>,
    claims: Option<Store<PersistentVolumeClaim>>,
    service: Option<Store<Service>>,
    nodes: Option<Store<Node>>,
    volumes: Option<Store<PersistentVolume>>,
    budgets: Option<Store<PodDisruptionBudget>>,
    volume_snapshots: Option<Store<DynamicObject>>,
    events: SelectAll<BoxStream<'static, Result<Change, watcher::Error>>>,
    /// Watches that have not finished their initial list yet.
    listing: usize,
}

/// What a watch reported: some change, or the end of its initial list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Change {
    Object,
    Listed,
}

impl Live {
    /// Starts watching `sts` and waits until every watch has listed once.
    pub async fn start(kube: &Kube, sts: &StatefulSet, kinds: Kinds) -> Result<Live> {
        let name = sts.name_any();
        let namespace = sts.namespace().unwrap_or_else(|| kube.namespace.clone());
        let by_name = format!("metadata.name={name}");
        let mut events = SelectAll::new();

        let statefulset = Some(reflect(
            &mut events,
            Api::namespaced(kube.client.clone(), &namespace),
            watcher::Config::default().fields(&by_name),
        ));
        let mut pod_config = watcher::Config::default();
        if let Some(selector) = selector(sts) {
            pod_config = pod_config.labels_from(&selector);
        }
        let pods = reflect(&mut events, Api::namespaced(kube.client.clone(), &namespace), pod_config);
        let claims = kinds.claims.then(|| {
            reflect(&mut events, Api::namespaced(kube.client.clone(), &namespace), watcher::Config::default())
        });
        let service = match (kinds.service, service_name(sts)) {
            (true, Some(svc)) => Some(reflect(
                &mut events,
                Api::namespaced(kube.client.clone(), &namespace),
                watcher::Config::default().fields(&format!("metadata.name={svc}")),
            )),
            _ => None,
        };
        let nodes = kinds
            .nodes
            .then(|| reflect(&mut events, Api::all(kube.client.clone()), watcher::Config::default()));
        let volumes = kinds
            .volumes
            .then(|| reflect(&mut events, Api::all(kube.client.clone()), watcher::Config::default()));
        let budgets = kinds.budgets.then(|| {
            reflect(&mut events, Api::namespaced(kube.client.clone(), &namespace), watcher::Config::default())
        });
        let volume_snapshots = kinds.volume_snapshots.then(|| {
            let resource = crate::volume_snapshots::resource("VolumeSnapshot", "volumesnapshots");
            let api: Api<DynamicObject> = Api::namespaced_with(kube.client.clone(), &namespace, &resource);
            let writer = reflector::store::Writer::new(resource);
            let reader = writer.as_reader();
            let stream =
                reflector::reflector(writer, watcher(api, watcher::Config::default()).default_backoff());
            events.push(changes(stream).boxed());
            reader
        });

        let listing = events.len();
        let live = Live {
            what: format!("StatefulSet {name}"),
            statefulset,
            pods,
            claims,
            service,
            nodes,
            volumes,
            budgets,
            volume_snapshots,
            events,
            listing,
        };
        live.listed().await
    }

    /// Starts watching the pods on `node` (in every namespace), alone, and waits until the
    /// watch has listed once: what a drain waits on for the pods it evicts that belong to no
    /// StatefulSet.
    pub async fn on_node(kube: &Kube, node: &str) -> Result<Live> {
        let mut events = SelectAll::new();
        let pods = reflect(
            &mut events,
            Api::all(kube.client.clone()),
            watcher::Config::default().fields(&format!("spec.nodeName={node}")),
        );
        let live = Live {
            what: format!("the pods on node {node}"),
            statefulset: None,
            pods,
            claims: None,
            service: None,
            nodes: None,
            volumes: None,
            budgets: None,
            volume_snapshots: None,
            listing: events.len(),
            events,
        };
        live.listed().await
    }

    /// Once every watch has listed.
    async fn listed(mut self) -> Result<Live> {
        while self.listing > 0 {
            self.changed().await?;
        }
        Ok(self)
    }

    /// Waits for the next change of anything watched. A watch error (the API server went away,
    /// a permission was revoked) is returned; the watches retry with backoff if called again.
    pub async fn changed(&mut self) -> Result<()> {
        match self.events.next().await {
            Some(Ok(Change::Listed)) => {
                self.listing = self.listing.saturating_sub(1);
                Ok(())
            }
            Some(Ok(Change::Object)) => Ok(()),
            Some(Err(e)) => {
                Err(Error::Kube { context: format!("watch {}", self.what), source: watch_error(e) })
            }
            None => Err(Stop::WatchEnded { what: self.what.clone() }.into()),
        }
    }

    /// Takes in every change that has arrived already, without waiting: a caller that looks at
    /// several watches, waiting on one at a time, brings the others up to date before it
    /// decides on them. Errors are left to the next [`Live::changed`].
    pub fn catch_up(&mut self) {
        use futures::FutureExt;
        while let Some(Some(Ok(change))) = self.events.next().now_or_never() {
            if matches!(change, Change::Listed) {
                self.listing = self.listing.saturating_sub(1);
            }
        }
    }

    /// Waits for a change, then takes in every change that arrives within `settle` of it, so
    /// that a burst (a rollout replacing pods, nodes reporting in) costs one look, not one per
    /// event. For views; waits that act on a change use [`Live::changed`].
    pub async fn settled(&mut self, settle: std::time::Duration) -> Result<()> {
        self.changed().await?;
        let deadline = tokio::time::Instant::now() + settle;
        loop {
            tokio::select! {
                changed = self.changed() => changed?,
                () = tokio::time::sleep_until(deadline) => return Ok(()),
            }
        }
    }

    /// The StatefulSet as last seen; `None` once it has been deleted.
    pub fn statefulset(&self) -> Option<StatefulSet> {
        self.statefulset.as_ref()?.state().first().map(|s| StatefulSet::clone(s))
    }

    pub fn pods(&self) -> Vec<Pod> {
        cloned(&self.pods)
    }

    /// What a wait looks at: everything watched, as last seen.
    pub fn view(&self) -> crate::wait::View {
        crate::wait::View {
            sts: self.statefulset(),
            pods: self.pods(),
            claims: self.claims.as_ref().map(cloned).unwrap_or_default(),
            budgets: self.budgets.as_ref().map(cloned).unwrap_or_default(),
            volume_snapshots: self
                .volume_snapshots
                .as_ref()
                .map(|store| {
                    store
                        .state()
                        .iter()
                        .filter_map(|o| VolumeSnapshot::from_json(&serde_json::to_value(&**o).ok()?))
                        .collect()
                })
                .unwrap_or_default(),
            nodes: self.nodes.as_ref().map(cloned),
        }
    }

    /// Everything watched, as the core's input; `None` once the StatefulSet is deleted.
    pub fn reads(&self) -> Option<Reads> {
        let sts = self.statefulset()?;
        Some(Reads {
            statefulsets: vec![sts],
            pods: self.pods(),
            pvcs: self.claims.as_ref().map(cloned).unwrap_or_default(),
            services: self.service.as_ref().map(cloned).unwrap_or_default(),
            volumes: self.volumes.as_ref().map(cloned),
            nodes: self.nodes.as_ref().map(cloned),
            autoscalers: None,
            max_unavailable: None,
            revisions: None,
            events: None,
            namespaces: None,
            storage_classes: None,
            volume_snapshots: Default::default(),
            budgets: None,
            swap_journals: Vec::new(),
        })
    }
}

fn reflect<K>(
    events: &mut SelectAll<BoxStream<'static, Result<Change, watcher::Error>>>,
    api: Api<K>,
    config: watcher::Config,
) -> Store<K>
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug + Send + Sync + 'static,
    K::DynamicType: Default + Eq + std::hash::Hash + Clone,
{
    let (reader, writer) = reflector::store();
    let stream = reflector::reflector(writer, watcher(api, config).default_backoff());
    events.push(changes(stream).boxed());
    reader
}

fn changes<K>(
    stream: impl Stream<Item = Result<watcher::Event<K>, watcher::Error>>,
) -> impl Stream<Item = Result<Change, watcher::Error>> {
    stream.map(|event| {
        event.map(|e| if matches!(e, watcher::Event::InitDone) { Change::Listed } else { Change::Object })
    })
}

fn cloned<K>(store: &Store<K>) -> Vec<K>
where
    K: kube::Resource + Clone + 'static,
    K::DynamicType: Eq + std::hash::Hash + Clone,
{
    store.state().iter().map(|o: &Arc<K>| K::clone(o)).collect()
}

/// `timeout` from now; a timeout too large to add means "never" (about a century), not a panic.
/// Durations are bounded at parse time (`parse::MAX_DURATION`); this is the second fence.
pub fn deadline(timeout: std::time::Duration) -> tokio::time::Instant {
    const NEVER: std::time::Duration = std::time::Duration::from_secs(100 * 365 * 24 * 3600);
    let now = tokio::time::Instant::now();
    now.checked_add(timeout).or_else(|| now.checked_add(NEVER)).unwrap_or(now)
}

/// The kube error inside a watcher error, for one-line reporting.
fn watch_error(error: watcher::Error) -> kube::Error {
    match error {
        watcher::Error::InitialListFailed(e)
        | watcher::Error::WatchStartFailed(e)
        | watcher::Error::WatchFailed(e) => e,
        watcher::Error::WatchError(status) => kube::Error::Api(status),
        other => kube::Error::Service(Box::new(other)),
    }
}
