//! How several workers share an interface: a `PACKET_FANOUT` group whose member for each frame
//! is chosen by a classic BPF program written here, hashing the tunnel together with the
//! conversation it carries. The kernel's own hash (`PACKET_FANOUT_HASH`) reads ERSPAN by its
//! outer addresses only, so every session from one switch lands on one worker however many
//! conversations it mirrors; this program adds, for GRE-TEB, ERSPAN I, II and III, IP in GRE,
//! VXLAN and GENEVE, the carried frame's addresses and ports (MAC addresses when not IP), and
//! for other frames their own ports. The hash is symmetric, so both directions of a
//! conversation in one tunnel meet on one worker, in order; fragments of an outer datagram
//! are hashed by its addresses alone, so they meet for reassembly. A frame too short for what
//! its headers announce goes to the first worker.
use crate::packet_socket::setsockopt;
use std::io;
use std::os::fd::OwnedFd;

/// `PACKET_FANOUT_CBPF` (a fanout type) and `PACKET_FANOUT_DATA` (the socket option that sets
/// its program).
const FANOUT_CBPF: libc::c_int = 6;
const FANOUT_DATA: libc::c_int = 22;

/// Joins socket `fd` to fanout group `group`, frames spread by the program below; on a kernel
/// without programs for fanout (before 4.5), by the kernel's flow hash.
pub(crate) fn join(fd: &OwnedFd, group: u16) -> io::Result<()> {
    let spread = |kind: libc::c_int| libc::c_int::from(group) | (kind << 16);
    if setsockopt(fd, libc::SOL_PACKET, libc::PACKET_FANOUT, &spread(FANOUT_CBPF)).is_err() {
        return setsockopt(fd, libc::SOL_PACKET, libc::PACKET_FANOUT, &spread(libc::PACKET_FANOUT_HASH as _));
    }
    let mut code = program();
    let prog = libc::sock_fprog { len: code.len() as u16, filter: code.as_mut_ptr() };
    // The kernel copies the program; `code` outlives the call.
    setsockopt(fd, libc::SOL_PACKET, FANOUT_DATA, &prog)
}

/// Instruction codes (`linux/filter.h`) used here.
mod op {
    pub const LD_W: u16 = 0x40; // A = word at X + k
    pub const LD_H: u16 = 0x48; // A = half-word at X + k
    pub const LD_B: u16 = 0x50; // A = byte at X + k
    pub const LD_IMM: u16 = 0x00;
    pub const LD_MEM: u16 = 0x60;
    pub const LDX_MEM: u16 = 0x61;
    pub const ST: u16 = 0x02;
    pub const STX: u16 = 0x03;
    pub const ADD_K: u16 = 0x04;
    pub const ADD_X: u16 = 0x0c;
    pub const MUL_K: u16 = 0x24;
    pub const AND_K: u16 = 0x54;
    pub const LSH_K: u16 = 0x64;
    pub const RSH_K: u16 = 0x74;
    pub const XOR_X: u16 = 0xac;
    pub const JA: u16 = 0x05;
    pub const JEQ_K: u16 = 0x15;
    pub const JSET_K: u16 = 0x45;
    pub const RET_A: u16 = 0x16;
    pub const TAX: u16 = 0x07;
    pub const TXA: u16 = 0x87;
}

/// Scratch words: the hash, the offset of the header being read (X is reloaded from it after
/// each fold), a temporary, GRE's header length, the Ethernet header's offset.
const HASH: u32 = 0;
const AT: u32 = 1;
const TEMP: u32 = 2;
const GRE_LEN: u32 = 3;
const ETH: u32 = 4;

/// Offsets from the frame's link-layer header, wherever the kernel's data pointer stands.
const LINK: u32 = libc::SKF_LL_OFF as u32;

/// Where a jump goes: a label, placed once.
#[derive(Clone, Copy)]
struct Label(usize);

/// A program being written: jumps are patched once every label is placed.
struct Asm {
    code: Vec<libc::sock_filter>,
    placed: Vec<Option<usize>>,
    /// Conditional jumps (the true way to a label, the false way on) and `ja`s.
    jumps: Vec<(usize, Label)>,
}

