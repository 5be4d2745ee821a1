//! Answers access reviews, so `kubectl auth can-i` works against the
//! emulator: a SelfSubjectAccessReview asks for the caller (or the user
//! the administrator impersonates with `--as`), a SubjectAccessReview asks
//! for any user and is the administrator's to make.

use serde_json::{Value, json};

use super::{ApiReply, ApiRequest};
use crate::cluster::status::ApiError;
use crate::cluster::store::{ADMIN, ApiStore};
use crate::model::rbac::{self, Access};

const GROUP_PATH: &str = "/apis/authorization.k8s.io/v1/";

/// The reply to an access review, or `None` when the request is not one.
pub(super) fn answer(
    store: &ApiStore,
    identity: &str,
    req: &ApiRequest<'_>,
) -> Option<Result<ApiReply, ApiError>> {
    let kind = match req.path.strip_prefix(GROUP_PATH)? {
        "selfsubjectaccessreviews" => "SelfSubjectAccessReview",
        "subjectaccessreviews" => "SubjectAccessReview",
        _ => return None,
    };
    if req.method != "POST" {
        return Some(Err(ApiError::new(
            405,
            "MethodNotAllowed",
            format!("{} is not supported on {}", req.method, req.path),
            json!({}),
        )));
    }
    Some(review(store, identity, kind, req))
}

fn review(
    store: &ApiStore,
    identity: &str,
    kind: &str,
    req: &ApiRequest<'_>,
) -> Result<ApiReply, ApiError> {
    let bad = |why: String| ApiError::new(400, "BadRequest", why, json!({}));
    let spec = if req.content_type.contains("protobuf") {
        wire::spec(req.body).map_err(bad)?
    } else {
        let body: Value = serde_json::from_slice(req.body)
            .map_err(|e| bad(format!("the body is not JSON: {e}")))?;
        body.get("spec").cloned().unwrap_or(json!({}))
    };
    let subject = if kind == "SubjectAccessReview" {
        if identity != ADMIN {
            return Err(ApiError::new(
                403,
                "Forbidden",
                format!(
                    "subjectaccessreviews.authorization.k8s.io is forbidden: User \"{identity}\" cannot create resource \"subjectaccessreviews\" in API group \"authorization.k8s.io\" at the cluster scope"
                ),
                json!({"group": "authorization.k8s.io", "kind": "subjectaccessreviews"}),
            ));
        }
        spec.get("user")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("spec.user: Required value".into()))?
            .to_owned()
    } else {
        identity.to_owned()
    };
    let attributes = spec.get("resourceAttributes").ok_or_else(|| {
        bad("spec.resourceAttributes: Required value (non-resource URLs are not reviewed)".into())
    })?;
    let field = |name: &str| attributes.get(name).and_then(Value::as_str).unwrap_or("");
    let resource = match field("subresource") {
        "" => field("resource").to_owned(),
        sub => format!("{}/{sub}", field("resource")),
    };
    let access = Access {
        verb: field("verb"),
        group: field("group"),
        resource: &resource,
    };
    let (allowed, reason) = if subject == ADMIN {
        (true, "the administrator may do anything".to_owned())
    } else {
        match rbac::check(store.state(), &subject, access) {
            Ok(()) => (true, "allowed by a ClusterRoleBinding".to_owned()),
            Err(d) => (false, denied_reason(&d.roles)),
        }
    };
    Ok(ApiReply::Json(
        201,
        json!({
            "kind": kind,
            "apiVersion": "authorization.k8s.io/v1",
            "metadata": {"creationTimestamp": null},
            "spec": spec,
            "status": {"allowed": allowed, "reason": reason},
        }),
    ))
}

fn denied_reason(roles: &[String]) -> String {
    if roles.is_empty() {
        "no ClusterRole is bound to the user".into()
    } else {
        format!("no rule of ClusterRole {} allows it", roles.join(", "))
    }
}

/// The protobuf form client-go's typed clients send (kubectl's `auth
/// can-i`): the `k8s\0` magic, then a `runtime.Unknown` whose `raw` is the
/// review. Only the fields a review reads are declared (field numbers of
/// k8s.io/api authorization/v1 generated.proto); the rest are skipped.
mod wire {
    use prost::Message;
    use serde_json::{Value, json};

    #[derive(Clone, PartialEq, Message)]
    struct Unknown {
        #[prost(bytes = "vec", tag = "2")]
        raw: Vec<u8>,
    }

    #[derive(Clone, PartialEq, Message)]
    struct Review {
        #[prost(message, optional, tag = "2")]
        spec: Option<Spec>,
    }

    #[derive(Clone, PartialEq, Message)]
    struct Spec {
        #[prost(message, optional, tag = "1")]
        resource_attributes: Option<Attributes>,
        #[prost(string, optional, tag = "3")]
        user: Option<String>,
    }

    #[derive(Clone, PartialEq, Message)]
    struct Attributes {
        #[prost(string, optional, tag = "1")]
        namespace: Option<String>,
        #[prost(string, optional, tag = "2")]
        verb: Option<String>,
        #[prost(string, optional, tag = "3")]
        group: Option<String>,
        #[prost(string, optional, tag = "4")]
        version: Option<String>,
        #[prost(string, optional, tag = "5")]
        resource: Option<String>,
        #[prost(string, optional, tag = "6")]
        subresource: Option<String>,
        #[prost(string, optional, tag = "7")]
        name: Option<String>,
    }

    const MAGIC: &[u8] = b"k8s\0";

    /// The review's spec, as its JSON form would give it.
    pub(super) fn spec(body: &[u8]) -> Result<Value, String> {
        let envelope = body
            .strip_prefix(MAGIC)
            .ok_or("a protobuf body starts with the k8s magic number")?;
        let unknown = Unknown::decode(envelope).map_err(|e| format!("invalid protobuf: {e}"))?;
        let review =
            Review::decode(unknown.raw.as_slice()).map_err(|e| format!("invalid protobuf: {e}"))?;
        let spec = review.spec.unwrap_or_default();
        let mut out = json!({});
        if let Some(a) = spec.resource_attributes {
            out["resourceAttributes"] = json!({
                "namespace": a.namespace, "verb": a.verb, "group": a.group,
                "version": a.version, "resource": a.resource,
                "subresource": a.subresource, "name": a.name,
            });
        }
        if let Some(user) = spec.user {
            out["user"] = json!(user);
        }
        Ok(out)
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn a_protobuf_review_reads_as_its_json_form() {
            let review = Review {
                spec: Some(Spec {
                    resource_attributes: Some(Attributes {
                        verb: Some("list".into()),
                        group: Some("discovery.k8s.io".into()),
                        resource: Some("endpointslices".into()),
                        ..Default::default()
                    }),
                    user: Some("u".into()),
                }),
            };
            let mut body = MAGIC.to_vec();
            body.extend(
                Unknown {
                    raw: review.encode_to_vec(),
                }
                .encode_to_vec(),
            );
            let v = spec(&body).unwrap();
            assert_eq!(v["resourceAttributes"]["resource"], "endpointslices");
            assert_eq!(v["resourceAttributes"]["verb"], "list");
            assert_eq!(v["user"], "u");
            assert!(spec(b"{}").is_err());
        }
    }
}
