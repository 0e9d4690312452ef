//! `status NAME -o dns`: the live ordinals' stable DNS names as a peer list for clustered
//! software (a MongoDB replica set's members, etcd's `--initial-cluster`, ZooKeeper's
//! `server.N`, Kafka's bootstrap servers), read from the status model, and the refusals when
//! those names would not resolve.

use std::fmt;
use std::str::FromStr;

use super::{ServicePortStatus, StatefulSetStatus};

/// What `--port` asks for: a port of the governing Service by its name, or a number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortSelector {
    /// A `spec.ports[].name` of the governing Service (an IANA service name).
    Name(String),
    /// A port number (1-65535), printed as given: a headless Service forwards nothing, so a
    /// client of a pod's name reaches any port the pod listens on, declared or not.
    Number(u16),
}

impl FromStr for PortSelector {
    type Err = String;

    /// A number 1-65535, or a port name as the API server accepts one (`IsValidPortName` in
    /// k8s.io/apimachinery/pkg/util/validation: at most 15 lower-case letters, digits and `-`,
    /// with at least one letter, no `-` at either end and no `--`).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
            return match text.parse::<u16>() {
                Ok(number) if number > 0 => Ok(PortSelector::Number(number)),
                _ => Err(format!("port {text} is out of range (1-65535)")),
            };
        }
        let bytes = text.as_bytes();
        let valid = (1..=15).contains(&bytes.len())
            && bytes.iter().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
            && bytes.iter().any(u8::is_ascii_lowercase)
            && !text.starts_with('-')
            && !text.ends_with('-')
            && !text.contains("--");
        if valid {
            Ok(PortSelector::Name(text.to_owned()))
        } else {
            Err(format!(
                "{text:?} is neither a port number (1-65535) nor a port name (at most 15 lower-case letters, digits \
                 and '-', with a letter)"
            ))
        }
    }
}

impl fmt::Display for PortSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PortSelector::Name(name) => f.write_str(name),
            PortSelector::Number(number) => write!(f, "{number}"),
        }
    }
}

/// Why `-o dns` prints no names. The first four are refusals (exit 1): the names would not
/// resolve, or no number can be given for the port; [`DnsRefusal::NoSuchPort`] is a usage
/// error (exit 2): the `--port` given names no port of the Service.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DnsRefusal {
    #[error(
        "{name} has no stable DNS names: its spec.serviceName is empty (the field cannot be changed on an existing \
         StatefulSet)"
    )]
    NoService { name: String },

    #[error(
        "the DNS names of {name} would not resolve: its governing Service {service} does not exist; create a headless \
         Service (clusterIP: None) named {service} selecting its pods"
    )]
    ServiceMissing { name: String, service: String },

    #[error(
        "the DNS names of {name} would not resolve: Service {service} is not headless (a Service with a cluster IP \
         gives pods no DNS names); re-create it with clusterIP: None"
    )]
    NotHeadless { name: String, service: String },

    #[error(
        "the DNS names of {name} would not resolve: Service {service} does not select its pods; make its selector \
         match the pod template labels"
    )]
    SelectsNoPods { name: String, service: String },

    #[error("Service {service} has no port named {port} (its ports: {ports})")]
    NoSuchPort { service: String, port: String, ports: String },

    #[error(
        "port {port} of Service {service} has a targetPort that names no {protocol} container port of {name}'s pod \
         template: the pods serve no such port; fix the targetPort, or pass --port with a number"
    )]
    TargetPortUnknown { name: String, service: String, port: String, protocol: String },
}

impl DnsRefusal {
    /// A usage error (exit 2): the command line asked for what the Service does not have.
    pub fn is_usage(&self) -> bool {
        matches!(self, DnsRefusal::NoSuchPort { .. })
    }
}