impl Asm {
    fn op(&mut self, code: u16, k: u32) {
        self.code.push(libc::sock_filter { code, jt: 0, jf: 0, k });
    }
    /// Loads `code`'s field at `off` bytes past the header at X.
    fn load(&mut self, code: u16, off: u32) {
        self.op(code, LINK.wrapping_add(off));
    }
    /// Jumps to `to` when `code` with `k` holds (always, for `JA`).
    fn jump(&mut self, code: u16, k: u32, to: Label) {
        self.jumps.push((self.code.len(), to));
        self.op(code, k);
    }
    /// Jumps to `to` when `code` with `k` holds, however far: through a `JA` (a conditional
    /// jump reaches 255 instructions at most).
    fn jump_far(&mut self, code: u16, k: u32, to: Label) {
        self.code.push(libc::sock_filter { code, jt: 0, jf: 1, k });
        self.jump(op::JA, 0, to);
    }
    fn label(&mut self) -> Label {
        self.placed.push(None);
        Label(self.placed.len() - 1)
    }
    fn place(&mut self, l: Label) {
        self.placed[l.0] = Some(self.code.len());
    }
    /// X = A + `n`, A kept in TEMP's care: A = the value it had.
    fn advance_x(&mut self, n: u32) {
        use op::*;
        self.op(ST, TEMP);
        self.op(TXA, 0);
        self.op(ADD_K, n);
        self.op(TAX, 0);
        self.op(LD_MEM, TEMP);
    }
    /// X moves past a header at X whose length a field gives: by `fixed` plus (the byte at
    /// `off`, masked by `mask`) shifted left by `shift`.
    fn skip_by_field(&mut self, off: u32, mask: u32, shift: u32, fixed: u32) {
        use op::*;
        self.load(LD_B, off);
        self.op(AND_K, mask);
        self.op(LSH_K, shift);
        self.op(ADD_K, fixed);
        self.op(ADD_X, 0);
        self.op(TAX, 0);
    }
    /// GRE_LEN grows by `n` when the GRE flags (in TEMP) have `flag`.
    fn grow_gre_if(&mut self, flag: u32, n: u32) {
        use op::*;
        let (present, next) = (self.label(), self.label());
        self.op(LD_MEM, TEMP);
        self.jump(JSET_K, flag, present);
        self.jump(JA, 0, next);
        self.place(present);
        self.op(LD_MEM, GRE_LEN);
        self.op(ADD_K, n);
        self.op(ST, GRE_LEN);
        self.place(next);
    }
    /// X moves past the GRE header at X (its length in GRE_LEN).
    fn skip_gre(&mut self) {
        use op::*;
        self.op(LD_MEM, GRE_LEN);
        self.op(ADD_X, 0);
        self.op(TAX, 0);
    }
    /// Hashes in `code`'s field at `off` bytes past the header at X (the hash is a XOR, so
    /// swapping a source and a destination leaves it as it was).
    fn fold(&mut self, code: u16, off: u32) {
        self.load(code, off);
        self.fold_a();
    }
    /// Hashes in A.
    fn fold_a(&mut self) {
        use op::*;
        self.op(LDX_MEM, HASH);
        self.op(XOR_X, 0);
        self.op(ST, HASH);
        self.op(LDX_MEM, AT);
    }
    fn finish(mut self) -> Vec<libc::sock_filter> {
        for (at, to) in self.jumps {
            let target = self.placed[to.0].expect("every label is placed");
            let skip = target.checked_sub(at + 1).expect("jumps go forward");
            if self.code[at].code == op::JA {
                self.code[at].k = skip as u32;
            } else {
                self.code[at].jt = u8::try_from(skip).expect("a conditional jump reaches 255 instructions");
            }
        }
        self.code
    }
}

/// The labels of one level's headers (the frame's own, or the one a tunnel carries).
#[derive(Clone, Copy)]
struct Level {
    ethernet: Label,
    ipv4: Label,
    ipv6: Label,
}

