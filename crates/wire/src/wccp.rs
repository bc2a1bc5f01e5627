//! WCCP redirection in GRE (protocol 0x883E): a 4-byte redirect header before the IP
//! packet, absent in WCCPv1-style redirects whose payload starts directly with IPv4.

/// Length of the redirect header.
pub const REDIRECT_LEN: usize = 4;

/// Bytes to skip before the redirected IP packet: 0 when `payload` already starts with an
/// IPv4 header, else the redirect header.
pub fn redirect_header_len(payload: &[u8]) -> usize {
    match payload.first() {
        Some(b) if b >> 4 == 4 => 0,
        _ => REDIRECT_LEN,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn test_redirect() {
        assert_eq!(redirect_header_len(&[0x45]), 0);
        assert_eq!(redirect_header_len(&[0x00, 0, 0, 0, 0x45]), 4);
    }
}
