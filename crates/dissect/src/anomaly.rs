//! Named anomalies and heuristic guesses, each with a counter, in the style of Suricata's
//! decoder events: nothing the decoder meets is silent.

named_enum! {
    /// Something wrong with a frame, found while decoding it.
    Anomaly {
        /// A header runs past the captured bytes.
        Truncated = "truncated",
        /// The depth bound stopped decoding.
        DepthBound = "depth_bound",
        /// A header is inconsistent with itself.
        Malformed = "malformed_header",
        /// The stack reached its capacity.
        TooManyLayers = "too_many_layers",
        /// An EtherType (or GRE protocol) that nothing decodes.
        UnknownEthertype = "unknown_ethertype",
        /// A GRE protocol type that nothing decodes.
        UnknownGreProtocol = "unknown_gre_protocol",
        /// IPv4 version field is not 4.
        Ipv4BadVersion = "ipv4_bad_version",
        /// IPv4 header length below 20 or beyond the total length.
        Ipv4BadHeaderLen = "ipv4_bad_header_len",
        /// IPv4 total length shorter than its header.
        Ipv4BadTotalLen = "ipv4_bad_total_len",
        /// IPv6 version field is not 6.
        Ipv6BadVersion = "ipv6_bad_version",
        /// An IPv6 extension header overruns the packet.
        Ipv6BadExtension = "ipv6_bad_extension",
        /// A later IP fragment: its payload cannot be decoded without reassembly.
        IpFragment = "ip_fragment",
        /// UDP length field below 8 or beyond the IP payload.
        UdpBadLength = "udp_bad_length",
        /// TCP data offset below 20.
        TcpBadHeaderLen = "tcp_bad_header_len",
        /// GRE version other than 0 or 1.
        GreBadVersion = "gre_bad_version",
        /// GRE reserved bits (or RFC 1701 recursion/strict route) set.
        GreReservedBits = "gre_reserved_bits",
        /// ERSPAN header version other than 1 or 2.
        ErspanBadVersion = "erspan_bad_version",
        /// ERSPAN type III frame type that is neither Ethernet nor IP.
        ErspanOpaqueFrameType = "erspan_opaque_frame_type",
        /// VXLAN without the I flag.
        VxlanNoVni = "vxlan_no_vni",
        /// VXLAN reserved bits set (outside the GBP bits).
        VxlanReservedBits = "vxlan_reserved_bits",
        /// VXLAN-GPE next protocol unknown.
        GpeUnknownNextProtocol = "gpe_unknown_next_protocol",
        /// GENEVE version other than 0.
        GeneveBadVersion = "geneve_bad_version",
        /// A GENEVE option overruns the options area.
        GeneveBadOption = "geneve_bad_option",
        /// GENEVE carries critical options.
        GeneveCriticalOption = "geneve_critical_option",
        /// NSH version or length invalid.
        NshBadHeader = "nsh_bad_header",
        /// GTP header malformed (version, extension headers).
        GtpBadHeader = "gtp_bad_header",
        /// Teredo indicators malformed.
        TeredoBadHeader = "teredo_bad_header",
        /// AYIYA header malformed.
        AyiyaBadHeader = "ayiya_bad_header",
        /// TRILL version not 0.
        TrillBadVersion = "trill_bad_version",
        /// PPPoE version or type not 1.
        PppoeBadHeader = "pppoe_bad_header",
        /// MPLS label stack without a bottom-of-stack entry.
        MplsNoBottom = "mpls_no_bottom",
        /// An IPv4 or IPv6 explicit null label in front of a packet of the other version (or of
        /// neither); the packet's own version decides how it is read.
        MplsExplicitNullMismatch = "mpls_explicit_null_mismatch",
        /// Arista timestamp header with an unknown version.
        AristaBadVersion = "arista_bad_version",
    }
}

named_enum! {
    /// A decision the decoder took by heuristic because the wire has no type field.
    Guess {
        /// MPLS payload read as IPv4 from its first nibble.
        MplsIpv4 = "mpls_payload_ipv4",
        /// MPLS payload read as IPv6 from its first nibble.
        MplsIpv6 = "mpls_payload_ipv6",
        /// MPLS payload read as an Ethernet pseudowire with control word.
        MplsEthernetCw = "mpls_payload_ethernet_cw",
        /// MPLS payload read as an Ethernet pseudowire without control word.
        MplsEthernet = "mpls_payload_ethernet",
        /// GTP-U payload read as IPv4 or IPv6 from its version nibble.
        GtpIp = "gtp_payload_ip",
        /// UDP to or from the Teredo port read as Teredo.
        Teredo = "teredo",
        /// GRE-TEB key read as an NVGRE VSID and flow ID.
        Nvgre = "nvgre_key",
        /// L2TPv3 payload read with the configured cookie and payload type.
        L2tpv3 = "l2tpv3_session",
    }
}

/// Per-worker counts of frames, anomalies and guesses; merged by addition when read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counters {
    /// Frames decoded.
    pub frames: u64,
    /// Frames with at least one anomaly.
    pub frames_with_anomalies: u64,
    /// Count per anomaly, indexed by `Anomaly as usize`.
    pub anomalies: [u64; Anomaly::COUNT],
    /// Count per guess, indexed by `Guess as usize`.
    pub guesses: [u64; Guess::COUNT],
}

impl Default for Counters {
    fn default() -> Counters {
        Counters {
            frames: 0,
            frames_with_anomalies: 0,
            anomalies: [0; Anomaly::COUNT],
            guesses: [0; Guess::COUNT],
        }
    }
}

impl Counters {
    /// Adds another worker's counts.
    pub fn merge(&mut self, other: &Counters) {
        self.frames += other.frames;
        self.frames_with_anomalies += other.frames_with_anomalies;
        for (a, b) in self.anomalies.iter_mut().zip(other.anomalies.iter()) {
            *a += b;
        }
        for (a, b) in self.guesses.iter_mut().zip(other.guesses.iter()) {
            *a += b;
        }
    }
    /// Non-zero anomaly counts with their names.
    pub fn anomaly_counts(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        Anomaly::ALL.iter().map(|a| (a.name(), self.anomalies[*a as usize])).filter(|(_, n)| *n > 0)
    }
    /// Non-zero guess counts with their names.
    pub fn guess_counts(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        Guess::ALL.iter().map(|g| (g.name(), self.guesses[*g as usize])).filter(|(_, n)| *n > 0)
    }
}
