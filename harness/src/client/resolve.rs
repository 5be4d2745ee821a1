//! Looks a name up as a client's libc does: the resolv.conf search list,
//! `ndots`, and where glibc and musl stop walking.
//!
//! glibc (`__res_context_search`): a name with a trailing dot is asked
//! alone. A name with at least `ndots` dots is asked as it is first; if that
//! fails, the search list follows anyway. Each search candidate moves on
//! after NXDOMAIN, NODATA or SERVFAIL, and ends the list at REFUSED or a
//! timeout; the name as it is is asked last if it was not asked first. A
//! failed lookup reports the first as-is failure, else NODATA if any
//! candidate had it, else the last answer.
//!
//! musl (`name_from_dns_search`): a trailing dot, or at least `ndots` dots,
//! means the name alone. Otherwise each search candidate is asked until one
//! is not NXDOMAIN (a NODATA or SERVFAIL ends the walk too), then the name as
//! it is if all were NXDOMAIN. musl ignores a REFUSED reply and waits for
//! another server until its timeout, so REFUSED ends its walk as a timeout.

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
#[derive(Clone, Debug, Default)]
pub struct Resolution {
    /// Every candidate asked, in order.
    pub attempts: Vec<Attempt>,
    /// The index of the attempt that answered, if one did.
    pub answered: Option<usize>,
    /// The attempt whose response the application sees.
    pub seen: Option<usize>,
}

impl Resolution {
    /// The outcome the application sees.
    pub fn final_outcome(&self) -> Option<&Outcome> {
        self.seen.map(|i| &self.attempts[i].outcome)
    }

    /// The candidate that answered.
    pub fn answered_name(&self) -> Option<&Name> {
        self.answered.map(|i| &self.attempts[i].name)
    }

    /// Whether a search-list candidate (not the name as written) answered.
    pub fn answered_by_search(&self, written: &str) -> bool {
        let Some(name) = self.answered_name() else {
            return false;
        };
        let mut as_is = Name::from_ascii(written).unwrap_or_default();
        as_is.set_fqdn(true);
        *name != as_is
    }
}

/// What one response means to a walking stub.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Answer,
    NxDomain,
    NoData,
    ServFail,
    Stop,
}

fn kind(o: &Outcome) -> Kind {
    match o {
        Outcome::Silent(_) => Kind::Stop,
        Outcome::Reply(r) if r.rcode == ResponseCode::NoError && !r.answers.is_empty() => {
            Kind::Answer
        }
        Outcome::Reply(r) => match r.rcode {
            ResponseCode::NoError => Kind::NoData,
            ResponseCode::NXDomain => Kind::NxDomain,
            ResponseCode::ServFail => Kind::ServFail,
            _ => Kind::Stop,
        },
    }
}

/// The names `client`'s search list makes of `name`, in search order.
pub fn searched(name: &str, client: &Client) -> Vec<Name> {
    let Ok(base) = Name::from_ascii(name) else {
        return Vec::new();
    };
    client
        .search
        .iter()
        .filter_map(|d| base.clone().append_domain(d).ok())
        .collect()
}

/// The candidates glibc would try if every one failed, in order (for listings).
pub fn candidates(name: &str, client: &Client) -> Vec<Name> {
    let mut all = Vec::new();
    let _ = walk(name, client, |n| {
        all.push(n.clone());
        Outcome::Reply(crate::resolver::Reply::rcode(ResponseCode::NXDomain))
    });
    all
}

/// Looks `name` up as `client`'s libc does, asking each candidate with `ask`.
pub fn walk(name: &str, client: &Client, mut ask: impl FnMut(&Name) -> Outcome) -> Resolution {
    let mut r = Resolution::default();
    let Ok(mut as_is) = Name::from_ascii(name) else {
        return r;
    };
    let trailing_dot = name.ends_with('.');
    as_is.set_fqdn(true);
    let dots = name.trim_end_matches('.').matches('.').count();
    let many_dots = dots >= usize::from(client.ndots);
    let musl = client.libc == Libc::Musl;
    let mut push = |r: &mut Resolution, n: &Name| -> Kind {
        let mut outcome = ask(n);
        if musl && matches!(&outcome, Outcome::Reply(rep) if rep.rcode == ResponseCode::Refused) {
            outcome = Outcome::Silent(
                "musl ignores REFUSED and waits for another server until its timeout".into(),
            );
        }
        let k = kind(&outcome);
        r.attempts.push(Attempt {
            name: n.clone(),
            outcome,
        });
        if k == Kind::Answer {
            r.answered = Some(r.attempts.len() - 1);
            r.seen = r.answered;
        }
        k
    };
    match client.libc {
        Libc::Musl => {
            if trailing_dot || many_dots {
                push(&mut r, &as_is);
            } else {
                let mut all_nx = true;
                for c in searched(name, client) {
                    let k = push(&mut r, &c);
                    if k != Kind::NxDomain {
                        all_nx = false;
                        break;
                    }
                }
                if all_nx {
                    push(&mut r, &as_is);
                }
            }
            if r.answered.is_none() {
                r.seen = r.attempts.len().checked_sub(1);
            }
        }
        Libc::Glibc => {
            if trailing_dot {
                push(&mut r, &as_is);
                r.seen = Some(0);
                return r;
            }
            let mut first_as_is = None;
            if many_dots {
                if push(&mut r, &as_is) == Kind::Answer {
                    return r;
                }
                first_as_is = Some(0);
            }
            let mut nodata = None;
            for c in searched(name, client) {
                match push(&mut r, &c) {
                    Kind::Answer => return r,
                    Kind::NoData => {
                        nodata.get_or_insert(r.attempts.len() - 1);
                    }
                    Kind::NxDomain | Kind::ServFail => {}
                    Kind::Stop => break,
                }
            }
            if first_as_is.is_none() {
                let k = push(&mut r, &as_is);
                if k == Kind::Answer {
                    return r;
                }
                if k == Kind::NoData {
                    nodata.get_or_insert(r.attempts.len() - 1);
                }
            }
            r.seen = first_as_is.or(nodata).or(r.attempts.len().checked_sub(1));
        }
    }
    r
}
