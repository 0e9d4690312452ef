//! The VolumeSnapshot API as the commands use it (out-of-tree CRDs, so untyped
//! `DynamicObject`s read into the core's types): the classes, taking a snapshot of a claim and
//! making it a safety net (ready, its content's deletion policy Retain). The shell's adapter
//! for a CRD, beside `fetch` (reads) and `write` (writes).

use std::time::Duration;

use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, ListParams};

use crate::client::Kube;
use crate::core::advice::shell_word;
use crate::core::patches;
use crate::core::prune::{Candidate, PlannedSnapshot, TakenSnapshot};
use crate::core::volume_snapshots::{self as vsnap, GROUP, SnapshotClass, SnapshotContent, VolumeSnapshot};
use crate::error::{Error, Result};
use crate::output::Streams;
use crate::ui::Terminal;
use crate::wait::{Said, Shown, Until, View, Waiter, Wake, deadline};
use crate::write::{Writer, Written};

pub fn resource(kind: &str, plural: &str) -> ApiResource {
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(GROUP, "v1", kind), plural)
}

pub fn snapshots_api(kube: &Kube, namespace: &str) -> Api<DynamicObject> {
    Api::namespaced_with(kube.client.clone(), namespace, &resource("VolumeSnapshot", "volumesnapshots"))
}

fn contents_api(kube: &Kube) -> Api<DynamicObject> {
    Api::all_with(kube.client.clone(), &resource("VolumeSnapshotContent", "volumesnapshotcontents"))
}

fn json(object: &DynamicObject) -> serde_json::Value {
    serde_json::to_value(object).unwrap_or_default()
}

/// The cluster's VolumeSnapshotClasses; `None` when it has no VolumeSnapshot API (404).
///
/// # Errors
/// Any other failure to list them (403 among them), as [`Error::Kube`].
pub async fn classes(kube: &Kube) -> Result<Option<Vec<SnapshotClass>>> {
    let api: Api<DynamicObject> =
        Api::all_with(kube.client.clone(), &resource("VolumeSnapshotClass", "volumesnapshotclasses"));
    match api.list(&ListParams::default()).await {
        Ok(list) => Ok(Some(list.items.iter().filter_map(|c| SnapshotClass::from_json(&json(c))).collect())),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(None),
        Err(kube::Error::Api(status)) if status.code == 403 => Err(Error::Forbidden {
            permission: format!("list volumesnapshotclasses.{GROUP} (cluster-wide)"),
            can_i: kube.flags.kubectl_cluster(&format!("auth can-i list volumesnapshotclasses.{GROUP}")),
            left: "--snapshot needs them to choose the class; nothing was deleted".to_owned(),
        }),
        Err(e) => Err(Error::kube("list VolumeSnapshotClasses")(e)),
    }
}

/// The VolumeSnapshot `name` in `namespace`, if it exists.
///
/// # Errors
/// A failed read, as [`Error::Kube`].
pub async fn get_snapshot(kube: &Kube, namespace: &str, name: &str) -> Result<Option<VolumeSnapshot>> {
    match snapshots_api(kube, namespace).get_opt(name).await {
        Ok(found) => Ok(found.and_then(|s| VolumeSnapshot::from_json(&json(&s)))),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(None),
        Err(e) => Err(Error::kube(format!("read VolumeSnapshot {namespace}/{name}"))(e)),
    }
}

/// The VolumeSnapshotContent `name`, if it exists.
///
/// # Errors
/// A failed read, as [`Error::Kube`].
pub async fn get_content(kube: &Kube, name: &str) -> Result<Option<SnapshotContent>> {
    let found = contents_api(kube)
        .get_opt(name)
        .await
        .map_err(Error::kube(format!("read VolumeSnapshotContent {name}")))?;
    Ok(found.and_then(|c| SnapshotContent::from_json(&json(&c))))
}

/// What taking snapshots needs from the run: its connection, its writer, and how long each
/// snapshot may take to be ready.
pub struct Taking<'a> {
    pub kube: &'a Kube,
    pub writer: &'a Writer,
    pub timeout: Duration,
    /// How to go on after an interrupted wait: `run `CMD` to continue`, with the command that
    /// does (the prune with its flags, or the scale that resumes).
    pub again: &'a str,
}

