//! Defines what the answer engine takes and gives: a question, a reply.

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};

/// One DNS question.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Question {
    /// The name, in the case the client sent.
    pub name: Name,
    /// The type.
    pub qtype: RecordType,
    /// The class.
    pub qclass: DNSClass,
}

impl Question {
    /// An IN-class question.
    pub fn new(name: Name, qtype: RecordType) -> Self {
        Question {
            name,
            qtype,
            qclass: DNSClass::IN,
        }
    }

    /// Parses `name` (made fully qualified) into an IN-class question.
    pub fn parse(name: &str, qtype: RecordType) -> Result<Self, hickory_proto::ProtoError> {
        let mut n = Name::from_ascii(name).or_else(|_| Name::from_utf8(name))?;
        n.set_fqdn(true);
        Ok(Question::new(n, qtype))
    }
}

/// A response, before it is put on the wire.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    /// The response code.
    pub rcode: ResponseCode,
    /// AA.
    pub authoritative: bool,
    /// RA.
    pub recursion_available: bool,
    /// Answer section.
    pub answers: Vec<Record>,
    /// Authority section.
    pub authorities: Vec<Record>,
    /// Additional section.
    pub additionals: Vec<Record>,
}

impl Reply {
    /// An empty reply with a response code and no flags.
    pub fn rcode(rcode: ResponseCode) -> Self {
        Reply {
            rcode,
            authoritative: false,
            recursion_available: false,
            answers: Vec::new(),
            authorities: Vec::new(),
            additionals: Vec::new(),
        }
    }

    /// Whether this is a NOERROR reply with no answers (NODATA).
    pub fn is_nodata(&self) -> bool {
        self.rcode == ResponseCode::NoError && self.answers.is_empty()
    }
}

/// What the engine decided.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Send this reply.
    Reply(Reply),
    /// Send nothing: the client times out. Why, in the user's terms.
    Silent(String),
}

impl Outcome {
    /// The reply, if one is sent.
    pub fn reply(&self) -> Option<&Reply> {
        match self {
            Outcome::Reply(r) => Some(r),
            Outcome::Silent(_) => None,
        }
    }
}

/// Builds a record.
pub fn record(owner: &Name, ttl: u32, data: RData) -> Record {
    Record::from_rdata(owner.clone(), ttl, data)
}
