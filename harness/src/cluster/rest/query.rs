//! Reads the query parameters the API honours: watch, resourceVersion,
//! label and field selectors, timeoutSeconds, dryRun, sendInitialEvents,
//! fieldValidation.

use std::time::Duration;

use serde_json::json;

use crate::cluster::status::ApiError;
use crate::cluster::validation::FieldValidation;
use crate::cluster::validation::field::{FieldError, Invalid, Path};

/// The query parameters the API reads.
#[derive(Default)]
pub(super) struct Query {
    pub(super) watch: bool,
    pub(super) resource_version: Option<String>,
    pub(super) label_selector: String,
    pub(super) field_name: Option<String>,
    pub(super) field_namespace: Option<String>,
    pub(super) timeout: Option<Duration>,
    pub(super) dry_run: bool,
    pub(super) send_initial_events: bool,
    /// As given; checked by the write that reads it.
    pub(super) field_validation: Option<String>,
}

/// What a write asks beyond its body.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct WriteOptions {
    /// `dryRun=All`: check, do not store.
    pub(super) dry_run: bool,
    /// `fieldValidation`: what to do with unknown fields.
    pub(super) field_validation: FieldValidation,
}

impl Query {
    /// Reads a raw query string; an unsupported field selector is a 400.
    pub(super) fn parse(q: &str) -> Result<Query, ApiError> {
        let mut out = Query::default();
        for (k, v) in form_urlencoded::parse(q.as_bytes()) {
            match k.as_ref() {
                "watch" => out.watch = v == "true" || v == "1",
                "resourceVersion" if !v.is_empty() => out.resource_version = Some(v.into_owned()),
                "labelSelector" => out.label_selector = v.into_owned(),
                "fieldSelector" => {
                    for term in v.split(',').filter(|t| !t.is_empty()) {
                        match term.split_once('=') {
                            Some(("metadata.name", n)) => {
                                out.field_name = Some(n.trim_start_matches('=').to_owned())
                            }
                            Some(("metadata.namespace", n)) => {
                                out.field_namespace = Some(n.trim_start_matches('=').to_owned())
                            }
                            _ => {
                                return Err(ApiError::new(
                                    400,
                                    "BadRequest",
                                    format!("field label not supported: {term}"),
                                    json!({}),
                                ));
                            }
                        }
                    }
                }
                "timeoutSeconds" => out.timeout = v.parse().ok().map(Duration::from_secs),
                "dryRun" => out.dry_run = v == "All",
                "sendInitialEvents" => out.send_initial_events = v == "true",
                "fieldValidation" => out.field_validation = Some(v.into_owned()),
                _ => {}
            }
        }
        Ok(out)
    }

    /// The options of a write; a `fieldValidation` the API does not know
    /// is a 422 on the request's options (`CreateOptions`, ...).
    pub(super) fn write(&self, options_kind: &str) -> Result<WriteOptions, ApiError> {
        let field_validation = match self.field_validation.as_deref() {
            None | Some("") => FieldValidation::default(),
            Some(v) => FieldValidation::parse(v).ok_or_else(|| {
                Invalid {
                    group: "meta.k8s.io".into(),
                    kind: options_kind.into(),
                    name: String::new(),
                    errors: vec![FieldError::not_supported(
                        &Path::new("fieldValidation"),
                        v,
                        &["", "Ignore", "Strict", "Warn"],
                    )],
                }
                .to_api_error()
            })?,
        };
        Ok(WriteOptions {
            dry_run: self.dry_run,
            field_validation,
        })
    }

    /// The resourceVersion a watch starts after (0: any, with the current
    /// objects first).
    pub(super) fn start_version(&self) -> Result<u64, ApiError> {
        match &self.resource_version {
            None => Ok(0),
            Some(v) => v.parse().map_err(|_| {
                ApiError::new(
                    400,
                    "BadRequest",
                    format!("invalid resource version: {v}"),
                    json!({}),
                )
            }),
        }
    }
}
