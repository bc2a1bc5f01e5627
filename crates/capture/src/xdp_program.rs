//! The XDP program that hands an interface's frames to AF_XDP sockets (`xdp`), and the `bpf`
//! system calls that load it and attach it: every frame (a capture port), or a tunnel
//! endpoint's packets — IPv4 or IPv6 to one address, of one IP protocol and, for UDP, to one
//! port, outer fragments included (detunnel reassembles them) — while every other frame goes
//! on to the kernel. Each frame goes to the socket of the queue it arrived on; a queue
//! without a socket passes its frames to the kernel. The program is a few dozen instructions
//! written here, so no compiler for BPF and no C library is needed.
// The `bpf` system call takes its arguments as C structures by pointer: `unsafe`, each block
// says why it is sound.
#![allow(unsafe_code)]

use std::io;
use std::net::IpAddr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// Which frames the program hands to the sockets; the others go on to the kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pick {
    /// Every frame: the kernel sees none (a capture port's traffic is not the host's).
    All,
    /// IP packets to `addr` of IP protocol `proto`, and for UDP to port `port`; fragments of
    /// such packets whatever their port (the first fragment holds it).
    To {
        /// The destination address.
        addr: IpAddr,
        /// The IP protocol (17 for UDP, 47 for GRE).
        proto: u8,
        /// The UDP destination port.
        port: Option<u16>,
    },
}

/// `enum bpf_cmd` values.
const BPF_MAP_CREATE: libc::c_long = 0;
const BPF_MAP_UPDATE_ELEM: libc::c_long = 2;
const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_LINK_CREATE: libc::c_long = 28;
/// `BPF_MAP_TYPE_XSKMAP`, `BPF_PROG_TYPE_XDP`, attach type `BPF_XDP`.
const MAP_TYPE_XSKMAP: u32 = 17;
const PROG_TYPE_XDP: u32 = 6;
/// `BPF_F_XDP_HAS_FRAGS`: the program copes with frames in several buffers.
const BPF_F_XDP_HAS_FRAGS: u32 = 1 << 5;
const ATTACH_XDP: u32 = 37;
/// The helper `bpf_redirect_map` and the action `XDP_PASS`.
const HELPER_REDIRECT_MAP: i32 = 51;
const XDP_PASS: i32 = 2;

/// The program attached to an interface and its map of sockets by queue; detached when the
/// last holder drops it (its link closes).
pub(crate) struct Attached {
    map: OwnedFd,
    _program: OwnedFd,
    _link: OwnedFd,
}

impl Attached {
    /// Loads the program picking `pick` and attaches it to interface `ifindex` (natively when
    /// the driver can, else in the kernel's generic mode), with room for sockets on `queues`
    /// queues.
    pub(crate) fn attach(ifindex: u32, pick: Pick, queues: u32) -> io::Result<Attached> {
        let map = socket_map(queues)?;
        let program = load(&program(pick, map.as_raw_fd()))?;
        #[repr(C)]
        struct LinkCreate {
            prog_fd: u32,
            target_ifindex: u32,
            attach_type: u32,
            flags: u32,
        }
        let link = LinkCreate {
            prog_fd: program.as_raw_fd() as u32,
            target_ifindex: ifindex,
            attach_type: ATTACH_XDP,
            flags: 0,
        };
        let link = bpf_fd(BPF_LINK_CREATE, &link).map_err(|e| match e.raw_os_error() {
            Some(libc::EBUSY) | Some(libc::EEXIST) => {
                io::Error::other("the interface has an XDP program already")
            }
            _ => context(e, "cannot attach the XDP program"),
        })?;
        Ok(Attached { map, _program: program, _link: link })
    }

    /// Sends the frames of queue `queue` to socket `socket`.
    pub(crate) fn insert(&self, queue: u32, socket: &OwnedFd) -> io::Result<()> {
        #[repr(C)]
        struct Update {
            map_fd: u32,
            pad: u32,
            key: u64,
            value: u64,
            flags: u64,
        }
        let value = socket.as_raw_fd() as u32;
        let update = Update {
            map_fd: self.map.as_raw_fd() as u32,
            pad: 0,
            key: &queue as *const u32 as u64,
            value: &value as *const u32 as u64,
            flags: 0,
        };
        bpf(BPF_MAP_UPDATE_ELEM, &update)
            .map(drop)
            .map_err(|e| context(e, "cannot add the socket to the XDP map"))
    }
}

