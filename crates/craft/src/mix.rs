//! A reproducible mix of tunnelled traffic: inner flows of chosen sizes, wrapped in any
//! encapsulations, nested or not, spread over several tunnel streams.
use crate::{build, Header};
use wire::erspan::Platform;

/// An encapsulation the generator can wrap a frame in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Encap {
    /// No tunnel: the inner frame as it is.
    Plain,
    /// GRE transparent Ethernet bridging with a key.
    Gre,
    /// NVGRE.
    Nvgre,
    /// ERSPAN type I.
    Erspan1,
    /// ERSPAN type II.
    Erspan2,
    /// ERSPAN type III with a platform sub-header (port index and upper timestamp).
    Erspan3,
    /// VXLAN on UDP 4789.
    Vxlan,
    /// GENEVE on UDP 6081 with one option.
    Geneve,
    /// VXLAN-GPE carrying Ethernet.
    Gpe,
    /// IPv4 in IPv4 (the inner Ethernet header is dropped).
    IpIp,
    /// GTP-U carrying the inner IP packet.
    Gtp,
    /// MPLS Ethernet pseudowire with control word, over 802.1Q.
    Mpls,
    /// 802.1ad + 802.1Q tags (not a tunnel).
    Qinq,
}

impl Encap {
    /// Every kind with its command-line name.
    pub const NAMES: &'static [(&'static str, Encap)] = &[
        ("plain", Encap::Plain),
        ("gre", Encap::Gre),
        ("nvgre", Encap::Nvgre),
        ("erspan1", Encap::Erspan1),
        ("erspan2", Encap::Erspan2),
        ("erspan3", Encap::Erspan3),
        ("vxlan", Encap::Vxlan),
        ("geneve", Encap::Geneve),
        ("gpe", Encap::Gpe),
        ("ipip", Encap::IpIp),
        ("gtp", Encap::Gtp),
        ("mpls", Encap::Mpls),
        ("qinq", Encap::Qinq),
    ];

    /// The kind named `name`.
    pub fn from_name(name: &str) -> Option<Encap> {
        Encap::NAMES.iter().find(|(n, _)| *n == name).map(|(_, e)| *e)
    }

    /// Outer headers for tunnel stream `stream` carrying inner flow `flow`, to be put in front
    /// of an Ethernet frame (or, for the IP-carrying kinds, of its IP packet).
    fn outer(self, stream: u32, flow: u32, index: u64) -> Vec<Header> {
        let s = stream;
        let src = [10, 0, (s >> 8) as u8, (s & 0xff) as u8 + 1];
        let dst = [10, 255, 0, 1];
        let eth =
            Header::Eth { src: [0x02, 0xaa, 0, 0, (s >> 8) as u8, s as u8], dst: [0x02, 0xbb, 0, 0, 0, 1] };
        let ip = Header::ipv4(src, dst);
        // A UDP tunnel's source port is a hash of the inner flow, in 49152-65535 (RFC 7348
        // section 5 and RFC 8926 recommend it; Linux and Open vSwitch do it), so that what
        // spreads by 5-tuple (SO_REUSEPORT, RSS) sees each tunnel's flows apart.
        let sport = 49152 + ((s.wrapping_mul(0x9e37_79b9) ^ flow.wrapping_mul(0x85eb_ca6b)) >> 18) as u16;
        match self {
            Encap::Plain => vec![],
            Encap::Qinq => vec![
                Header::Vlan { tpid: 0x88a8, vid: 100 + (s % 3000) as u16 },
                Header::Vlan { tpid: 0x8100, vid: 10 },
            ],
            Encap::Gre => vec![eth, ip, Header::Gre { key: Some(100 + s), seq: None }],
            Encap::Nvgre => vec![eth, ip, Header::Nvgre { vsid: 0x1000 + s, flow_id: (index % 256) as u8 }],
            Encap::Erspan1 => vec![eth, ip, Header::Erspan1],
            Encap::Erspan2 => vec![eth, ip, Header::Erspan2 { session: (s % 1023 + 1) as u16, index: 7 }],
            Encap::Erspan3 => vec![
                eth,
                ip,
                Header::Erspan3 {
                    session: (s % 1023 + 1) as u16,
                    timestamp: (index.wrapping_mul(10_000)) as u32,
                    platform: Some(Platform::PortTimestamp {
                        port_index: (s % 16000) as u16,
                        timestamp_high: 0,
                    }),
                },
            ],
            Encap::Vxlan => {
                vec![eth, ip, Header::Udp { src: sport, dst: 4789 }, Header::Vxlan { vni: 5000 + s }]
            }
            Encap::Geneve => {
                let mut opts = vec![0u8; 8];
                wire::geneve::emit_option(&mut opts, 0x0102, 0x01, &(s).to_be_bytes());
                vec![
                    eth,
                    ip,
                    Header::Udp { src: sport, dst: 6081 },
                    Header::Geneve { vni: 6000 + s, options: opts, critical: false },
                ]
            }
            Encap::Gpe => {
                vec![eth, ip, Header::Udp { src: sport, dst: 4790 }, Header::VxlanGpe { vni: 7000 + s }]
            }
            Encap::IpIp => vec![eth, ip],
            Encap::Gtp => {
                vec![eth, ip, Header::Udp { src: 2152, dst: 2152 }, Header::GtpU { teid: 0x1000 + s }]
            }
            Encap::Mpls => vec![
                eth,
                Header::Vlan { tpid: 0x8100, vid: 20 },
                Header::Mpls { labels: vec![16 + s, 1000] },
                Header::PwControlWord,
            ],
        }
    }

    /// True when this kind carries an IP packet rather than an Ethernet frame.
    fn carries_ip(self) -> bool {
        matches!(self, Encap::IpIp | Encap::Gtp)
    }
}