/// The program: returns a hash of the frame's conversation (the kernel takes it modulo the
/// group's size).
fn program() -> Vec<libc::sock_filter> {
    use op::*;
    let mut a = Asm { code: Vec::new(), placed: Vec::new(), jumps: Vec::new() };
    let done = a.label();
    let outer = Level { ethernet: a.label(), ipv4: a.label(), ipv6: a.label() };
    let inner = Level { ethernet: a.label(), ipv4: a.label(), ipv6: a.label() };
    let (gre, udp, outer_ports, inner_ports) = (a.label(), a.label(), a.label(), a.label());
    // The kernel refuses a program that reads a scratch word before writing it.
    a.op(LD_IMM, 0);
    for slot in [HASH, AT, TEMP, GRE_LEN, ETH] {
        a.op(ST, slot);
    }
    a.op(TAX, 0);
    for (level, ports, is_outer) in [(outer, outer_ports, true), (inner, inner_ports, false)] {
        // IPv6 goes on to the transport header that follows IPv4's.
        let transport_header = a.label();
        ethernet(&mut a, level, done);
        ipv6(&mut a, level);
        a.jump(JA, 0, transport_header);
        ipv4(&mut a, level, done);
        a.place(transport_header);
        transport(&mut a, is_outer, (gre, udp, ports), done);
        if is_outer {
            tunnels(&mut a, (gre, udp, outer_ports), inner, done);
        }
        // Ports in the high half: the addresses' variety is mostly in the low one.
        a.place(ports);
        for off in [0, 2] {
            a.load(LD_H, off);
            a.op(LSH_K, 16);
            a.fold_a();
        }
        a.jump(JA, 0, done);
    }
    a.place(done);
    // Mixed, so that the low bits the kernel keeps depend on every bit folded in.
    a.op(LD_MEM, HASH);
    // MurmurHash3's finalizer: h ^= h >> 16, h *= 0x85ebca6b, h ^= h >> 13, h *= 0xc2b2ae35,
    // h ^= h >> 16.
    for (shift, multiply) in [(16, Some(0x85eb_ca6b)), (13, Some(0xc2b2_ae35)), (16, None)] {
        a.op(ST, TEMP);
        a.op(RSH_K, shift);
        a.op(LDX_MEM, TEMP);
        a.op(XOR_X, 0);
        if let Some(m) = multiply {
            a.op(MUL_K, m);
        }
    }
    a.op(RET_A, 0);
    a.finish()
}

/// An Ethernet header at X (one VLAN tag read past).
/// Not IP: its MAC addresses are hashed.
fn ethernet(a: &mut Asm, level: Level, done: Label) {
    use op::*;
    a.place(level.ethernet);
    a.op(STX, ETH);
    let (tagged, network) = (a.label(), a.label());
    a.load(LD_H, 12);
    a.jump(JEQ_K, 0x8100, tagged);
    a.jump(JEQ_K, 0x88a8, tagged);
    a.advance_x(14);
    a.jump(JA, 0, network);
    a.place(tagged);
    a.load(LD_H, 16);
    a.advance_x(18);
    a.place(network);
    a.jump(JEQ_K, 0x0800, level.ipv4);
    a.jump(JEQ_K, 0x86dd, level.ipv6);
    a.op(LDX_MEM, ETH);
    a.op(STX, AT);
    for off in (0..12).step_by(2) {
        a.fold(LD_H, off);
    }
    a.jump(JA, 0, done);
}

/// An IPv4 header at X: its addresses; a fragment stops there, anything else goes on to its
/// transport header with A its protocol.
fn ipv4(a: &mut Asm, level: Level, done: Label) {
    use op::*;
    a.place(level.ipv4);
    a.op(STX, AT);
    a.fold(LD_W, 12);
    a.fold(LD_W, 16);
    a.load(LD_H, 6);
    a.jump_far(JSET_K, 0x3fff, done);
    a.load(LD_B, 9);
    a.op(ST, TEMP);
    a.skip_by_field(0, 0x0f, 2, 0);
    a.op(LD_MEM, TEMP);
}

