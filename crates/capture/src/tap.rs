//! A TAP interface as a sink: detunnel writes the stripped Ethernet frames into it, so that
//! tcpdump, Zeek or Suricata can listen on it as on any interface. A TAP detunnel creates
//! disappears when detunnel closes it; an existing (persistent) one is attached to.
use std::io::{self, Write};
use tun::AbstractDevice;

/// What a TAP sink did with the frames given to it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TapCounts {
    /// Frames written.
    pub frames: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Frames longer than the interface's MTU plus the Ethernet header: not written.
    pub too_big: u64,
    /// Frames the kernel refused (interface down, no reader buffer): not written.
    pub errors: u64,
    /// Times the interface was created again after it disappeared.
    pub reopened: u64,
}

/// An open TAP interface.
pub struct Tap {
    device: tun::Device,
    name: String,
    /// When the interface was last (re)created: a failing one is tried again a second later.
    opened: std::time::Instant,
    /// Largest frame written: MTU plus the 14-byte Ethernet header (and a VLAN tag's 4).
    max_frame: usize,
    /// A frame with a separate header, in one piece (a TAP takes one buffer per frame).
    whole: Vec<u8>,
    /// What was written and dropped.
    pub counts: TapCounts,
}

impl Tap {
    /// Creates (or attaches to) TAP interface `name` and brings it up.
    pub fn open(name: &str) -> io::Result<Tap> {
        let (device, max_frame) = create(name)?;
        Ok(Tap {
            device,
            name: name.to_string(),
            opened: std::time::Instant::now(),
            max_frame,
            whole: Vec::with_capacity(65_536),
            counts: TapCounts::default(),
        })
    }

    /// The interface name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Writes one Ethernet frame given as a header and a body (`head` may be empty: then the
    /// body goes to the kernel without a copy); a frame too big for the interface or refused
    /// by the kernel is counted and dropped (the sink never blocks the packet path on an error).
    pub fn send(&mut self, head: &[u8], body: &[u8]) {
        let frame = crate::joined(head, body, &mut self.whole);
        if frame.len() > self.max_frame {
            self.counts.too_big += 1;
            return;
        }
        // A TAP takes a frame whole or not at all.
        match self.device.write(frame) {
            Ok(n) if n == frame.len() => {
                self.counts.frames += 1;
                self.counts.bytes += frame.len() as u64;
            }
            _ => {
                self.counts.errors += 1;
                self.recover();
            }
        }
    }

    /// After a refused frame: when the interface no longer exists (someone deleted it), creates
    /// it again, at most once a second.
    fn recover(&mut self) {
        let gone = !std::path::Path::new("/sys/class/net").join(&self.name).exists();
        if !gone || self.opened.elapsed() < std::time::Duration::from_secs(1) {
            return;
        }
        self.opened = std::time::Instant::now();
        if let Ok((device, max_frame)) = create(&self.name) {
            self.device = device;
            self.max_frame = max_frame;
            self.counts.reopened += 1;
        }
    }
}

/// Creates (or attaches to) TAP `name`, brings it up; returns it and its largest frame.
fn create(name: &str) -> io::Result<(tun::Device, usize)> {
    let mut config = tun::Configuration::default();
    config.tun_name(name).layer(tun::Layer::L2).up();
    let device = tun::create(&config).map_err(|e| io::Error::other(format!("TAP {name}: {e}")))?;
    let mtu = device.mtu().map_err(|e| io::Error::other(format!("TAP {name}: {e}")))?;
    Ok((device, usize::from(mtu) + 18))
}
