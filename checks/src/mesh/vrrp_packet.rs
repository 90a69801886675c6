//! The IP protocol 112 datagrams tarmac's VRRP probe sends and reads, and the real VRRP
//! advertisements (RFC 3768 version 2, RFC 5798 version 3) it listens for.
//!
//! tarmac's datagram is shaped so that a running VRRP daemon discards it before looking
//! further: its version nibble is 0 (keepalived drops any packet whose version is not its
//! instance's 2 or 3) and its virtual router id is 0 (valid ids are 1-255, so no instance
//! is looked up). After the four VRRP header bytes come a magic, the kind (probe or
//! reply) and `<token> <from> <to> <seq>`: only a datagram with this run's token is
//! answered, so the listener is no reflector.

use std::net::{IpAddr, Ipv4Addr};

/// Version 0, type 1; VRID 0; priority 0; no addresses.
const HEADER: [u8; 4] = [0x01, 0, 0, 0];
const MAGIC: &[u8; 4] = b"TMAC";
/// The IPv4 protocol number of VRRP.
pub const IPPROTO_VRRP: i32 = 112;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Probe,
    Reply,
}

/// One tarmac datagram's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TarmacDatagram {
    pub kind: Kind,
    pub token: String,
    pub from: String,
    pub to: String,
    pub seq: u32,
}

impl TarmacDatagram {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = HEADER.to_vec();
        out.extend_from_slice(MAGIC);
        out.push(match self.kind {
            Kind::Probe => b'P',
            Kind::Reply => b'R',
        });
        out.extend_from_slice(
            format!("{} {} {} {}", self.token, self.from, self.to, self.seq).as_bytes(),
        );
        out
    }

    fn decode(payload: &[u8]) -> Option<TarmacDatagram> {
        if payload.get(..4)? != HEADER || payload.get(4..8)? != MAGIC {
            return None;
        }
        let kind = match payload.get(8)? {
            b'P' => Kind::Probe,
            b'R' => Kind::Reply,
            _ => return None,
        };
        let text = std::str::from_utf8(payload.get(9..)?).ok()?;
        let mut words = text.split(' ');
        let (token, from, to, seq) = (words.next()?, words.next()?, words.next()?, words.next()?);
        if words.next().is_some() {
            return None;
        }
        Some(TarmacDatagram {
            kind,
            token: token.to_owned(),
            from: from.to_owned(),
            to: to.to_owned(),
            seq: seq.parse().ok()?,
        })
    }
}

/// One real VRRP advertisement's fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advert {
    pub version: u8,
    pub vrid: u8,
    pub priority: u8,
    /// How often the master sends one (0 when the packet says 0).
    pub interval_ms: u32,
    pub addresses: Vec<IpAddr>,
}

/// What an IPv4 packet of protocol 112 turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Heard {
    Tarmac(TarmacDatagram),
    Advert(Advert),
    Other,
}

/// Reads a whole IPv4 packet as a raw socket returns it (IP header first): the source
/// address and what the payload is. `None` for anything that is not IPv4 protocol 112.
pub fn parse_ipv4(packet: &[u8]) -> Option<(Ipv4Addr, Heard)> {
    let first = *packet.first()?;
    if first >> 4 != 4 || *packet.get(9)? != 112 {
        return None;
    }
    let header_len = usize::from(first & 0x0f) * 4;
    let src = Ipv4Addr::new(
        *packet.get(12)?,
        *packet.get(13)?,
        *packet.get(14)?,
        *packet.get(15)?,
    );
    let payload = packet.get(header_len..)?;
    Some((src, classify(payload)))
}

fn classify(payload: &[u8]) -> Heard {
    if let Some(datagram) = TarmacDatagram::decode(payload) {
        return Heard::Tarmac(datagram);
    }
    let Some(&[vers_type, vrid, priority, count]) = payload.get(..4) else {
        return Heard::Other;
    };
    let (version, kind) = (vers_type >> 4, vers_type & 0x0f);
    if !matches!(version, 2 | 3) || kind != 1 || vrid == 0 {
        return Heard::Other;
    }
    // Both versions: 8 header bytes (v2: auth type, interval in seconds, checksum; v3: 4
    // reserved bits and 12 of interval in centiseconds, checksum), then `count` IPv4
    // addresses.
    let interval_ms = match (version, payload.get(4..6)) {
        (2, Some(&[_, seconds])) => u32::from(seconds) * 1000,
        (3, Some(&[high, low])) => u32::from(u16::from_be_bytes([high & 0x0f, low])) * 10,
        _ => 0,
    };
    let addresses = payload
        .get(8..)
        .unwrap_or_default()
        .chunks_exact(4)
        .take(usize::from(count))
        .map(|a| IpAddr::from([a[0], a[1], a[2], a[3]]))
        .collect();
    Heard::Advert(Advert {
        version,
        vrid,
        priority,
        interval_ms,
        addresses,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn ipv4(src: [u8; 4], payload: &[u8]) -> Vec<u8> {
        let mut p = vec![0x45, 0, 0, 0, 0, 0, 0, 0, 255, 112, 0, 0];
        p.extend_from_slice(&src);
        p.extend_from_slice(&[198, 18, 0, 1]);
        p.extend_from_slice(payload);
        p
    }

    #[test]
    fn tarmac_datagrams_round_trip_and_are_no_vrrp() {
        let d = TarmacDatagram {
            kind: Kind::Probe,
            token: "abc".into(),
            from: "lb1".into(),
            to: "lb2".into(),
            seq: 7,
        };
        let bytes = d.encode();
        assert_eq!(bytes[0] >> 4, 0, "version 0: every VRRP daemon drops it");
        assert_eq!(bytes[1], 0, "VRID 0 names no virtual router");
        let (src, heard) = parse_ipv4(&ipv4([198, 18, 0, 5], &bytes)).unwrap();
        assert_eq!(src, Ipv4Addr::new(198, 18, 0, 5));
        assert_eq!(heard, Heard::Tarmac(d));
        assert_eq!(
            parse_ipv4(&ipv4([1, 2, 3, 4], b"\x01\0\0\0TMACPabc lb1"))
                .unwrap()
                .1,
            Heard::Other
        );
    }

    #[test]
    fn keepalived_adverts_are_read_in_both_versions() {
        // VRRPv2 as keepalived sends it: VRID 51, priority 150, one address, auth none.
        let v2 = [
            0x21, 51, 150, 1, 0, 1, 0xab, 0xcd, 198, 18, 0, 250, 0, 0, 0, 0, 0, 0, 0, 0,
        ];
        let (_, heard) = parse_ipv4(&ipv4([198, 18, 0, 5], &v2)).unwrap();
        assert_eq!(
            heard,
            Heard::Advert(Advert {
                version: 2,
                vrid: 51,
                priority: 150,
                interval_ms: 1000,
                addresses: vec![[198, 18, 0, 250].into()],
            })
        );
        let v3 = [0x31, 9, 100, 2, 0, 100, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2];
        let Heard::Advert(a) = parse_ipv4(&ipv4([10, 0, 0, 5], &v3)).unwrap().1 else {
            panic!("v3 advert");
        };
        assert_eq!((a.version, a.interval_ms, a.addresses.len()), (3, 1000, 2));
        assert!(parse_ipv4(&[0x60; 40]).is_none(), "IPv6 is not read here");
        assert_eq!(
            parse_ipv4(&ipv4([1, 1, 1, 1], &[0x22, 1, 1, 0])).unwrap().1,
            Heard::Other
        );
    }
}
