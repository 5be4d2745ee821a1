//! Reads the query parameters the API honours: watch, resourceVersion and
//! resourceVersionMatch, label and field selectors, timeoutSeconds, dryRun,
//! allowWatchBookmarks, sendInitialEvents, fieldValidation, fieldManager
//! and force; and checks them as the API server's `ValidateListOptions`.

use std::time::Duration;

use serde_json::json;

use crate::cluster::selector::{FieldSelector, Selector};
use crate::cluster::status::ApiError;
use crate::cluster::validation::FieldValidation;
use crate::cluster::validation::field::{FieldError, Invalid, Path, go_quote};

/// The query parameters the API reads.
#[derive(Default)]
pub(super) struct Query {
    pub(super) watch: bool,
    pub(super) resource_version: Option<String>,
    pub(super) resource_version_match: Option<String>,
    /// As given (parsed by [`Query::labels`]).
    pub(super) label_selector: String,
    pub(super) fields: FieldSelector,
    pub(super) timeout: Option<Duration>,
    pub(super) dry_run: bool,
    pub(super) allow_bookmarks: bool,
    /// `None` when not given (which the checks tell apart from false).
    pub(super) send_initial_events: Option<bool>,
    /// As given; checked by the write that reads it.
    pub(super) field_validation: Option<String>,
    /// `fieldManager`, for server-side apply.
    pub(super) field_manager: Option<String>,
    /// `force`, for server-side apply.
    pub(super) force: bool,
}

/// A resourceVersion as a number; anything else is the 500 the API
/// server's storage answers (its words, and no reason).
pub(super) fn parse_version(text: &str) -> Result<u64, ApiError> {
    text.parse().map_err(|_| {
        let why = match text.parse::<i128>() {
            Ok(_) => "value out of range",
            Err(_) => "invalid syntax",
        };
        ApiError::new(
            500,
            "",
            format!(
                "resourceVersion: Invalid value: {}: strconv.ParseUint: parsing {}: {why}",
                go_quote(text),
                go_quote(text)
            ),
            json!({}),
        )
    })
}

/// What a write asks beyond its body.
#[derive(Clone, Debug, Default)]
pub(super) struct WriteOptions {
    /// `dryRun=All`: check, do not store.
    pub(super) dry_run: bool,
    /// `fieldValidation`: what to do with unknown fields.
    pub(super) field_validation: FieldValidation,
    /// The field manager: `fieldManager`, or the client's User-Agent up to
    /// its first `/` (empty when neither is given).
    pub(super) field_manager: String,
    /// Whether `fieldManager` was given (server-side apply needs it).
    pub(super) manager_given: bool,
    /// `force`: an apply takes fields others own.
    pub(super) force: bool,
}

fn bad_request(message: String) -> ApiError {
    ApiError::new(400, "BadRequest", message, json!({}))
}

impl Query {
    /// Reads a raw query string; a malformed field selector is a 400.
    pub(super) fn parse(q: &str) -> Result<Query, ApiError> {
        let mut out = Query::default();
        for (k, v) in form_urlencoded::parse(q.as_bytes()) {
            match k.as_ref() {
                "watch" => out.watch = v == "true" || v == "1",
                "resourceVersion" if !v.is_empty() => out.resource_version = Some(v.into_owned()),
                "resourceVersionMatch" if !v.is_empty() => {
                    out.resource_version_match = Some(v.into_owned())
                }
                "labelSelector" => out.label_selector = v.into_owned(),
                "fieldSelector" => out.fields = FieldSelector::parse(&v).map_err(bad_request)?,
                "timeoutSeconds" => out.timeout = v.parse().ok().map(Duration::from_secs),
                "dryRun" => out.dry_run = v == "All",
                "allowWatchBookmarks" => out.allow_bookmarks = v == "true",
                "sendInitialEvents" => out.send_initial_events = Some(v == "true"),
                "fieldValidation" => out.field_validation = Some(v.into_owned()),
                "fieldManager" => out.field_manager = Some(v.into_owned()),
                "force" => out.force = v == "true",
                _ => {}
            }
        }
        Ok(out)
    }

    /// The label selector; a malformed one is a 400 in the parser's words.
    pub(super) fn labels(&self) -> Result<Selector, ApiError> {
        Selector::parse(&self.label_selector).map_err(bad_request)
    }

    /// Checks a list's or a watch's options as the API server's
    /// `ValidateListOptions` does: a 422 on `ListOptions`.
    pub(super) fn check_list(&self) -> Result<(), ApiError> {
        let forbidden = |field: &str, why: String| FieldError::forbidden(&Path::new(field), &why);
        let mut errors = Vec::new();
        let rv_match = self.resource_version_match.as_deref();
        if self.watch {
            if self.send_initial_events.is_some() && rv_match != Some("NotOlderThan") {
                errors.push(forbidden(
                    "resourceVersionMatch",
                    "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan"
                        .into(),
                ));
            }
            if let Some(m) = rv_match {
                if self.send_initial_events.is_none() {
                    errors.push(forbidden(
                        "resourceVersionMatch",
                        "resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided".into(),
                    ));
                }
                if m != "NotOlderThan" {
                    errors.push(FieldError::not_supported(
                        &Path::new("resourceVersionMatch"),
                        m,
                        &["NotOlderThan"],
                    ));
                }
            }
        } else {
            if let Some(m) = rv_match {
                if self.resource_version.is_none() {
                    errors.push(forbidden(
                        "resourceVersionMatch",
                        "resourceVersionMatch is forbidden unless resourceVersion is provided"
                            .into(),
                    ));
                }
                if m != "Exact" && m != "NotOlderThan" {
                    errors.push(FieldError::not_supported(
                        &Path::new("resourceVersionMatch"),
                        m,
                        &["Exact", "NotOlderThan", ""],
                    ));
                }
                if m == "Exact" && self.resource_version.as_deref() == Some("0") {
                    errors.push(forbidden(
                        "resourceVersionMatch",
                        "resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\""
                            .into(),
                    ));
                }
            }
            if self.send_initial_events.is_some() {
                errors.push(forbidden(
                    "sendInitialEvents",
                    "sendInitialEvents is forbidden for list".into(),
                ));
            }
        }
        if errors.is_empty() {
            return Ok(());
        }
        Err(Invalid {
            group: "meta.k8s.io".into(),
            kind: "ListOptions".into(),
            name: String::new(),
            errors,
        }
        .to_api_error())
    }

    /// The options of a write; a `fieldValidation` the API does not know
    /// is a 422 on the request's options (`CreateOptions`, ...).
    pub(super) fn write(
        &self,
        options_kind: &str,
        req: &super::ApiRequest<'_>,
    ) -> Result<WriteOptions, ApiError> {
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
        let from_agent = || {
            req.user_agent
                .split('/')
                .next()
                .unwrap_or_default()
                .chars()
                .filter(|c| !c.is_control())
                .take(128)
                .collect()
        };
        Ok(WriteOptions {
            dry_run: self.dry_run,
            field_validation,
            field_manager: self.field_manager.clone().unwrap_or_else(from_agent),
            manager_given: self.field_manager.as_deref().is_some_and(|m| !m.is_empty()),
            force: self.force,
        })
    }

    /// The resourceVersion a watch starts after (0: any, with the current
    /// objects first).
    pub(super) fn start_version(&self) -> Result<u64, ApiError> {
        self.resource_version
            .as_deref()
            .map_or(Ok(0), parse_version)
    }
}
