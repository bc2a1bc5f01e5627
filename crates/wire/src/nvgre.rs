//! NVGRE (RFC 7637): GRE with only the K bit set, protocol 0x6558, whose key holds a 24-bit
//! virtual subnet ID and an 8-bit flow ID. On the wire it cannot be told from GRE-TEB with a
//! key; whether to read the key this way is configuration.

/// The GRE flags-and-version word NVGRE requires (K only, version 0).
pub const FLAGS_VERSION: u16 = 0x2000;

/// Virtual subnet ID: the upper 24 bits of the key.
pub fn vsid(key: u32) -> u32 {
    key >> 8
}

/// Flow ID: the low 8 bits of the key.
pub fn flow_id(key: u32) -> u8 {
    key as u8
}

/// The GRE key that carries `vsid` and `flow_id`.
pub fn key(vsid: u32, flow_id: u8) -> u32 {
    (vsid << 8) | u32::from(flow_id)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn test_key() {
        let k = key(0x123456, 0x78);
        assert_eq!(k, 0x12345678);
        assert_eq!((vsid(k), flow_id(k)), (0x123456, 0x78));
    }
}
