//! Just enough of the DNS wire format (RFC 1035) for an embedded resolver
//! like Docker's 127.0.0.11: read one question, answer it with A records,
//! an empty answer, or an error code. Anything else (other names, other
//! types) is the caller's to forward as raw bytes.
//!
//! Hand-written rather than a crate such as hickory-proto: the resolver
//! lives in every container's monitor, the format needed is a dozen lines
//! of header and labels, and reading them is the lesson.
//!
//! A message is a 12-byte header (ID, flags, four section counts), then the
//! question (a name as length-prefixed labels ending in a zero byte, a type
//! and a class), then answer records (a name — here a pointer back to the
//! question's, `0xC00C` —, type, class, TTL, data length, data).

use std::net::Ipv4Addr;

/// Why bytes are not a query we can answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DnsError {
    #[error("DNS message too short")]
    Short,
    #[error("not a query")]
    NotQuery,
    #[error("expected exactly one question, found {0}")]
    Questions(u16),
    #[error("bad name in question")]
    BadName,
}

/// Record type A (an IPv4 address).
pub const TYPE_A: u16 = 1;
/// Record type AAAA (an IPv6 address).
pub const TYPE_AAAA: u16 = 28;
/// Class IN.
pub const CLASS_IN: u16 = 1;
/// Docker's TTL for container records, in seconds.
pub const TTL: u32 = 600;
const HEADER: usize = 12;
const FLAG_QR: u16 = 0x8000;
const FLAG_AA: u16 = 0x0400;
const FLAG_RD: u16 = 0x0100;
const FLAG_RA: u16 = 0x0080;

/// Response codes (the header's low four bits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Rcode {
    NoError = 0,
    FormErr = 1,
    ServFail = 2,
    NxDomain = 3,
    NotImp = 4,
    Refused = 5,
}

/// One parsed question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    pub id: u16,
    /// The request's flags (opcode and RD are echoed in the answer).
    pub flags: u16,
    /// The name, lower-cased, labels joined by dots, no trailing dot.
    pub name: String,
    pub qtype: u16,
    pub qclass: u16,
    /// The question's bytes as sent, copied into the answer.
    question: Vec<u8>,
}

fn u16_at(buf: &[u8], at: usize) -> Result<u16, DnsError> {
    buf.get(at..at + 2)
        .map(|b| u16::from_be_bytes([b[0], b[1]]))
        .ok_or(DnsError::Short)
}

impl Query {
    /// Parses a query with one question. Names in questions are never
    /// compressed, so a pointer is refused rather than followed.
    pub fn parse(buf: &[u8]) -> Result<Query, DnsError> {
        if buf.len() < HEADER {
            return Err(DnsError::Short);
        }
        let id = u16_at(buf, 0)?;
        let flags = u16_at(buf, 2)?;
        if flags & FLAG_QR != 0 {
            return Err(DnsError::NotQuery);
        }
        let count = u16_at(buf, 4)?;
        if count != 1 {
            return Err(DnsError::Questions(count));
        }
        let mut at = HEADER;
        let mut labels = Vec::new();
        loop {
            let len = *buf.get(at).ok_or(DnsError::Short)? as usize;
            at += 1;
            if len == 0 {
                break;
            }
            if len > 63 {
                return Err(DnsError::BadName);
            }
            let label = buf.get(at..at + len).ok_or(DnsError::Short)?;
            labels.push(String::from_utf8_lossy(label).to_ascii_lowercase());
            at += len;
        }
        let qtype = u16_at(buf, at)?;
        let qclass = u16_at(buf, at + 2)?;
        Ok(Query {
            id,
            flags,
            name: labels.join("."),
            qtype,
            qclass,
            question: buf[HEADER..at + 4].to_vec(),
        })
    }

    /// A query for `name` (for tests and tools).
    pub fn new(id: u16, name: &str, qtype: u16) -> Query {
        let mut question = Vec::new();
        for label in name
            .trim_end_matches('.')
            .split('.')
            .filter(|l| !l.is_empty())
        {
            question.push(label.len() as u8);
            question.extend_from_slice(label.as_bytes());
        }
        question.push(0);
        question.extend_from_slice(&qtype.to_be_bytes());
        question.extend_from_slice(&CLASS_IN.to_be_bytes());
        Query {
            id,
            flags: FLAG_RD,
            name: name.trim_end_matches('.').to_ascii_lowercase(),
            qtype,
            qclass: CLASS_IN,
            question,
        }
    }

    /// The query's wire bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = header(self.id, self.flags, 1, 0);
        out.extend_from_slice(&self.question);
        out
    }

    /// The answer: `addresses` as A records (none is an empty answer)
    /// with `rcode`. Authoritative, as the resolver owns these names.
    pub fn answer(&self, rcode: Rcode, addresses: &[Ipv4Addr]) -> Vec<u8> {
        let flags = FLAG_QR | FLAG_AA | FLAG_RA | (self.flags & (0x7800 | FLAG_RD)) | rcode as u16;
        let mut out = header(self.id, flags, 1, addresses.len() as u16);
        out.extend_from_slice(&self.question);
        for a in addresses {
            out.extend_from_slice(&0xC00Cu16.to_be_bytes());
            out.extend_from_slice(&TYPE_A.to_be_bytes());
            out.extend_from_slice(&CLASS_IN.to_be_bytes());
            out.extend_from_slice(&TTL.to_be_bytes());
            out.extend_from_slice(&4u16.to_be_bytes());
            out.extend_from_slice(&a.octets());
        }
        out
    }
}

