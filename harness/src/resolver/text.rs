//! Prints replies as dig does, so snapshots and reports read like the
//! captures users paste into bug reports.

use std::fmt::Write;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{RData, Record};

use super::reply::{Outcome, Question, Reply};

/// One record as a dig line: `name<TAB>ttl<TAB>IN<TAB>TYPE<TAB>rdata`.
pub fn record_line(r: &Record) -> String {
    format!(
        "{}\t{}\t{}\t{}\t{}",
        r.name,
        r.ttl,
        r.dns_class,
        r.record_type(),
        rdata_text(r)
    )
}

/// The rdata of a record as text (`10.10.0.5`, `0 100 80 serve.default.svc.clusterset.local.`).
pub fn rdata_text(r: &Record) -> String {
    match &r.data {
        RData::TXT(txt) => txt
            .txt_data
            .iter()
            .map(|s| format!("\"{}\"", String::from_utf8_lossy(s).replace('"', "\\\"")))
            .collect::<Vec<_>>()
            .join(" "),
        // A record with no rdata (Lighthouse's A for an IPv6 address): dig
        // reports the whole reply as a "malformed message packet".
        RData::Update0(_) => "<empty: malformed>".into(),
        data => data.to_string(),
    }
}

/// The flags of a reply as dig prints them (`qr aa rd ra`); `rd` echoes the query.
pub fn flags(reply: &Reply, rd: bool) -> String {
    let mut f = vec!["qr"];
    if reply.authoritative {
        f.push("aa");
    }
    if rd {
        f.push("rd");
    }
    if reply.recursion_available {
        f.push("ra");
    }
    f.join(" ")
}

/// A whole response in dig's layout, without the volatile id.
pub fn render(question: &Question, outcome: &Outcome) -> String {
    let mut s = String::new();
    let reply = match outcome {
        Outcome::Silent(why) => {
            let _ = writeln!(s, ";; no response: {why}");
            let _ = writeln!(
                s,
                ";; QUESTION: {}\t{}\t{}",
                question.name, question.qclass, question.qtype
            );
            return s;
        }
        Outcome::Reply(r) => r,
    };
    let _ = writeln!(
        s,
        ";; ->>HEADER<<- opcode: QUERY, status: {}",
        rcode_text(reply)
    );
    let _ = writeln!(
        s,
        ";; flags: {}; QUERY: 1, ANSWER: {}, AUTHORITY: {}, ADDITIONAL: {}",
        flags(reply, true),
        reply.answers.len(),
        reply.authorities.len(),
        reply.additionals.len()
    );
    if !reply.recursion_available {
        let _ = writeln!(s, ";; WARNING: recursion requested but not available");
    }
    let _ = writeln!(
        s,
        "\n;; QUESTION SECTION:\n;{}\t\t{}\t{}",
        question.name, question.qclass, question.qtype
    );
    for (title, records) in [
        ("ANSWER", &reply.answers),
        ("AUTHORITY", &reply.authorities),
        ("ADDITIONAL", &reply.additionals),
    ] {
        if records.is_empty() {
            continue;
        }
        let _ = writeln!(s, "\n;; {title} SECTION:");
        for r in records {
            let _ = writeln!(s, "{}", record_line(r));
        }
    }
    s
}

/// The status word dig prints (`NOERROR`, `NXDOMAIN`, ...).
pub fn rcode_text(reply: &Reply) -> String {
    rcode_name(reply.rcode).to_owned()
}

/// dig's mnemonic for a response code.
pub fn rcode_name(rcode: ResponseCode) -> &'static str {
    match rcode {
        ResponseCode::NoError => "NOERROR",
        ResponseCode::FormErr => "FORMERR",
        ResponseCode::ServFail => "SERVFAIL",
        ResponseCode::NXDomain => "NXDOMAIN",
        ResponseCode::NotImp => "NOTIMP",
        ResponseCode::Refused => "REFUSED",
        ResponseCode::YXDomain => "YXDOMAIN",
        ResponseCode::YXRRSet => "YXRRSET",
        ResponseCode::NXRRSet => "NXRRSET",
        ResponseCode::NotAuth => "NOTAUTH",
        ResponseCode::NotZone => "NOTZONE",
        _ => "RESERVED",
    }
}
