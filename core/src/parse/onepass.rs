//! Reads a document in one pass: header, metadata and typed body straight from the text, the
//! body's type chosen from the `kind` read just before it. This is the loader's common path;
//! it gives up (returns false, having added nothing) on anything it does not handle, and the
//! careful path then reads the document again and reports what is wrong with it. Giving up is
//! always safe: where both paths succeed they produce the same resource, because they
//! deserialise the same fields of the same text into the same types.
//!
//! It gives up on: a YAML or type error anywhere, a document that is not a mapping, a repeated
//! or unexpected top-level key, a `spec` or `status` before `kind`, a `List`, a missing name, and
//! kinds kept as raw values (unknown ones, RBAC...), which need the whole document as a value.

use super::fields::{Checked, CheckedSeed, Track};
use super::types::*;
use super::*;
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use std::fmt;

/// Reads `doc`; true when done (resource and diagnostics added to `out`), false to leave the
/// document to the careful path.
pub(super) fn parse(doc: &str, origin: &Origin, opts: &LoadOptions, out: &mut Loaded) -> bool {
    let de = serde_yaml::Deserializer::from_str(doc);
    let mut track = Track::reused();
    let read = de.deserialize_map(DocumentVisitor { t: &mut track });
    let found = track.give_back();
    let Ok(read) = read else {
        return false;
    };
    let (Some(api_version), Some(kind)) = (read.api_version, read.kind) else {
        return false;
    };
    let mut meta = read.metadata.unwrap_or_default();
    if meta.name.as_deref().unwrap_or("").is_empty() {
        return false;
    }
    let group = group_of(&api_version);
    let Some(versions) = known(group, &kind) else {
        return false;
    };
    let shape = shape(group, &kind);
    if shape == Shape::Kept {
        return false;
    }
    let body = match read.body.or_else(|| default_body(shape)) {
        Some(body) => with_status(body, read.status),
        None => return false,
    };
    let body = match (shape, read.data) {
        (Shape::ConfigMap, data) => Body::ConfigMap(ConfigMapBody {
            data: data.unwrap_or_default(),
        }),
        _ => body,
    };
    default_namespace(&kind, &mut meta, opts);
    let group = group.to_string();
    let resource = Resource {
        api_version,
        kind,
        meta,
        origin: origin.clone(),
        body: Box::new(body),
    };
    check_version(&resource, &group, versions, out);
    let mut found = found;
    found.extend(free_form_unknown_fields(&resource));
    report_unknown_fields(found, &resource, out);
    validate(&resource, out);
    out.resources.push(resource);
    true
}

/// What the pass read; the body is typed by the kind, when the kind came first.
#[derive(Default)]
struct ReadDocument {
    api_version: Option<String>,
    kind: Option<String>,
    metadata: Option<ObjectMeta>,
    body: Option<Body>,
    status: Option<Status>,
    data: Option<BTreeMap<String, String>>,
}

enum Status {
    Pod(PodStatus),
    Service(ServiceStatus),
    Ignored,
}

fn with_status(body: Body, status: Option<Status>) -> Body {
    match (body, status) {
        (Body::Pod(spec, _), Some(Status::Pod(s))) => Body::Pod(spec, s),
        (Body::Service(spec, _), Some(Status::Service(s))) => Body::Service(spec, s),
        (body, _) => body,
    }
}

/// The body of a document without `spec`: every spec field defaulted.
fn default_body(shape: Shape) -> Option<Body> {
    SpecSeed(shape, &mut Track::default())
        .deserialize(serde::de::value::UnitDeserializer::<serde_yaml::Error>::new())
        .ok()
}

/// The top-level keys the pass reads; any other makes it give up.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
enum Key {
    ApiVersion,
    Kind,
    Metadata,
    Spec,
    Status,
    Data,
    #[serde(other)]
    Other,
}

/// Gives up: the message is never shown (the careful path reports the document's problem).
fn give_up<E: serde::de::Error>() -> E {
    E::custom("left to the careful path")
}

/// Reads the top-level keys; metadata and spec are read through [`Checked`], which notes
/// the fields their API does not have.
struct DocumentVisitor<'t> {
    t: &'t mut Track,
}

impl<'de> Visitor<'de> for DocumentVisitor<'_> {
    type Value = ReadDocument;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a Kubernetes object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ReadDocument, A::Error> {
        let mut read = ReadDocument::default();
        let mut seen_status = false;
        while let Some(key) = map.next_key::<Key>()? {
            match key {
                Key::ApiVersion if read.api_version.is_none() => {
                    read.api_version = Some(scalar_string(map.next_value()?)?);
                }
                Key::Kind if read.kind.is_none() => {
                    read.kind = Some(scalar_string(map.next_value()?)?);
                }
                Key::Metadata if read.metadata.is_none() => {
                    read.metadata =
                        Some(map.next_value_seed(CheckedSeed::new(&mut *self.t, "metadata"))?);
                }
                Key::Spec if read.body.is_none() => {
                    let shape = field_of(&read, "spec")?;
                    read.body = Some(map.next_value_seed(SpecSeed(shape, &mut *self.t))?);
                }
                Key::Status if !seen_status => {
                    seen_status = true;
                    let shape = field_of(&read, "status")?;
                    read.status = Some(match shape {
                        Shape::Pod => {
                            Status::Pod(map.next_value::<Option<PodStatus>>()?.unwrap_or_default())
                        }
                        Shape::Service => Status::Service(
                            map.next_value::<Option<ServiceStatus>>()?
                                .unwrap_or_default(),
                        ),
                        Shape::Gateway | Shape::EndpointSlice => return Err(give_up()),
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                            Status::Ignored
                        }
                    });
                }
                Key::Data if read.data.is_none() => {
                    field_of(&read, "data")?;
                    read.data = Some(map.next_value()?);
                }
                _ => return Err(give_up()),
            }
        }
        Ok(read)
    }
}

