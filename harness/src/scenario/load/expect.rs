//! Loads an `expect`: each key a check, refused where it checks nothing,
//! can never pass, contradicts another, or does not fit the step before.

use hickory_proto::op::ResponseCode;

use super::ScenarioError;
use super::file::Ctx;
use super::resolver::fqdn;
use crate::error::did_you_mean;
use crate::scenario::format::{ExpectSpec, Step, TtlSpec};
use crate::scenario::located::Located;
use crate::scenario::{Action, Check, DiagnosisId, HeaderFlag, Section};

/// The checks of `e`, the expectation at `at` of a step doing `action`.
pub(super) fn checks(
    cx: &Ctx<'_>,
    at: &Located<Step>,
    e: &ExpectSpec,
    action: &Action,
) -> Result<Vec<Check>, ScenarioError> {
    let mut out = response(cx, at, e, action)?;
    if let Some(c) = &e.candidate {
        if !matches!(action, Action::Resolve { .. }) {
            return Err(cx
                .at(
                    at,
                    format!(
                        "`candidate` checks a resolve step, not a {} step",
                        action.kind()
                    ),
                )
                .with_hint("put it in the expect that follows a resolve step"));
        }
        out.push(Check::Candidate(if c == "none" {
            None
        } else {
            Some(fqdn(c).map_err(|err| cx.at(at, format!("invalid candidate {c:?}: {err}")))?)
        }));
    }
    if let Some(r) = e.reachable {
        if !matches!(action, Action::Connect { .. }) {
            return Err(cx
                .at(
                    at,
                    format!(
                        "`reachable` checks a connect step, not a {} step",
                        action.kind()
                    ),
                )
                .with_hint("put it in the expect that follows a connect step"));
        }
        out.push(Check::Reachable(r));
    }
    if let Some(d) = &e.diagnosis {
        out.push(diagnosis(cx, d)?);
    }
    if out.is_empty() {
        return Err(cx
            .at(at, "this expect checks nothing")
            .with_hint("name at least one of rcode, answer, nodata, flags, ..."));
    }
    Ok(out)
}

/// The checks of what a DNS response holds; refused after a connect step.
fn response(
    cx: &Ctx<'_>,
    at: &Located<Step>,
    e: &ExpectSpec,
    action: &Action,
) -> Result<Vec<Check>, ScenarioError> {
    let mut out = Vec::new();
    let dns = matches!(action, Action::Query { .. } | Action::Resolve { .. });
    let need_dns = |what: &str| -> Result<(), ScenarioError> {
        if dns {
            Ok(())
        } else {
            Err(cx
                .at(
                    at,
                    format!(
                        "`{what}` checks a DNS response; a {} step has none",
                        action.kind()
                    ),
                )
                .with_hint("a connect step checks `reachable` and `diagnosis`"))
        }
    };
    if let Some(r) = &e.rcode {
        need_dns("rcode")?;
        out.push(Check::Rcode(rcode(cx, r)?));
    }
    if let Some(a) = &e.answer {
        need_dns("answer")?;
        out.push(Check::Answer(a.clone()));
    }
    if let Some(sets) = &e.answer_any_of {
        need_dns("answer_any_of")?;
        if sets.is_empty() {
            return Err(cx
                .at(at, "`answer_any_of` lists no answer, so it can never pass")
                .with_hint(
                    "list each answer the resolver may give, e.g. [[10.2.0.7], [10.3.0.7]]",
                ));
        }
        if e.answer.is_some() {
            return Err(cx
                .at(
                    at,
                    "`answer` and `answer_any_of` both check the answer section",
                )
                .with_hint("keep one of them"));
        }
        out.push(Check::AnswerAnyOf(sets.clone()));
    }
    if let Some(r) = &e.rotates_over {
        if !matches!(action, Action::Query { .. }) {
            return Err(cx
                .at(
                    at,
                    format!(
                        "`rotates_over` repeats a query step, not a {} step",
                        action.kind()
                    ),
                )
                .with_hint("put it in the expect that follows a query step"));
        }
        if !(2..=1000).contains(&r.queries) {
            return Err(cx
                .at(
                    at,
                    format!("`rotates_over.queries` is {}, not 2 to 1000", r.queries),
                )
                .with_hint("a rotation shows over at least two queries"));
        }
        if r.answers.is_empty() {
            return Err(cx
                .at(
                    at,
                    "`rotates_over.answers` lists no answer, so it can never pass",
                )
                .with_hint("list every answer set the rotation goes through"));
        }
        out.push(Check::RotatesOver {
            queries: r.queries,
            answers: r.answers.clone(),
        });
    }
    out.extend(emptiness(cx, at, e, &need_dns)?);
    if let Some(f) = &e.flags {
        need_dns("flags")?;
        out.extend(flags(cx, f)?);
    }
    if let Some(s) = e.authority_soa {
        need_dns("authority_soa")?;
        out.push(Check::AuthoritySoa(s));
    }
    if let Some(a) = &e.additional {
        need_dns("additional")?;
        out.push(Check::Additional(a.clone()));
    }
    if let Some(c) = &e.count {
        need_dns("count")?;
        for (section, n) in [
            (Section::Answer, c.answer),
            (Section::Authority, c.authority),
            (Section::Additional, c.additional),
        ] {
            if let Some(n) = n {
                out.push(Check::Count(section, n));
            }
        }
    }
    if let Some(t) = &e.ttl {
        need_dns("ttl")?;
        out.extend(ttl(cx, at, t)?);
    }
    Ok(out)
}