fn header(id: u16, flags: u16, questions: u16, answers: u16) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    for v in [id, flags, questions, answers, 0, 0] {
        out.extend_from_slice(&v.to_be_bytes());
    }
    out
}

/// What an answer says, read back (for tests and the stub upstream).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub id: u16,
    pub rcode: u8,
    pub addresses: Vec<Ipv4Addr>,
}

impl Reply {
    /// Reads the header and the A records of an answer to one question.
    pub fn parse(buf: &[u8]) -> Result<Reply, DnsError> {
        let id = u16_at(buf, 0)?;
        let flags = u16_at(buf, 2)?;
        let questions = u16_at(buf, 4)?;
        let answers = u16_at(buf, 6)?;
        let mut at = HEADER;
        for _ in 0..questions {
            at = skip_name(buf, at)? + 4;
        }
        let mut addresses = Vec::new();
        for _ in 0..answers {
            at = skip_name(buf, at)?;
            let rtype = u16_at(buf, at)?;
            let len = u16_at(buf, at + 8)? as usize;
            let data = buf.get(at + 10..at + 10 + len).ok_or(DnsError::Short)?;
            if rtype == TYPE_A && len == 4 {
                addresses.push(Ipv4Addr::new(data[0], data[1], data[2], data[3]));
            }
            at += 10 + len;
        }
        Ok(Reply {
            id,
            rcode: (flags & 0xF) as u8,
            addresses,
        })
    }
}

/// The offset after a name (labels, possibly ending in a pointer).
fn skip_name(buf: &[u8], mut at: usize) -> Result<usize, DnsError> {
    loop {
        let len = *buf.get(at).ok_or(DnsError::Short)?;
        match len {
            0 => return Ok(at + 1),
            l if l & 0xC0 == 0xC0 => return Ok(at + 2),
            l if l > 63 => return Err(DnsError::BadName),
            l => at += 1 + l as usize,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A query as `dig web.` sends it: ID 0xbeef, RD, one question.
    const WEB_A: &[u8] = &[
        0xbe, 0xef, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 3, b'W', b'e', b'b', 0, 0, 1, 0, 1,
    ];

    #[test]
    fn a_query_is_read_lower_cased() {
        let q = Query::parse(WEB_A).unwrap();
        assert_eq!(q.id, 0xbeef);
        assert_eq!(q.name, "web");
        assert_eq!(q.qtype, TYPE_A);
        assert_eq!(q.qclass, CLASS_IN);
    }

    #[test]
    fn queries_round_trip_and_a_trailing_dot_is_the_same_name() {
        let q = Query::new(7, "Db.Example.", TYPE_AAAA);
        assert_eq!(q.name, "db.example");
        let again = Query::parse(&q.to_bytes()).unwrap();
        assert_eq!(again, q);
        // The question keeps the case as sent; the name compares without it.
        assert_eq!(Query::new(7, "db.example", TYPE_AAAA).name, q.name);
    }

    #[test]
    fn answers_carry_a_records_after_the_question() {
        let q = Query::parse(WEB_A).unwrap();
        let a = q.answer(Rcode::NoError, &[Ipv4Addr::new(10, 1, 0, 2)]);
        // Header: same ID; QR, AA, RD, RA; one question, one answer.
        assert_eq!(&a[..12], &[0xbe, 0xef, 0x85, 0x80, 0, 1, 0, 1, 0, 0, 0, 0]);
        assert_eq!(&a[12..WEB_A.len()], &WEB_A[12..]);
        let record = &a[WEB_A.len()..];
        assert_eq!(
            record,
            &[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0x02, 0x58, 0, 4, 10, 1, 0, 2]
        );
        let reply = Reply::parse(&a).unwrap();
        assert_eq!(reply.id, 0xbeef);
        assert_eq!(reply.rcode, 0);
        assert_eq!(reply.addresses, vec![Ipv4Addr::new(10, 1, 0, 2)]);
    }

    #[test]
    fn empty_answers_and_errors_have_no_records() {
        let q = Query::new(1, "web", TYPE_AAAA);
        let empty = Reply::parse(&q.answer(Rcode::NoError, &[])).unwrap();
        assert_eq!((empty.rcode, empty.addresses.len()), (0, 0));
        let refused = Reply::parse(&q.answer(Rcode::Refused, &[])).unwrap();
        assert_eq!(refused.rcode, 5);
    }

    #[test]
    fn malformed_messages_are_refused() {
        assert_eq!(Query::parse(&WEB_A[..5]), Err(DnsError::Short));
        assert_eq!(Query::parse(&WEB_A[..15]), Err(DnsError::Short));
        let mut answer = WEB_A.to_vec();
        answer[2] |= 0x80;
        assert_eq!(Query::parse(&answer), Err(DnsError::NotQuery));
        let mut two = WEB_A.to_vec();
        two[5] = 2;
        assert_eq!(Query::parse(&two), Err(DnsError::Questions(2)));
        let mut pointer = WEB_A.to_vec();
        pointer[12] = 0xc0;
        assert_eq!(Query::parse(&pointer), Err(DnsError::BadName));
    }
}