/// An IPv6 header at X: its addresses, then its next header (extension headers are not
/// followed: they end the hash there) with A its type.
fn ipv6(a: &mut Asm, level: Level) {
    use op::*;
    a.place(level.ipv6);
    a.op(STX, AT);
    for off in (8..40).step_by(4) {
        a.fold(LD_W, off);
    }
    a.load(LD_B, 6);
    a.advance_x(40);
}

/// The transport header at X, of IP protocol A: ports of TCP, UDP and SCTP; the outer level's
/// GRE and UDP go on to the tunnels.
fn transport(a: &mut Asm, outer: bool, (gre, udp, ports): (Label, Label, Label), done: Label) {
    use op::*;
    a.op(STX, AT);
    if outer {
        a.jump(JEQ_K, 47, gre);
        a.jump(JEQ_K, 17, udp);
    } else {
        a.jump(JEQ_K, 17, ports);
    }
    a.jump(JEQ_K, 6, ports);
    a.jump(JEQ_K, 132, ports);
    a.jump(JA, 0, done);
}

/// GRE (TEB, ERSPAN I, II and III, IPv4 and IPv6) and UDP (VXLAN to port 4789, GENEVE
/// carrying Ethernet to 6081) at X: on to the `inner` level. Other GRE keeps the outer hash;
/// other UDP adds its ports.
fn tunnels(a: &mut Asm, (gre, udp, ports): (Label, Label, Label), inner: Level, done: Label) {
    use op::*;
    a.place(udp);
    let (vxlan, geneve) = (a.label(), a.label());
    a.load(LD_H, 2);
    a.jump(JEQ_K, 4789, vxlan);
    a.jump(JEQ_K, 6081, geneve);
    a.jump(JA, 0, ports);
    a.place(vxlan);
    a.advance_x(16);
    a.jump(JA, 0, inner.ethernet);
    a.place(geneve);
    a.load(LD_H, 10);
    let ethernet = a.label();
    a.jump(JEQ_K, 0x6558, ethernet);
    a.jump(JA, 0, ports);
    a.place(ethernet);
    a.skip_by_field(8, 0x3f, 2, 16);
    a.jump(JA, 0, inner.ethernet);

    // GRE: 4 bytes, 4 more for each of checksum, key and sequence number; routing (R) and
    // other versions (PPTP's enhanced GRE) keep the outer hash.
    a.place(gre);
    a.load(LD_H, 0);
    a.op(ST, TEMP);
    a.jump_far(JSET_K, 0x4007, done);
    a.op(LD_IMM, 4);
    a.op(ST, GRE_LEN);
    for flag in [0x8000, 0x2000, 0x1000] {
        a.grow_gre_if(flag, 4);
    }
    let (teb, erspan, erspan3, ipv4, ipv6) = (a.label(), a.label(), a.label(), a.label(), a.label());
    a.load(LD_H, 2);
    a.jump(JEQ_K, 0x6558, teb);
    a.jump(JEQ_K, 0x88be, erspan);
    a.jump(JEQ_K, 0x22eb, erspan3);
    a.jump(JEQ_K, 0x0800, ipv4);
    a.jump(JEQ_K, 0x86dd, ipv6);
    a.jump(JA, 0, done);
    // ERSPAN II (with a sequence number) has an 8-byte header; ERSPAN I none.
    a.place(erspan);
    a.grow_gre_if(0x1000, 8);
    a.place(teb);
    a.skip_gre();
    a.jump(JA, 0, inner.ethernet);
    // ERSPAN III: 12 bytes, 8 more for the platform sub-header (its O bit).
    a.place(erspan3);
    a.skip_gre();
    a.skip_by_field(11, 1, 3, 12);
    a.jump(JA, 0, inner.ethernet);
    for (to, level) in [(ipv4, inner.ipv4), (ipv6, inner.ipv6)] {
        a.place(to);
        a.skip_gre();
        a.jump(JA, 0, level);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use craft::{build, Header};

    /// Runs the program on `frame` as the kernel does; `None` where the kernel's run ends
    /// for a load past the frame's end (it then returns 0).
    fn run(code: &[libc::sock_filter], frame: &[u8]) -> Option<u32> {
        let (mut a, mut x, mut m, mut pc) = (0u32, 0u32, [0u32; 16], 0usize);
        let at = |k: u32, x: u32, n: usize| -> Option<u32> {
            let off = x.wrapping_add(k).wrapping_sub(LINK) as usize;
            let b = frame.get(off..off + n)?;
            Some(b.iter().fold(0, |v, &b| (v << 8) | u32::from(b)))
        };
        loop {
            let i = code.get(pc)?;
            pc += 1;
            let k = i.k;
            match i.code {
                op::LD_W => a = at(k, x, 4)?,
                op::LD_H => a = at(k, x, 2)?,
                op::LD_B => a = at(k, x, 1)?,
                op::LD_IMM => a = k,
                op::LD_MEM => a = m[k as usize],
                op::LDX_MEM => x = m[k as usize],
                op::ST => m[k as usize] = a,
                op::STX => m[k as usize] = x,
                op::ADD_K => a = a.wrapping_add(k),
                op::ADD_X => a = a.wrapping_add(x),
                op::MUL_K => a = a.wrapping_mul(k),
                op::AND_K => a &= k,
                op::LSH_K => a <<= k,
                op::RSH_K => a >>= k,
                op::XOR_X => a ^= x,
                op::TAX => x = a,
                op::TXA => a = x,
                op::JA => pc += k as usize,
                op::JEQ_K => pc += usize::from(if a == k { i.jt } else { i.jf }),
                op::JSET_K => pc += usize::from(if a & k != 0 { i.jt } else { i.jf }),
                op::RET_A => return Some(a),
                other => panic!("instruction {other:#x} is not interpreted"),
            }
        }
    }

    /// An inner TCP conversation's frame from `src`:`sport` to `dst`:`dport`.
    fn inner(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16) -> Vec<Header> {
        vec![
            Header::eth(),
            Header::ipv4(src, dst),
            Header::Tcp { src: sport, dst: dport, flags: 0x10 },
            Header::Payload(vec![0; 20]),
        ]
    }

    /// The outer headers of each tunnel kind, from switch `from`.
    fn tunnels(from: u8) -> Vec<Vec<Header>> {
        let ip = Header::ipv4([10, 0, 0, from], [10, 255, 0, 1]);
        let ip6 = Header::ipv6([0x20, 1, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, from], [0xfe; 16]);
        let platform = wire::erspan::Platform::parse(0x0800_0000, 0);
        vec![
            vec![Header::eth(), ip.clone(), Header::Gre { key: Some(9), seq: Some(1) }],
            vec![Header::eth(), ip.clone(), Header::Erspan1],
            vec![Header::eth(), ip.clone(), Header::Erspan2 { session: 3, index: 1 }],
            vec![Header::eth(), ip.clone(), Header::Erspan3 { session: 3, timestamp: 1, platform: None }],
            vec![
                Header::eth(),
                ip.clone(),
                Header::Erspan3 { session: 3, timestamp: 1, platform: Some(platform) },
            ],
            vec![
                Header::eth(),
                ip.clone(),
                Header::Udp { src: 50000 + u16::from(from), dst: 4789 },
                Header::Vxlan { vni: 5 },
            ],
            vec![
                Header::eth(),
                ip6,
                Header::Udp { src: 50000, dst: 6081 },
                Header::Geneve { vni: 5, options: vec![0, 1, 2, 1, 0, 0, 0, 7], critical: false },
            ],
            vec![
                Header::Eth { src: [2; 6], dst: [4; 6] },
                Header::Vlan { tpid: 0x8100, vid: 7 },
                ip,
                Header::Gre { key: None, seq: None },
            ],
        ]
    }

    fn hash(headers: &[Header]) -> u32 {
        run(&program(), &build(headers)).expect("the program reads only what the frame holds")
    }

    #[test]
    fn every_jump_lands_inside_the_program() {
        let code = program();
        assert!(code.len() < 4096, "{} instructions", code.len());
        for (at, i) in
            code.iter().enumerate().filter(|(_, i)| matches!(i.code, op::JA | op::JEQ_K | op::JSET_K))
        {
            let to = at + 1 + if i.code == op::JA { i.k as usize } else { usize::from(i.jt.max(i.jf)) };
            assert!(to < code.len(), "jump at {at} to {to}");
        }
        assert_eq!(code.last().map(|i| i.code), Some(op::RET_A));
    }

    #[test]
    fn both_directions_of_a_tunnelled_conversation_hash_alike_and_other_conversations_apart() {
        let there = inner([192, 168, 1, 1], [192, 168, 2, 2], 40000, 443);
        let back = inner([192, 168, 2, 2], [192, 168, 1, 1], 443, 40000);
        let other = inner([192, 168, 1, 1], [192, 168, 2, 2], 40001, 443);
        for from in [1, 2] {
            for outer in tunnels(from) {
                // IP in GRE carries the packet, not the frame.
                let skip = usize::from(matches!(outer.last(), Some(Header::Gre { key: None, .. })));
                let with = |frame: &[Header]| [&outer[..], &frame[skip..]].concat();
                assert_eq!(hash(&with(&there)), hash(&with(&back)), "{outer:?}");
                assert_ne!(hash(&with(&there)), hash(&with(&other)), "{outer:?}");
            }
        }
    }

    #[test]
    fn one_erspan_session_of_many_conversations_spreads_evenly() {
        for outer in &tunnels(1)[1..5] {
            for workers in [2u32, 3, 4] {
                let mut shares = vec![0u32; workers as usize];
                for flow in 0..2000u32 {
                    let mut h = outer.clone();
                    let port = 1024 + (flow % 60000) as u16;
                    h.extend(inner([172, 16, 0, 1 + (flow % 200) as u8], [10, 9, 0, 1], port, 443));
                    shares[(hash(&h) % workers) as usize] += 1;
                }
                let fair = 2000 / workers;
                assert!(
                    shares.iter().all(|&s| s.abs_diff(fair) < fair / 8),
                    "{outer:?} over {workers}: {shares:?}"
                );
            }
        }
    }

    #[test]
    fn fragments_of_an_outer_datagram_hash_by_its_addresses() {
        let frame = build(&[
            Header::eth(),
            Header::ipv4([10, 0, 0, 1], [10, 255, 0, 1]),
            Header::Udp { src: 50000, dst: 4789 },
            Header::Vxlan { vni: 5 },
            Header::eth(),
            Header::Payload(vec![0; 64]),
        ]);
        // The first fragment (more fragments) and a later one (offset 8) of it.
        let mut first = frame.clone();
        first[20] = 0x20;
        let mut later = frame[..14 + 20].to_vec();
        later[20] = 0x00;
        later[21] = 0x01;
        later.extend_from_slice(&[0; 8]);
        let (a, b) = (run(&program(), &first), run(&program(), &later));
        assert_eq!(a, b);
        assert!(a.is_some());
    }

    #[test]
    fn the_kernel_takes_the_program_for_a_fanout_group() {
        // Packet sockets need CAP_NET_RAW (root); CI runs as root.
        let fd = match crate::packet_socket::open((libc::ETH_P_ALL as u16).to_be()) {
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied && std::env::var_os("CI").is_none() => {
                eprintln!("skipped: packet sockets need root");
                return;
            }
            opened => opened.unwrap(),
        };
        join(&fd, 4242).unwrap();
        let mut got: libc::c_int = 0;
        crate::packet_socket::getsockopt(&fd, libc::SOL_PACKET, libc::PACKET_FANOUT, &mut got).unwrap();
        assert_eq!((got & 0xffff, got >> 16 & 0xff), (4242, FANOUT_CBPF), "{got:#x}");
    }
}