/// `nodata` and `no_response`: only `true` checks something, and neither
/// goes with what a response holds.
fn emptiness(
    cx: &Ctx<'_>,
    at: &Located<Step>,
    e: &ExpectSpec,
    need_dns: &dyn Fn(&str) -> Result<(), ScenarioError>,
) -> Result<Vec<Check>, ScenarioError> {
    let mut out = Vec::new();
    for (key, value) in [("nodata", e.nodata), ("no_response", e.no_response)] {
        if value == Some(false) {
            return Err(cx
                .at(at, format!("`{key}: false` checks nothing"))
                .with_hint(format!(
                    "leave `{key}` out, or check what should come instead (rcode, answer)"
                )));
        }
    }
    if let Some(true) = e.nodata {
        need_dns("nodata")?;
        if e.answer.as_ref().is_some_and(|a| !a.is_empty()) {
            return Err(cx
                .at(at, "nodata and a non-empty answer contradict each other")
                .with_hint("NODATA is NOERROR with an empty answer: keep one of the two"));
        }
        out.push(Check::NoData);
    }
    if let Some(true) = e.no_response {
        need_dns("no_response")?;
        if e.answer.is_some() || e.rcode.is_some() || e.nodata.is_some() || e.flags.is_some() {
            return Err(cx.at(
                at,
                "no_response cannot be checked together with what a response holds",
            ));
        }
        out.push(Check::NoResponse);
    }
    Ok(out)
}

/// `+aa -ra`: each word a flag that must be set or clear.
fn flags(cx: &Ctx<'_>, f: &Located<String>) -> Result<Vec<Check>, ScenarioError> {
    let mut out = Vec::new();
    for word in f.value.split_whitespace() {
        let signed = word
            .strip_prefix('+')
            .map(|n| (true, n))
            .or_else(|| word.strip_prefix('-').map(|n| (false, n)));
        let (set, name) = match signed {
            Some(s) => s,
            None => {
                return Err(cx
                    .at(f, format!("flag {word:?} must start with + or -"))
                    .with_hint("e.g. `+aa -ra`"));
            }
        };
        let flag = match name.to_ascii_lowercase().as_str() {
            "aa" => HeaderFlag::Aa,
            "ra" => HeaderFlag::Ra,
            "rd" if !set => {
                return Err(cx
                    .at(f, "`-rd` can never pass: a server copies RD from the question, and mcsdns always asks with RD set")
                    .with_hint("drop it; `+rd` only shows the bit was echoed"));
            }
            "rd" => HeaderFlag::Rd,
            "tc" => {
                return Err(cx
                    .at(
                        f,
                        "tc cannot be observed: the reference target hands replies over whole",
                    )
                    .with_hint("truncation is tested over real sockets (see docs/semantics.md)"));
            }
            _ => {
                return Err(cx
                    .at(f, format!("unknown flag {name:?}"))
                    .with_hint("aa, ra, rd or tc"));
            }
        };
        out.push(Check::Flag(flag, set));
    }
    Ok(out)
}

/// `ttl: {min, max}`, refused when no TTL can satisfy both.
fn ttl(cx: &Ctx<'_>, at: &Located<Step>, t: &TtlSpec) -> Result<Vec<Check>, ScenarioError> {
    if let (Some(min), Some(max)) = (t.min, t.max)
        && min > max
    {
        return Err(cx
            .at(
                at,
                format!("ttl.min {min} is above ttl.max {max}: the check can never pass"),
            )
            .with_hint("swap min and max"));
    }
    Ok(t.min
        .map(Check::TtlMin)
        .into_iter()
        .chain(t.max.map(Check::TtlMax))
        .collect())
}

/// A diagnosis by its id, or `none`.
fn diagnosis(cx: &Ctx<'_>, d: &Located<String>) -> Result<Check, ScenarioError> {
    if d.value == "none" {
        return Ok(Check::NoDiagnosis);
    }
    if let Some(id) = DiagnosisId::parse(&d.value) {
        return Ok(Check::Diagnosis(id));
    }
    let known = DiagnosisId::ALL.map(DiagnosisId::as_str);
    let err = cx.at(d, format!("unknown diagnosis {:?}", d.value));
    Err(match did_you_mean(&d.value, known) {
        Some(s) => err.with_hint(format!("did you mean {s:?}?")),
        None => err.with_hint(format!("known: {}", known.join(", "))),
    })
}

/// A response code by its name.
fn rcode(cx: &Ctx<'_>, l: &Located<String>) -> Result<ResponseCode, ScenarioError> {
    let names = [
        "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED",
    ];
    let up = l.value.to_ascii_uppercase();
    names
        .iter()
        .position(|n| *n == up)
        .map(|i| ResponseCode::from(0, i as u8))
        .ok_or_else(|| {
            let mut e = cx.at(l, format!("unknown rcode {:?}", l.value));
            e = match did_you_mean(&up, names) {
                Some(s) => e.with_hint(format!("did you mean {s}?")),
                None => e.with_hint(format!("one of {}", names.join(", "))),
            };
            e
        })
}
