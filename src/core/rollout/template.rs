//! The pod templates a rollout stages and restores: `--image` edits, and the template a
//! ControllerRevision recorded.

use k8s_openapi::api::apps::v1::ControllerRevision;
use k8s_openapi::api::core::v1::PodTemplateSpec;
use kube::ResourceExt;
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("{0:?} is not CONTAINER=IMAGE")]
    NotAnImage(String),
    #[error("no container {name:?} in the pod template (containers: {})", known.join(", "))]
    NoContainer { name: String, known: Vec<String> },
    #[error("ControllerRevision {0} holds no pod template")]
    NoTemplate(String),
}

impl TemplateError {
    /// Caused by the command line (`--image`), not by what the cluster holds: exit 2.
    pub fn is_usage(&self) -> bool {
        matches!(self, TemplateError::NotAnImage(_) | TemplateError::NoContainer { .. })
    }
}

/// `CONTAINER=IMAGE`, as `kubectl set image` takes it.
///
/// # Errors
/// [`TemplateError::NotAnImage`] when either side of `=` is missing.
pub fn parse_image(text: &str) -> Result<(String, String), TemplateError> {
    match text.split_once('=') {
        Some((container, image)) if !container.is_empty() && !image.is_empty() => {
            Ok((container.to_owned(), image.to_owned()))
        }
        _ => Err(TemplateError::NotAnImage(text.to_owned())),
    }
}

/// The pod template with each named container's image replaced (containers and init
/// containers, as `kubectl set image` does).
///
/// # Errors
/// [`TemplateError::NoContainer`] naming the containers there are.
pub fn with_images(
    template: &PodTemplateSpec,
    images: &[(String, String)],
) -> Result<PodTemplateSpec, TemplateError> {
    let mut template = template.clone();
    let spec = template.spec.get_or_insert_with(Default::default);
    for (name, image) in images {
        let container = spec
            .containers
            .iter_mut()
            .chain(spec.init_containers.iter_mut().flatten())
            .find(|c| &c.name == name);
        match container {
            Some(container) => container.image = Some(image.clone()),
            None => {
                let known = spec.containers.iter().map(|c| c.name.clone()).collect();
                return Err(TemplateError::NoContainer { name: name.clone(), known });
            }
        }
    }
    Ok(template)
}

/// The pod template a ControllerRevision recorded. Its data is the StatefulSet patch
/// `{"spec":{"template":{..., "$patch":"replace"}}}` that `kubectl rollout undo` applies
/// (`pkg/controller/statefulset/stateful_set_utils.go`, `getPatch`).
///
/// # Errors
/// [`TemplateError::NoTemplate`] when the revision holds no template.
pub fn revision_template(revision: &ControllerRevision) -> Result<Value, TemplateError> {
    let mut template = revision
        .data
        .as_ref()
        .and_then(|d| d.0.pointer("/spec/template"))
        .cloned()
        .ok_or_else(|| TemplateError::NoTemplate(revision.name_any()))?;
    if let Some(fields) = template.as_object_mut() {
        fields.remove("$patch");
    }
    Ok(template)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::fixtures::sts;

    #[test]
    fn images_are_set_by_container_name() {
        let web = sts("web", 1).build();
        let template = &web.spec.as_ref().unwrap().template;
        let images = vec![parse_image("app=example.invalid/app:v2").unwrap()];
        let updated = with_images(template, &images).unwrap();
        assert_eq!(updated.spec.unwrap().containers[0].image.as_deref(), Some("example.invalid/app:v2"));
        let unknown = with_images(template, &[parse_image("sidecar=x").unwrap()]).unwrap_err();
        assert_eq!(unknown.to_string(), r#"no container "sidecar" in the pod template (containers: app)"#);
        for bad in ["app", "=img", "app=", ""] {
            assert!(parse_image(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn revision_template_drops_the_replace_directive() {
        let revision: ControllerRevision = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "web-abc"},
            "revision": 1,
            "data": {"spec": {"template": {"$patch": "replace", "spec": {"containers": [{"name": "app", "image": "v1"}]}}}}
        }))
        .unwrap();
        assert_eq!(
            revision_template(&revision).unwrap(),
            serde_json::json!({"spec": {"containers": [{"name": "app", "image": "v1"}]}})
        );
    }
}