/// What to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mix {
    /// Encapsulations to choose from, at random, for each frame.
    pub encaps: Vec<Encap>,
    /// Encapsulations applied to each frame (2 nests a tunnel in a tunnel).
    pub nest: usize,
    /// Distinct inner flows.
    pub flows: u32,
    /// Distinct tunnel streams per encapsulation (keys, sessions, VNIs).
    pub streams: u32,
    /// Smallest inner frame, in bytes.
    pub min_size: usize,
    /// Largest inner frame, in bytes.
    pub max_size: usize,
    /// Seed of the generator.
    pub seed: u64,
}

impl Default for Mix {
    fn default() -> Mix {
        Mix {
            encaps: vec![Encap::Erspan2, Encap::Erspan3, Encap::Gre, Encap::Vxlan, Encap::Geneve],
            nest: 1,
            flows: 16,
            streams: 4,
            min_size: 64,
            max_size: 1500,
            seed: 1,
        }
    }
}

/// Iterator over generated frames.
pub struct Generator {
    mix: Mix,
    state: u64,
    index: u64,
}

impl Generator {
    /// Starts generating `mix`.
    pub fn new(mix: Mix) -> Generator {
        let state = mix.seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        Generator { mix, state, index: 0 }
    }

    fn random(&mut self) -> u64 {
        // xorshift64*
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        self.state.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// The next frame.
    pub fn frame(&mut self) -> Vec<u8> {
        let index = self.index;
        self.index += 1;
        let flow = (self.random() % u64::from(self.mix.flows.max(1))) as u32;
        let span = self.mix.max_size.saturating_sub(self.mix.min_size) as u64 + 1;
        let size = self.mix.min_size + (self.random() % span) as usize;
        let mut headers = inner(flow, size.max(60));
        for _ in 0..self.mix.nest.max(1) {
            let choice = self.random() as usize % self.mix.encaps.len().max(1);
            let mut encap = self.mix.encaps.get(choice).copied().unwrap_or(Encap::Plain);
            let ip_inside = matches!(headers.get(1), Some(Header::Ipv4 { .. } | Header::Ipv6 { .. }));
            if encap.carries_ip() && !ip_inside {
                // Only an IP packet fits in IP-in-IP or GTP-U; carry anything else in GRE.
                encap = Encap::Gre;
            }
            let stream = (self.random() % u64::from(self.mix.streams.max(1))) as u32;
            let mut outer = encap.outer(stream, flow, index);
            if encap.carries_ip() && matches!(headers.first(), Some(Header::Eth { .. })) {
                headers.remove(0);
            }
            if encap == Encap::Qinq {
                // Tags go after the outermost Ethernet header.
                if matches!(headers.first(), Some(Header::Eth { .. })) {
                    let eth = headers.remove(0);
                    outer.insert(0, eth);
                }
            }
            outer.extend(headers);
            headers = outer;
        }
        build(&headers)
    }
}

impl Iterator for Generator {
    type Item = Vec<u8>;
    fn next(&mut self) -> Option<Vec<u8>> {
        Some(self.frame())
    }
}

/// The inner frame of flow `flow`: Ethernet, IPv4, TCP (even flows) or UDP (odd), padded to
/// `size` bytes.
fn inner(flow: u32, size: usize) -> Vec<Header> {
    let src = [192, 168, (flow >> 8) as u8, flow as u8];
    let dst = [172, 16, 0, 1 + (flow % 200) as u8];
    let l4 = if flow % 2 == 0 {
        Header::Tcp { src: 1024 + (flow % 60000) as u16, dst: 443, flags: 0x18 }
    } else {
        Header::Udp { src: 1024 + (flow % 60000) as u16, dst: 53 }
    };
    let l4_len = if flow % 2 == 0 { 20 } else { 8 };
    let payload = size.saturating_sub(14 + 20 + l4_len);
    vec![
        Header::Eth {
            src: [0x00, 0x50, 0x56, 0, (flow >> 8) as u8, flow as u8],
            dst: [0x00, 0x1b, 0x21, 0, 0, 1],
        },
        Header::ipv4(src, dst),
        l4,
        Header::Payload(vec![0; payload]),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reproducible_and_sized() {
        let mix = Mix { min_size: 100, max_size: 100, ..Mix::default() };
        let a: Vec<_> = Generator::new(mix.clone()).take(20).collect();
        let b: Vec<_> = Generator::new(mix).take(20).collect();
        assert_eq!(a, b);
        assert!(a.iter().all(|f| f.len() > 100));
    }

    #[test]
    fn nesting_adds_headers() {
        let one =
            Generator::new(Mix { encaps: vec![Encap::Vxlan], min_size: 64, max_size: 64, ..Mix::default() })
                .frame();
        let two = Generator::new(Mix {
            encaps: vec![Encap::Vxlan],
            nest: 2,
            min_size: 64,
            max_size: 64,
            ..Mix::default()
        })
        .frame();
        assert_eq!(two.len(), one.len() + 50);
    }
}