/// Takes the planned snapshot of `candidate`, waits up to `timeout` for it to be ready, and
/// makes sure its content's deletion policy is Retain. `Ok(Err(reason))` when the snapshot
/// failed or timed out: the claim must be kept.
///
/// # Errors
/// A request that failed (creating the snapshot, reading it back), as [`Error::Kube`].
pub async fn take(
    taking: &Taking<'_>,
    waiter: &mut Waiter,
    candidate: &Candidate,
    planned: &PlannedSnapshot,
    term: &Terminal,
    io: &mut Streams,
) -> Result<std::result::Result<TakenSnapshot, String>> {
    let Taking { kube, writer, timeout, again } = *taking;
    let namespace = &candidate.namespace;
    let api = snapshots_api(kube, namespace);
    let object =
        vsnap::snapshot_object(&planned.name, namespace, &candidate.name, &planned.class, &planned.labels);
    let object: DynamicObject =
        serde_json::from_value(object).expect("a VolumeSnapshot the core built always reads as an object");
    let what = format!("create VolumeSnapshot {namespace}/{}", planned.name);
    match writer.create(&api, &object, &what).await? {
        Written::Done(_) => {}
        Written::Changed(_) => {
            return Ok(Err(format!(
                "a VolumeSnapshot named {} exists already, not taken by this run; the claim is kept",
                planned.name
            )));
        }
        Written::Gone => return Ok(Err(format!("namespace {namespace} is gone"))),
    }
    io.say(format_args!(
        "volumesnapshot \"{}\" created (class {}), waiting up to {} for it to be ready",
        planned.name,
        planned.class,
        humantime::format_duration(timeout)
    ));
    let left = format!(
        "the VolumeSnapshot is left for inspection (`{}`; delete it when done)",
        kube.flags.kubectl(namespace, &format!("describe volumesnapshot {}", shell_word(&planned.name)))
    );
    // Interrupted while the driver cuts it: the claim stays, and so does the snapshot (it may
    // still become ready); the run that goes on plans anew and takes a new one.
    let snapshot_word = shell_word(&planned.name);
    let words = Said {
        left: format!(
            "snapshot {} of PVC {} was not ready yet, so PVC {} is kept; the snapshot is left (`{}` shows it, `{}` \
             removes it: the run that goes on takes a new one)",
            planned.name,
            candidate.name,
            candidate.name,
            kube.flags.kubectl(namespace, &format!("describe volumesnapshot {snapshot_word}")),
            kube.flags.kubectl(namespace, &format!("delete volumesnapshot {snapshot_word}")),
        ),
        resume: again.to_owned(),
    };
    let until = Until { deadline: deadline(timeout), words: &words, ours: None };
    // The watch may not show a snapshot just created yet; one it showed and no longer does
    // was deleted.
    let mut seen = false;
    let state = |view: &View| vsnap::readiness(view.volume_snapshots.iter().find(|s| s.name == planned.name));
    let shown = Shown {
        term,
        err: io.err_stream(),
        what: format!("VolumeSnapshot {} to be ready", planned.name),
        state: &state,
    };
    let waited = waiter
        .until_shown(
            until,
            shown,
            |view, _| {
                let now = view.volume_snapshots.iter().find(|s| s.name == planned.name);
                seen |= now.is_some();
                Ok(match now {
                    Some(s) if matches!(vsnap::progress(s), vsnap::Progress::Ready { .. }) => {
                        Wake::Done(Ok(Some(s.clone())))
                    }
                    None if seen => Wake::Done(Ok(None)),
                    _ => Wake::Wait,
                })
            },
            |view| {
                let now = view.volume_snapshots.iter().find(|s| s.name == planned.name);
                let error = now.and_then(|s| s.error.clone());
                Ok(Err(error.map(|e| format!(" (last error: {e})")).unwrap_or_default()))
            },
        )
        .await;
    let (_, waited) = waited?;
    let snapshot = match waited {
        Ok(Some(s)) => Some(s),
        Ok(None) => return Ok(Err(format!("snapshot {} was deleted before it was ready", planned.name))),
        Err(error) => {
            return Ok(Err(format!(
                "snapshot {} not ready within {}{error}; {left}",
                planned.name,
                humantime::format_duration(timeout)
            )));
        }
    };
    let Some(vsnap::Progress::Ready { content }) = snapshot.as_ref().map(vsnap::progress) else {
        return Ok(Err(format!("snapshot {} could not be read back; {left}", planned.name)));
    };
    let Some(bound) = get_content(kube, &content).await? else {
        return Ok(Err(format!("the content {content} of snapshot {} is gone; {left}", planned.name)));
    };
    let retained_by_run = bound.deletion_policy != "Retain";
    if retained_by_run {
        let patch = patches::retain_snapshot_content(namespace, &planned.name, &bound.deletion_policy);
        let what = format!("set the deletion policy of {content} to Retain");
        let why = match writer.patch(&contents_api(kube), &content, &patch, &what).await {
            Ok(Written::Done(_)) => None,
            Ok(Written::Changed(_)) => Some("it changed since it was read".to_owned()),
            Ok(Written::Gone) => Some("it is gone".to_owned()),
            Err(e) => Some(e.to_string()),
        };
        if let Some(why) = why {
            return Ok(Err(format!(
                "could not set the deletion policy of {content} (snapshot {}) to Retain: {why}; {left}",
                planned.name
            )));
        }
        // Read back: only a content that says Retain is recorded.
        match get_content(kube, &content).await? {
            Some(c) if c.deletion_policy == "Retain" => {}
            _ => {
                return Ok(Err(format!(
                    "the content {content} of snapshot {} is not Retain; {left}",
                    planned.name
                )));
            }
        }
        io.say(format_args!(
            "volumesnapshotcontent \"{content}\" deletionPolicy {} -> Retain",
            bound.deletion_policy
        ));
    }
    let restore_size = snapshot.and_then(|s| s.restore_size);
    io.say(format_args!(
        "volumesnapshot \"{}\" ready ({}), content {content} Retain",
        planned.name,
        restore_size.as_deref().unwrap_or("size unknown")
    ));
    Ok(Ok(TakenSnapshot {
        claim: candidate.name.clone(),
        namespace: namespace.clone(),
        name: planned.name.clone(),
        content,
        deletion_policy: "Retain".to_owned(),
        retained_by_run,
        restore_size,
    }))
}
