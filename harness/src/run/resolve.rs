//! Looks a name up as a client's libc does: the resolv.conf search list,
//! `ndots`, and where glibc and musl stop walking.
//!
//! glibc (`res_nsearch`) goes on to the next candidate after NXDOMAIN, NODATA
//! and SERVFAIL, and stops at an answer, REFUSED or a timeout. musl stops at
//! the first candidate that is not NXDOMAIN, so a NODATA (an AAAA-less name,
//! an import without ips) ends its walk where glibc would go on.

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::Name;

use crate::resolver::Outcome;
use crate::scenario::{Client, Libc};

/// One candidate asked, and what came back.
#[derive(Clone, Debug)]
pub struct Attempt {
    /// The candidate name.
    pub name: Name,
    /// The response (or silence).
    pub outcome: Outcome,
}

/// A whole lookup.
#[derive(Clone, Debug)]
pub struct Resolution {
    /// Every candidate asked, in order.
    pub attempts: Vec<Attempt>,
    /// The index of the attempt that answered, if one did.
    pub answered: Option<usize>,
}

impl Resolution {
    /// The outcome the application sees: the answering attempt's, else the last one's.
    pub fn final_outcome(&self) -> Option<&Outcome> {
        self.answered
            .or(self.attempts.len().checked_sub(1))
            .map(|i| &self.attempts[i].outcome)
    }

    /// The candidate that answered.
    pub fn answered_name(&self) -> Option<&Name> {
        self.answered.map(|i| &self.attempts[i].name)
    }
}

/// The names a stub tries for `name`, in order.
pub fn candidates(name: &str, client: &Client) -> Vec<Name> {
    let Ok(mut base) = Name::from_ascii(name) else {
        return Vec::new();
    };
    if name.ends_with('.') {
        base.set_fqdn(true);
        return vec![base];
    }
    let dots = name.matches('.').count();
    let searched: Vec<Name> = client
        .search
        .iter()
        .filter_map(|d| base.clone().append_domain(d).ok())
        .collect();
    let mut absolute = base;
    absolute.set_fqdn(true);
    if dots >= client.ndots as usize {
        std::iter::once(absolute).chain(searched).collect()
    } else {
        searched
            .into_iter()
            .chain(std::iter::once(absolute))
            .collect()
    }
}

/// Walks the candidates, asking each with `ask`, as `libc` would.
pub fn walk(
    candidates: Vec<Name>,
    libc: Libc,
    mut ask: impl FnMut(&Name) -> Outcome,
) -> Resolution {
    let mut attempts = Vec::new();
    for name in candidates {
        let outcome = ask(&name);
        let verdict = match &outcome {
            Outcome::Silent(_) => Verdict::Stop,
            Outcome::Reply(r) if r.rcode == ResponseCode::NoError && !r.answers.is_empty() => {
                Verdict::Answered
            }
            Outcome::Reply(r) => match (libc, r.rcode) {
                (_, ResponseCode::NXDomain) => Verdict::Next,
                (Libc::Glibc, ResponseCode::NoError | ResponseCode::ServFail) => Verdict::Next,
                _ => Verdict::Stop,
            },
        };
        attempts.push(Attempt { name, outcome });
        match verdict {
            Verdict::Answered => {
                let i = attempts.len() - 1;
                return Resolution {
                    attempts,
                    answered: Some(i),
                };
            }
            Verdict::Stop => break,
            Verdict::Next => {}
        }
    }
    Resolution {
        attempts,
        answered: None,
    }
}

enum Verdict {
    Answered,
    Next,
    Stop,
}
