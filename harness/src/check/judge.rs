//! Judges a step's result against its checks: a pure comparator, so targets
//! stay dumb. TTL and record order are ignored unless a check names them.

use hickory_proto::rr::{Name, RecordType};

use super::Observed;
use super::diagnose::Diagnosis;
use crate::resolver::Outcome;
use crate::resolver::text::{rcode_name, rdata_text};
use crate::scenario::{Check, HeaderFlag, Section};

/// Every check that does not hold, as a sentence.
pub fn judge(checks: &[Check], seen: &Observed) -> Vec<String> {
    let mut failures = Vec::new();
    let reply = seen.outcome.as_ref().and_then(Outcome::reply);
    for check in checks {
        let problem = match (check, reply) {
            (Check::NoResponse, _) => match &seen.outcome {
                Some(Outcome::Silent(_)) => None,
                _ => Some("expected no response, but the resolver answered".to_owned()),
            },
            (Check::Candidate(want), _) => {
                let got = seen.candidate.clone().flatten();
                (got.as_ref().map(|n| n.to_lowercase()) != want.as_ref().map(|n| n.to_lowercase()))
                    .then(|| {
                        format!(
                            "expected candidate {}, got {}",
                            show_name(want.as_ref()),
                            show_name(got.as_ref())
                        )
                    })
            }
            (Check::Reachable(want), _) => (seen.reachable != Some(*want)).then(|| {
                format!(
                    "expected {}, but the connection {}",
                    if *want { "reachable" } else { "unreachable" },
                    match seen.reachable {
                        Some(true) => "reached a backend",
                        Some(false) => "reached no backend",
                        None => "was never made (the name did not resolve)",
                    }
                )
            }),
            (Check::Diagnosis(id), _) => (!seen.diagnoses.iter().any(|d| d.id == *id))
                .then(|| format!("expected diagnosis {id}, got {}", ids(&seen.diagnoses))),
            (Check::NoDiagnosis, _) => (!seen.diagnoses.is_empty())
                .then(|| format!("expected no diagnosis, got {}", ids(&seen.diagnoses))),
            (_, None) => Some(format!(
                "expected a response for `{}`, but the resolver sent none",
                describe(check)
            )),
            (Check::Rcode(want), Some(r)) => (r.rcode != *want).then(|| {
                format!(
                    "expected rcode {}, got {}",
                    rcode_name(*want),
                    rcode_name(r.rcode)
                )
            }),
            (Check::NoData, Some(r)) => (!r.is_nodata()).then(|| {
                format!(
                    "expected NODATA, got {} with {} answer(s)",
                    rcode_name(r.rcode),
                    r.answers.len()
                )
            }),
            (Check::Answer(want), Some(r)) => set_diff(
                "answer",
                want,
                &r.answers.iter().map(rdata_text).collect::<Vec<_>>(),
            ),
            (Check::AnswerAnyOf(sets), Some(r)) => {
                let got: Vec<String> = r.answers.iter().map(rdata_text).collect();
                (!sets
                    .iter()
                    .any(|want| set_diff("answer", want, &got).is_none()))
                .then(|| {
                    format!(
                        "answer [{}] is none of {}",
                        got.join(", "),
                        sets.iter()
                            .map(|s| format!("[{}]", s.join(", ")))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                })
            }
            (Check::RotatesOver { queries, answers }, Some(_)) => {
                rotation(*queries, answers, &seen.repeated)
            }
            (Check::Additional(want), Some(r)) => set_diff(
                "additional",
                want,
                &r.additionals.iter().map(rdata_text).collect::<Vec<_>>(),
            ),
            (Check::Flag(flag, want), Some(r)) => {
                let got = match flag {
                    HeaderFlag::Aa => r.authoritative,
                    HeaderFlag::Ra => r.recursion_available,
                    // Echoed from the question, which always has RD set
                    // (the loader refuses `-rd`).
                    HeaderFlag::Rd => true,
                };
                (got != *want).then(|| {
                    format!(
                        "expected flag {} to be {}",
                        flag_name(*flag),
                        if *want { "set" } else { "clear" }
                    )
                })
            }
            (Check::AuthoritySoa(want), Some(r)) => {
                let got = r
                    .authorities
                    .iter()
                    .any(|a| a.record_type() == RecordType::SOA);
                (got != *want).then(|| {
                    format!(
                        "expected the authority section {} an SOA",
                        if *want { "to hold" } else { "not to hold" }
                    )
                })
            }
            (Check::Count(section, n), Some(r)) => {
                let got = match section {
                    Section::Answer => r.answers.len(),
                    Section::Authority => r.authorities.len(),
                    Section::Additional => r.additionals.len(),
                };
                (got != *n).then(|| {
                    format!("expected {n} {section:?} record(s), got {got}").to_lowercase()
                })
            }
            (Check::TtlMin(min), Some(r)) => r
                .answers
                .iter()
                .find(|a| a.ttl < *min)
                .map(|a| format!("expected every TTL >= {min}, got {} on {}", a.ttl, a.name)),
            (Check::TtlMax(max), Some(r)) => r
                .answers
                .iter()
                .find(|a| a.ttl > *max)
                .map(|a| format!("expected every TTL <= {max}, got {} on {}", a.ttl, a.name)),
        };
        failures.extend(problem);
    }
    failures
}

/// Whether the answer sets of repeated queries are exactly `want`, each
/// seen at least once and nothing else.
fn rotation(queries: u32, want: &[Vec<String>], seen: &[Option<Vec<String>>]) -> Option<String> {
    if seen.len() != queries as usize {
        return Some(format!(
            "expected {queries} answers to compare, the target gave {}",
            seen.len()
        ));
    }
    let silent = seen.iter().filter(|s| s.is_none()).count();
    if silent > 0 {
        return Some(format!("{silent} of {queries} queries got no response"));
    }
    let matches = |w: &Vec<String>, g: &Vec<String>| set_diff("answer", w, g).is_none();
    let got: Vec<&Vec<String>> = seen.iter().flatten().collect();
    let missing: Vec<String> = want
        .iter()
        .filter(|w| !got.iter().any(|g| matches(w, g)))
        .map(|w| format!("[{}]", w.join(", ")))
        .collect();
    let mut extra: Vec<String> = got
        .iter()
        .filter(|g| !want.iter().any(|w| matches(w, g)))
        .map(|g| format!("[{}]", g.join(", ")))
        .collect();
    extra.dedup();
    if missing.is_empty() && extra.is_empty() {
        return None;
    }
    let mut msg = format!("over {queries} queries the answers do not rotate as expected");
    if !missing.is_empty() {
        msg.push_str(&format!("; never seen {}", missing.join(", ")));
    }
    if !extra.is_empty() {
        msg.push_str(&format!("; also seen {}", extra.join(", ")));
    }
    Some(msg)
}

fn set_diff(section: &str, want: &[String], got: &[String]) -> Option<String> {
    let norm = |s: &String| {
        s.split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_ascii_lowercase()
    };
    let mut w: Vec<String> = want.iter().map(norm).collect();
    let mut g: Vec<String> = got.iter().map(norm).collect();
    w.sort();
    g.sort();
    if w == g {
        return None;
    }
    let missing: Vec<&String> = w.iter().filter(|x| !g.contains(x)).collect();
    let extra: Vec<&String> = g.iter().filter(|x| !w.contains(x)).collect();
    let mut msg = format!(
        "{section} differs: expected [{}], got [{}]",
        w.join(", "),
        g.join(", ")
    );
    if !missing.is_empty() {
        msg.push_str(&format!(
            "; missing {}",
            missing
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if !extra.is_empty() {
        msg.push_str(&format!(
            "; unexpected {}",
            extra
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    Some(msg)
}

fn ids(d: &[Diagnosis]) -> String {
    if d.is_empty() {
        "none".into()
    } else {
        d.iter()
            .map(|d| d.id.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn show_name(n: Option<&Name>) -> String {
    n.map_or("none".into(), Name::to_string)
}

fn flag_name(f: HeaderFlag) -> &'static str {
    match f {
        HeaderFlag::Aa => "aa",
        HeaderFlag::Ra => "ra",
        HeaderFlag::Rd => "rd",
    }
}

fn describe(c: &Check) -> String {
    match c {
        Check::Rcode(r) => format!("rcode {}", rcode_name(*r)),
        Check::Answer(_) => "answer".into(),
        Check::Additional(_) => "additional".into(),
        Check::NoData => "nodata".into(),
        Check::Flag(f, s) => format!("{}{}", if *s { "+" } else { "-" }, flag_name(*f)),
        Check::AuthoritySoa(_) => "authority_soa".into(),
        Check::Count(s, n) => format!("count {s:?} {n}"),
        Check::TtlMin(_) | Check::TtlMax(_) => "ttl".into(),
        other => format!("{other:?}"),
    }
}