/// The lines `-o dns` prints: one per live ordinal (`[start, start + replicas)`, pods being
/// scaled away left out, ordinals whose pod does not exist yet included: a peer list names
/// every member), in ordinal order, each `<pod>.<service>.<namespace>.svc.<cluster domain>`
/// (`OrdinalStatus::dns`), with `:<port>` when `port` is given. A port name is looked up among
/// the governing Service's ports and gives the port it reaches on the pods (its resolved
/// `targetPort`: a headless Service forwards nothing, so that is what a client connects to);
/// a number is used as given.
///
/// # Errors
///
/// A [`DnsRefusal`] when the names would not resolve (no `spec.serviceName`, a Service that
/// is missing, not headless or selects other pods), when the Service has no port of that name,
/// or when that port's named `targetPort` matches no container port.
pub fn dns_names(status: &StatefulSetStatus, port: Option<&PortSelector>) -> Result<Vec<String>, DnsRefusal> {
    let name = status.name.clone();
    let svc = &status.service;
    let Some(service) = svc.name.clone() else { return Err(DnsRefusal::NoService { name }) };
    if !svc.exists {
        return Err(DnsRefusal::ServiceMissing { name, service });
    }
    if svc.headless != Some(true) {
        return Err(DnsRefusal::NotHeadless { name, service });
    }
    if svc.selects_pods != Some(true) {
        return Err(DnsRefusal::SelectsNoPods { name, service });
    }
    let suffix = match port {
        None => String::new(),
        Some(PortSelector::Number(number)) => format!(":{number}"),
        Some(PortSelector::Name(wanted)) => {
            let ports = svc.ports.as_deref().unwrap_or_default();
            let Some(found) = ports.iter().find(|p| p.name.as_deref() == Some(wanted.as_str())) else {
                return Err(DnsRefusal::NoSuchPort { service, port: wanted.clone(), ports: describe(ports) });
            };
            let Some(target) = found.target_port else {
                return Err(DnsRefusal::TargetPortUnknown {
                    name,
                    service,
                    port: wanted.clone(),
                    protocol: found.protocol.clone(),
                });
            };
            format!(":{target}")
        }
    };
    Ok(status
        .ordinals
        .iter()
        .filter(|o| o.live)
        .filter_map(|o| o.dns.as_ref())
        .map(|dns| format!("{dns}{suffix}"))
        .collect())
}

