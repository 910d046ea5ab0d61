//! Keyed replacement UIDs: the same input UID gives the same output UID in
//! every run and every process holding the key, and nobody without the key
//! can tell which input it came from.
//!
//! The output is a `2.25.` UID (PS3.5 B.2: the decimal form of a UUID), here
//! a UUID version 8 (RFC 9562, "custom") whose 122 free bits are the first
//! bits of HMAC-SHA256(key, input UID). Collisions need ~2^61 UIDs.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Maps UIDs under one key (a site's, or a project's for deliveries).
#[derive(Clone)]
pub struct UidMapper {
    mac: Hmac<Sha256>,
}

impl std::fmt::Debug for UidMapper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UidMapper(<key>)")
    }
}

impl UidMapper {
    /// A mapper under `key` (32 bytes from a secret file; never logged).
    pub fn new(key: &[u8; 32]) -> Self {
        Self {
            mac: Hmac::new_from_slice(key).expect("HMAC takes any key length"),
        }
    }

    /// The replacement of `uid` (trailing padding and spaces ignored).
    pub fn map(&self, uid: &str) -> String {
        let uid = uid.trim_end_matches(['\0', ' ']);
        let mut mac = self.mac.clone();
        mac.update(b"oncofed-dicom-uid\0");
        mac.update(uid.as_bytes());
        let digest = mac.finalize().into_bytes();
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&digest[..16]);
        bytes[6] = (bytes[6] & 0x0F) | 0x80; // version 8
        bytes[8] = (bytes[8] & 0x3F) | 0x80; // RFC 9562 variant
        format!("2.25.{}", u128::from_be_bytes(bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uids_are_stable_keyed_and_valid() {
        let a = UidMapper::new(&[1; 32]);
        let b = UidMapper::new(&[2; 32]);
        let uid = "1.3.6.1.4.1.5962.1.1.1.1.1.20040119072730.12322";
        assert_eq!(a.map(uid), a.map(uid));
        assert_eq!(a.map(uid), a.map(&format!("{uid}\0")));
        assert_ne!(a.map(uid), b.map(uid));
        assert_ne!(a.map(uid), a.map("1.2.3"));
        for m in [a.map(uid), b.map("1.2.3"), a.map("")] {
            assert!(m.len() <= 64, "{m}");
            assert!(m.starts_with("2.25."));
            let n = &m[5..];
            assert!(
                n.bytes().all(|c| c.is_ascii_digit()) && !n.starts_with('0'),
                "{m}"
            );
        }
    }
}
