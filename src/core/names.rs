//! The names a StatefulSet gives its pods and PVCs, and their exact parsing.
//!
//! The controller names pod `i` `<sts>-<i>` and the claim of template `t` for pod `i`
//! `<t>-<sts>-<i>`, with `i` formatted as a plain decimal (`%d`). Parsing accepts exactly
//! that form, so `web` never claims `web-app`'s PVCs and `web-01` is nobody's ordinal.

/// The ordinals a StatefulSet keeps alive: `[start, start + replicas)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrdinalRange {
    pub start: i32,
    pub replicas: i32,
}

impl OrdinalRange {
    pub fn contains(self, ordinal: i32) -> bool {
        ordinal >= self.start && i64::from(ordinal) < self.end()
    }

    /// One past the last live ordinal; i64 because `start + replicas` may exceed i32.
    pub fn end(self) -> i64 {
        i64::from(self.start) + i64::from(self.replicas.max(0))
    }

    pub fn ordinals(self) -> impl DoubleEndedIterator<Item = i32> {
        let end = i32::try_from(self.end()).unwrap_or(i32::MAX);
        self.start..end
    }

    /// The replica index the controller compares with the partition (ordinal − start).
    pub fn index_of(self, ordinal: i32) -> i64 {
        i64::from(ordinal) - i64::from(self.start)
    }
}

pub fn pod_name(statefulset: &str, ordinal: i32) -> String {
    format!("{statefulset}-{ordinal}")
}

pub fn pvc_name(template: &str, statefulset: &str, ordinal: i32) -> String {
    format!("{template}-{statefulset}-{ordinal}")
}

/// A non-negative decimal ordinal as the controller prints it: no sign, no leading zero.
pub fn parse_ordinal(text: &str) -> Option<i32> {
    let canonical = !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'));
    if canonical { text.parse().ok() } else { None }
}

/// The ordinal of a pod named `<sts>-<ordinal>`.
pub fn pod_ordinal(pod: &str, statefulset: &str) -> Option<i32> {
    pod.strip_prefix(statefulset)?.strip_prefix('-').and_then(parse_ordinal)
}

/// The template and ordinal of a claim named `<template>-<sts>-<ordinal>` for one of `templates`.
pub fn parse_pvc_name<'t>(pvc: &str, statefulset: &str, templates: &[&'t str]) -> Option<(&'t str, i32)> {
    templates.iter().find_map(|&template| {
        let rest = pvc.strip_prefix(template)?.strip_prefix('-')?;
        let ordinal = rest.strip_prefix(statefulset)?.strip_prefix('-')?;
        Some((template, parse_ordinal(ordinal)?))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ordinals_are_canonical_decimals() {
        assert_eq!(parse_ordinal("0"), Some(0));
        assert_eq!(parse_ordinal("17"), Some(17));
        for bad in ["", "01", "-1", "+1", "1a", " 1", "99999999999"] {
            assert_eq!(parse_ordinal(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn look_alike_statefulsets_do_not_share_claims() {
        assert_eq!(parse_pvc_name("data-web-0", "web", &["data"]), Some(("data", 0)));
        assert_eq!(parse_pvc_name("data-web-app-0", "web", &["data"]), None);
        assert_eq!(parse_pvc_name("data-web-app-0", "web-app", &["data"]), Some(("data", 0)));
        assert_eq!(parse_pvc_name("data-web-01", "web", &["data"]), None);
        assert_eq!(pod_ordinal("web-app-3", "web"), None);
        assert_eq!(pod_ordinal("web-3", "web"), Some(3));
    }

    #[test]
    fn look_alike_templates_resolve_to_the_right_one() {
        let templates = ["data", "data-web"];
        assert_eq!(parse_pvc_name("data-web-web-2", "web", &templates), Some(("data-web", 2)));
        assert_eq!(parse_pvc_name("data-web-2", "web", &templates), Some(("data", 2)));
        assert_eq!(parse_pvc_name("logs-web-2", "web", &templates), None);
    }

    #[test]
    fn range_honours_the_start_ordinal() {
        let range = OrdinalRange { start: 5, replicas: 3 };
        assert_eq!(range.ordinals().collect::<Vec<_>>(), vec![5, 6, 7]);
        assert!(!range.contains(4) && range.contains(5) && range.contains(7) && !range.contains(8));
        assert_eq!(range.index_of(7), 2);
        let empty = OrdinalRange { start: 0, replicas: 0 };
        assert_eq!(empty.ordinals().count(), 0);
        let huge = OrdinalRange { start: i32::MAX - 1, replicas: i32::MAX };
        assert!(huge.contains(i32::MAX));
    }

    proptest! {
        #[test]
        fn names_round_trip(template in "[a-z][a-z0-9-]{0,20}", sts in "[a-z][a-z0-9-]{0,20}", ordinal in 0..i32::MAX) {
            let templates = [template.as_str()];
            prop_assert_eq!(parse_pvc_name(&pvc_name(&template, &sts, ordinal), &sts, &templates), Some((template.as_str(), ordinal)));
            prop_assert_eq!(pod_ordinal(&pod_name(&sts, ordinal), &sts), Some(ordinal));
        }

        #[test]
        fn at_most_one_template_claims_a_name(pvc in "[a-z0-9-]{0,40}", sts in "[a-z][a-z0-9-]{0,8}", templates in proptest::collection::vec("[a-z][a-z0-9-]{0,8}", 0..4)) {
            let refs: Vec<&str> = templates.iter().map(String::as_str).collect();
            let claimants = refs.iter().filter(|t| parse_pvc_name(&pvc, &sts, &[**t]).is_some()).collect::<std::collections::HashSet<_>>();
            prop_assert!(claimants.len() <= 1, "{pvc} claimed by {claimants:?}");
            if let Some((template, ordinal)) = parse_pvc_name(&pvc, &sts, &refs) {
                prop_assert_eq!(pvc_name(template, &sts, ordinal), pvc);
            }
        }

        #[test]
        fn parsers_never_panic(text in "\\PC*", sts in "\\PC*") {
            let _ = parse_ordinal(&text);
            let _ = pod_ordinal(&text, &sts);
            let _ = parse_pvc_name(&text, &sts, &["data", ""]);
        }
    }
}