/// `client 2379/TCP, peer 2380/TCP`, or `none` (a headless Service may declare no ports).
fn describe(ports: &[ServicePortStatus]) -> String {
    if ports.is_empty() {
        return "none".to_owned();
    }
    ports
        .iter()
        .map(|p| format!("{} {}/{}", p.name.as_deref().unwrap_or("(unnamed)"), p.port, p.protocol))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

    use super::*;
    use crate::core::fixtures::*;
    use crate::core::reads::Reads;
    use crate::core::status::{StatusOptions, build};

    /// `mongodb`, 3 replicas from ordinal `start`, in namespace `default`, governed by headless
    /// Service `mongodb` with port `mongodb` 27017 and `metrics` 9216 -> container port `metrics`
    /// (9216 on the pods).
    fn status(start: i32, domain: &str) -> StatefulSetStatus {
        let sts =
            sts("mongodb", 3).start(start).container_ports(&[("mongodb", 27017), ("metrics", 9216)]).build();
        let mut svc = service("mongodb");
        svc.spec.as_mut().unwrap().ports = Some(vec![
            service_port(Some("mongodb"), 27017, None),
            service_port(Some("metrics"), 80, Some(IntOrString::String("metrics".into()))),
            service_port(Some("old"), 8080, Some(IntOrString::String("gone".into()))),
        ]);
        let pods = (start..start + 3).map(|o| pod(&sts, o).build()).collect();
        let snapshot =
            Reads { statefulsets: vec![sts.clone()], pods, services: vec![svc], ..Default::default() };
        build(
            &sts,
            &snapshot,
            &StatusOptions { cluster_domain: domain.to_owned(), now: created(), flags: Default::default() },
        )
    }

    fn name(text: &str) -> PortSelector {
        PortSelector::Name(text.to_owned())
    }

    #[test]
    fn one_name_per_live_ordinal_with_the_port_asked_for() {
        let local = ".mongodb.default.svc.cluster.local";
        let cases: [(&str, StatefulSetStatus, Option<PortSelector>, Vec<String>); 5] = [
            (
                "start ordinal 3: ordinals 3, 4, 5",
                status(3, "cluster.local"),
                None,
                (3..6).map(|o| format!("mongodb-{o}{local}")).collect(),
            ),
            (
                "a custom cluster domain",
                status(0, "cluster.example.internal"),
                None,
                (0..3).map(|o| format!("mongodb-{o}.mongodb.default.svc.cluster.example.internal")).collect(),
            ),
            (
                "a named port: its targetPort",
                status(0, "cluster.local"),
                Some(name("mongodb")),
                (0..3).map(|o| format!("mongodb-{o}{local}:27017")).collect(),
            ),
            (
                "a named port whose targetPort names a container port: the pods' number, not the Service's",
                status(0, "cluster.local"),
                Some(name("metrics")),
                (0..3).map(|o| format!("mongodb-{o}{local}:9216")).collect(),
            ),
            (
                "a number: as given, declared or not",
                status(3, "cluster.local"),
                Some(PortSelector::Number(27018)),
                (3..6).map(|o| format!("mongodb-{o}{local}:27018")).collect(),
            ),
        ];
        for (what, status, port, expected) in cases {
            assert_eq!(dns_names(&status, port.as_ref()).unwrap(), expected, "{what}");
        }
    }

    #[test]
    fn names_are_for_the_live_ordinals_only_and_every_one_of_them() {
        let sts = sts("zk", 3).build();
        // zk-1 not created yet, zk-3 being scaled away.
        let pods = vec![pod(&sts, 0).build(), pod(&sts, 2).build(), pod(&sts, 3).build()];
        let snapshot = Reads {
            statefulsets: vec![sts.clone()],
            pods,
            services: vec![service("zk")],
            ..Default::default()
        };
        let status = build(
            &sts,
            &snapshot,
            &StatusOptions {
                cluster_domain: "cluster.local".into(),
                now: created(),
                flags: Default::default(),
            },
        );
        assert_eq!(
            dns_names(&status, None).unwrap(),
            [
                "zk-0.zk.default.svc.cluster.local",
                "zk-1.zk.default.svc.cluster.local",
                "zk-2.zk.default.svc.cluster.local"
            ]
        );
    }

    #[test]
    fn refused_when_the_names_would_not_resolve_or_the_port_is_unknown() {
        let refusal = |change: fn(&mut StatefulSetStatus), port: Option<PortSelector>| {
            let mut status = status(0, "cluster.local");
            change(&mut status);
            dns_names(&status, port.as_ref()).unwrap_err()
        };
        let service = || "mongodb".to_owned();
        let cases = [
            (refusal(|s| s.service.name = None, None), DnsRefusal::NoService { name: service() }, false),
            (
                refusal(|s| s.service.exists = false, None),
                DnsRefusal::ServiceMissing { name: service(), service: service() },
                false,
            ),
            (
                refusal(|s| s.service.headless = Some(false), Some(name("mongodb"))),
                DnsRefusal::NotHeadless { name: service(), service: service() },
                false,
            ),
            (
                refusal(|s| s.service.selects_pods = Some(false), None),
                DnsRefusal::SelectsNoPods { name: service(), service: service() },
                false,
            ),
            (
                refusal(|_| {}, Some(name("mongo"))),
                DnsRefusal::NoSuchPort {
                    service: service(),
                    port: "mongo".into(),
                    ports: "mongodb 27017/TCP, metrics 80/TCP, old 8080/TCP".into(),
                },
                true,
            ),
            (
                refusal(|s| s.service.ports = Some(Vec::new()), Some(name("mongodb"))),
                DnsRefusal::NoSuchPort { service: service(), port: "mongodb".into(), ports: "none".into() },
                true,
            ),
            (
                refusal(|_| {}, Some(name("old"))),
                DnsRefusal::TargetPortUnknown {
                    name: service(),
                    service: service(),
                    port: "old".into(),
                    protocol: "TCP".into(),
                },
                false,
            ),
        ];
        for (refused, expected, usage) in cases {
            assert_eq!(refused, expected);
            assert_eq!(refused.is_usage(), usage, "{refused}");
            assert_eq!(refused.to_string().lines().count(), 1);
        }
    }

    #[test]
    fn port_flags_are_numbers_or_port_names() {
        let ok = [
            ("27017", PortSelector::Number(27017)),
            ("1", PortSelector::Number(1)),
            ("65535", PortSelector::Number(65535)),
            ("mongodb", name("mongodb")),
            ("peer-2380", name("peer-2380")),
            ("h2c", name("h2c")),
        ];
        for (text, expected) in ok {
            assert_eq!(text.parse::<PortSelector>(), Ok(expected.clone()), "{text}");
            assert_eq!(expected.to_string(), text);
        }
        for text in [
            "0",
            "65536",
            "99999999999999999999",
            "",
            "Mongo",
            "-peer",
            "peer-",
            "a--b",
            "2380-2381",
            "much-too-long-name",
            "peer_port",
        ] {
            let error = text.parse::<PortSelector>().unwrap_err();
            assert_eq!(error.lines().count(), 1, "{text}: {error}");
        }
    }
}
