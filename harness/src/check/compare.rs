//! Compares replies as the judge and the targets see them: the same answer
//! whatever the record order, and a reply in a few words.

use crate::resolver::Reply;
use crate::resolver::text::{rcode_name, rdata_text};

/// The answer section as sorted rdata text.
pub fn answer_set(records: &[hickory_proto::rr::Record]) -> Vec<String> {
    let mut v: Vec<String> = records.iter().map(rdata_text).collect();
    v.sort();
    v
}

/// Whether two replies have the same rcode and answer records (in any order).
pub fn same_answer(a: &Reply, b: &Reply) -> bool {
    a.rcode == b.rcode && answer_set(&a.answers) == answer_set(&b.answers)
}

/// A reply in a few words: `NOERROR 10.10.0.5`, `NODATA`, `NXDOMAIN`.
pub fn summary(r: &Reply) -> String {
    if r.is_nodata() {
        "NODATA".into()
    } else if r.answers.is_empty() {
        rcode_name(r.rcode).into()
    } else {
        format!(
            "{} {}",
            rcode_name(r.rcode),
            answer_set(&r.answers).join(" ")
        )
    }
}