/// A map of `entries` AF_XDP sockets by queue.
fn socket_map(entries: u32) -> io::Result<OwnedFd> {
    #[repr(C)]
    struct MapCreate {
        map_type: u32,
        key_size: u32,
        value_size: u32,
        max_entries: u32,
    }
    let create = MapCreate { map_type: MAP_TYPE_XSKMAP, key_size: 4, value_size: 4, max_entries: entries };
    bpf_fd(BPF_MAP_CREATE, &create).map_err(|e| context(e, "cannot create the XDP socket map"))
}

/// `e` with what was being done in front.
fn context(e: io::Error, what: &str) -> io::Error {
    io::Error::new(e.kind(), format!("{what}: {e}"))
}

/// Runs `bpf(cmd, attr)`.
fn bpf<T>(cmd: libc::c_long, attr: &T) -> io::Result<libc::c_long> {
    // SAFETY: `attr` is a live C structure of the size given, laid out as the command's part
    // of `union bpf_attr` (the kernel reads the fields it knows; what it does not is zero);
    // the pointers in it point to live memory of the sizes they say.
    let r = unsafe { libc::syscall(libc::SYS_bpf, cmd, attr as *const T, std::mem::size_of::<T>()) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(r)
}

/// Runs `bpf(cmd, attr)` for a command that makes a descriptor.
fn bpf_fd<T>(cmd: libc::c_long, attr: &T) -> io::Result<OwnedFd> {
    let r = bpf(cmd, attr)?;
    // SAFETY: the command made descriptor `r`, which nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(r as libc::c_int) })
}

/// Loads `code` as an XDP program; the verifier's log is the error when it refuses it.
fn load(code: &[Insn]) -> io::Result<OwnedFd> {
    #[repr(C)]
    struct ProgLoad {
        prog_type: u32,
        insn_cnt: u32,
        insns: u64,
        license: u64,
        log_level: u32,
        log_size: u32,
        log_buf: u64,
        kern_version: u32,
        prog_flags: u32,
        prog_name: [u8; 16],
    }
    let license = c"GPL";
    let mut log = vec![0u8; 64 * 1024];
    let mut name = [0u8; 16];
    name[..8].copy_from_slice(b"detunnel");
    let attr = ProgLoad {
        prog_type: PROG_TYPE_XDP,
        insn_cnt: code.len() as u32,
        insns: code.as_ptr() as u64,
        license: license.as_ptr() as u64,
        log_level: 1,
        log_size: log.len() as u32,
        log_buf: log.as_mut_ptr() as u64,
        kern_version: 0,
        // The program reads only the frame's first bytes, so it may run on frames in several
        // buffers: a veth with an MTU past about 3,500 bytes takes no other.
        prog_flags: BPF_F_XDP_HAS_FRAGS,
        prog_name: name,
    };
    bpf_fd(BPF_PROG_LOAD, &attr).map_err(|e| {
        let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
        let said = String::from_utf8_lossy(&log[..end]);
        let said = said.trim();
        io::Error::new(e.kind(), format!("the kernel refused the XDP program: {e}: {said}"))
    })
}

/// One BPF instruction (`struct bpf_insn`).
#[derive(Debug, Clone, Copy)]
#[repr(C)]
struct Insn {
    code: u8,
    /// Destination register in the low four bits, source in the high four.
    regs: u8,
    off: i16,
    imm: i32,
}

/// Instruction classes, sizes and operations used here.
mod op {
    pub const LDX_W: u8 = 0x61;
    pub const LDX_H: u8 = 0x69;
    pub const LDX_B: u8 = 0x71;
    pub const MOV64_X: u8 = 0xbf;
    pub const MOV64_K: u8 = 0xb7;
    pub const ADD64_K: u8 = 0x07;
    pub const ADD64_X: u8 = 0x0f;
    pub const AND64_K: u8 = 0x57;
    pub const LSH64_K: u8 = 0x67;
    pub const JGT_X: u8 = 0x2d;
    pub const JNE32_K: u8 = 0x56;
    pub const JA: u8 = 0x05;
    pub const LD_IMM64: u8 = 0x18;
    pub const CALL: u8 = 0x85;
    pub const EXIT: u8 = 0x95;
}

/// Where a jump goes: a label, placed once.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Label(usize);

/// The frame goes on to the kernel.
const PASS: Label = Label(0);
/// The frame goes to the socket of its queue.
const REDIRECT: Label = Label(1);

/// A program being written: jumps are patched once every label is placed.
struct Asm {
    code: Vec<Insn>,
    /// Where each label was placed.
    placed: Vec<Option<usize>>,
    jumps: Vec<(usize, Label)>,
}

impl Asm {
    fn new() -> Asm {
        Asm { code: Vec::new(), placed: vec![None, None], jumps: Vec::new() }
    }
    fn op(&mut self, code: u8, dst: u8, src: u8, off: i16, imm: i32) {
        self.code.push(Insn { code, regs: dst | (src << 4), off, imm });
    }
    /// A jump to `to` (patched in `finish`).
    fn jump(&mut self, code: u8, dst: u8, src: u8, imm: i32, to: Label) {
        self.jumps.push((self.code.len(), to));
        self.op(code, dst, src, 0, imm);
    }
    fn label(&mut self) -> Label {
        self.placed.push(None);
        Label(self.placed.len() - 1)
    }
    fn place(&mut self, l: Label) {
        self.placed[l.0] = Some(self.code.len());
    }
    /// Places the endings (the redirect first: what falls through is picked) and patches
    /// the jumps.
    fn finish(mut self, map_fd: i32) -> Vec<Insn> {
        use op::*;
        self.place(REDIRECT);
        // r2 = ctx->rx_queue_index; r1 = the map; r3 = XDP_PASS (without a socket there)
        self.op(LDX_W, 2, 6, 16, 0);
        self.op(LD_IMM64, 1, 1, 0, map_fd); // source 1: BPF_PSEUDO_MAP_FD
        self.op(0, 0, 0, 0, 0);
        self.op(MOV64_K, 3, 0, 0, XDP_PASS);
        self.op(CALL, 0, 0, 0, HELPER_REDIRECT_MAP);
        self.op(EXIT, 0, 0, 0, 0);
        // The verifier refuses code no jump reaches.
        if self.jumps.iter().any(|&(_, to)| to == PASS) {
            self.place(PASS);
            self.op(MOV64_K, 0, 0, 0, XDP_PASS);
            self.op(EXIT, 0, 0, 0, 0);
        }
        for (at, to) in self.jumps {
            let target = self.placed[to.0].expect("every label is placed");
            self.code[at].off = (target as isize - at as isize - 1) as i16;
        }
        self.code
    }
}

/// A 16-bit field of network order as the program's little-endian loads read it.
fn wire16(v: u16) -> i32 {
    i32::from(u16::from_le_bytes(v.to_be_bytes()))
}

/// A 32-bit word of network order as the program's little-endian loads read it.
fn wire32(b: [u8; 4]) -> i32 {
    i32::from_le_bytes(b)
}

/// The program picking `pick`, redirecting through map `map_fd`. Registers: r6 the context,
/// r2 the frame's start, r3 its end.
fn program(pick: Pick, map_fd: i32) -> Vec<Insn> {
    use op::*;
    let mut a = Asm::new();
    a.op(MOV64_X, 6, 1, 0, 0);
    let Pick::To { addr, proto, port } = pick else {
        return a.finish(map_fd);
    };
    a.op(LDX_W, 2, 1, 0, 0);
    a.op(LDX_W, 3, 1, 4, 0);
    // Are the first `n` bytes there?
    let have = |a: &mut Asm, n: i32| {
        a.op(MOV64_X, 4, 2, 0, 0);
        a.op(ADD64_K, 4, 0, 0, n);
        a.jump(JGT_X, 4, 3, 0, PASS);
    };
    // Does the word at `at` hold `v`?
    let word = |a: &mut Asm, at: i16, v: i32| {
        a.op(LDX_W, 5, 2, at, 0);
        a.jump(JNE32_K, 5, 0, v, PASS);
    };
    match addr {
        IpAddr::V4(v4) => {
            have(&mut a, 14 + 20);
            a.op(LDX_H, 5, 2, 12, 0);
            a.jump(JNE32_K, 5, 0, wire16(0x0800), PASS);
            a.op(LDX_B, 5, 2, 23, 0);
            a.jump(JNE32_K, 5, 0, i32::from(proto), PASS);
            word(&mut a, 30, wire32(v4.octets()));
            // A fragment (more fragments, or an offset): to the sockets, whatever its port.
            a.op(LDX_H, 5, 2, 20, 0);
            a.op(AND64_K, 5, 0, 0, wire16(0x3fff));
            a.jump(JNE32_K, 5, 0, 0, REDIRECT);
            if let Some(port) = port {
                // The UDP header follows the IP header's options: r4 = start + 4 * IHL.
                a.op(LDX_B, 4, 2, 14, 0);
                a.op(AND64_K, 4, 0, 0, 0x0f);
                a.op(LSH64_K, 4, 0, 0, 2);
                a.op(ADD64_X, 4, 2, 0, 0);
                a.op(MOV64_X, 5, 4, 0, 0);
                a.op(ADD64_K, 5, 0, 0, 14 + 4);
                a.jump(JGT_X, 5, 3, 0, PASS);
                a.op(LDX_H, 5, 4, 14 + 2, 0);
                a.jump(JNE32_K, 5, 0, wire16(port), PASS);
            }
        }
        IpAddr::V6(v6) => {
            have(&mut a, 14 + 40 + 8);
            a.op(LDX_H, 5, 2, 12, 0);
            a.jump(JNE32_K, 5, 0, wire16(0x86dd), PASS);
            let o = v6.octets();
            for (i, w) in o.chunks_exact(4).enumerate() {
                word(&mut a, 38 + 4 * i as i16, wire32([w[0], w[1], w[2], w[3]]));
            }
            // A fragment header right after the fixed header, of a packet of the protocol:
            // to the sockets, whatever its port.
            a.op(LDX_B, 5, 2, 20, 0);
            let whole = a.label();
            a.jump(JNE32_K, 5, 0, 44, whole);
            a.op(LDX_B, 5, 2, 14 + 40, 0);
            a.jump(JNE32_K, 5, 0, i32::from(proto), PASS);
            a.jump(JA, 0, 0, 0, REDIRECT);
            a.place(whole);
            a.jump(JNE32_K, 5, 0, i32::from(proto), PASS);
            if let Some(port) = port {
                a.op(LDX_H, 5, 2, 14 + 40 + 2, 0);
                a.jump(JNE32_K, 5, 0, wire16(port), PASS);
            }
        }
    }
    // What is left is picked: the redirect follows.
    a.finish(map_fd)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every pick the pipeline makes: a capture port, UDP and raw endpoints of both families.
    fn picks() -> Vec<Pick> {
        let v4: IpAddr = "192.0.2.2".parse().unwrap();
        let v6: IpAddr = "2001:db8::2".parse().unwrap();
        vec![
            Pick::All,
            Pick::To { addr: v4, proto: 17, port: Some(4789) },
            Pick::To { addr: v4, proto: 47, port: None },
            Pick::To { addr: v6, proto: 17, port: Some(6081) },
            Pick::To { addr: v6, proto: 4, port: None },
        ]
    }

    #[test]
    fn every_jump_lands_inside_the_program_and_it_ends_in_exits() {
        for pick in picks() {
            let code = program(pick, 3);
            assert_eq!(code.last().map(|i| i.code), Some(op::EXIT), "{pick:?}");
            for (at, i) in code.iter().enumerate() {
                if matches!(i.code, op::JGT_X | op::JNE32_K | op::JA) {
                    let to = at as isize + 1 + isize::from(i.off);
                    assert!(to > at as isize && (to as usize) < code.len(), "{pick:?}: jump at {at} to {to}");
                }
            }
        }
    }

    #[test]
    fn network_order_fields_read_as_the_program_loads_them() {
        // 0x0800 on the wire is bytes 08 00: a little-endian load reads 0x0008.
        assert_eq!(wire16(0x0800), 0x0008);
        assert_eq!(wire16(4789), 0xb512);
        assert_eq!(wire32([192, 0, 2, 2]), i32::from_le_bytes([192, 0, 2, 2]));
    }

    #[test]
    fn the_kernel_verifier_accepts_every_program() {
        // Loading needs CAP_BPF (root); CI runs as root.
        if unsafe { libc::geteuid() } != 0 {
            eprintln!("skipped: loading BPF programs needs root");
            return;
        }
        let map = socket_map(4).unwrap();
        for pick in picks() {
            if let Err(e) = load(&program(pick, map.as_raw_fd())) {
                panic!("{pick:?}: {e}");
            }
        }
    }
}