/// The shape of the kind read so far, when `key` is one of its top-level fields; otherwise
/// the careful path reads the document (and reports the key when the kind has no such
/// field).
fn field_of<E: serde::de::Error>(read: &ReadDocument, key: &str) -> Result<Shape, E> {
    let shape = shape_so_far(read).ok_or_else(give_up)?;
    match top_level_fields(shape) {
        Some(fields) if fields.contains(&key) => Ok(shape),
        _ => Err(give_up()),
    }
}

/// The shape of the kind read so far, when both apiVersion and kind came already.
fn shape_so_far(read: &ReadDocument) -> Option<Shape> {
    let (a, k) = (read.api_version.as_deref()?, read.kind.as_deref()?);
    known(group_of(a), k)?;
    Some(shape(group_of(a), k))
}

/// `apiVersion` and `kind` must be strings (`kind: 1` is reported by the careful path).
fn scalar_string<E: serde::de::Error>(v: serde_yaml::Value) -> Result<String, E> {
    match v {
        serde_yaml::Value::String(s) => Ok(s),
        _ => Err(give_up()),
    }
}

/// Reads a `spec` into the body of its kind (Pods and Services get their status later),
/// noting its unknown fields.
struct SpecSeed<'t>(Shape, &'t mut Track);

impl<'de> DeserializeSeed<'de> for SpecSeed<'_> {
    type Value = Body;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Body, D::Error> {
        let SpecSeed(shape, t) = self;
        t.enter("spec");
        let body = spec_body(shape, Checked::new(d, &mut *t));
        t.leave();
        body
    }
}

fn spec_body<'de, D: Deserializer<'de>>(shape: Shape, d: D) -> Result<Body, D::Error> {
    fn spec<'de, S: Deserialize<'de> + Default, D: Deserializer<'de>>(d: D) -> Result<S, D::Error> {
        Ok(Option::<S>::deserialize(d)?.unwrap_or_default())
    }
    Ok(match shape {
        Shape::Namespace => {
            IgnoredAny::deserialize(d)?;
            Body::Namespace
        }
        Shape::ServiceAccount => {
            IgnoredAny::deserialize(d)?;
            Body::ServiceAccount
        }
        Shape::ConfigMap => {
            IgnoredAny::deserialize(d)?;
            Body::ConfigMap(ConfigMapBody::default())
        }
        Shape::Pod => Body::Pod(spec(d)?, PodStatus::default()),
        Shape::Workload => Body::Workload(spec(d)?),
        Shape::Service => Body::Service(spec(d)?, ServiceStatus::default()),
        Shape::VirtualService => Body::VirtualService(spec(d)?),
        Shape::DestinationRule => Body::DestinationRule(spec(d)?),
        Shape::IstioGateway => Body::IstioGateway(spec(d)?),
        Shape::ServiceEntry => Body::ServiceEntry(spec(d)?),
        Shape::Sidecar => Body::Sidecar(spec(d)?),
        Shape::WorkloadEntry => Body::WorkloadEntry(spec(d)?),
        Shape::AuthorizationPolicy => Body::AuthorizationPolicy(spec(d)?),
        Shape::PeerAuthentication => Body::PeerAuthentication(spec(d)?),
        Shape::GatewayClass => Body::GatewayClass(spec(d)?),
        Shape::Gateway => Body::Gateway(spec(d)?),
        Shape::HttpRoute => Body::HttpRoute(spec(d)?),
        Shape::GrpcRoute => Body::GrpcRoute(spec(d)?),
        Shape::ReferenceGrant => Body::ReferenceGrant(spec(d)?),
        Shape::OpenShiftRoute => Body::OpenShiftRoute(spec(d)?),
        Shape::SailIstio => Body::SailIstio(spec(d)?),
        Shape::IstioRevision => Body::IstioRevision(spec(d)?),
        Shape::IstioRevisionTag => Body::IstioRevisionTag(spec(d)?),
        Shape::IstioCni => Body::IstioCni(spec(d)?),
        Shape::ZTunnel => Body::ZTunnel(spec(d)?),
        Shape::SimulatedResponse => Body::SimulatedResponse(spec(d)?),
        // EndpointSlices have no spec, and Gateways carry status addresses: the careful
        // path reads both.
        Shape::Kept | Shape::EndpointSlice => return Err(give_up()),
    })
}
