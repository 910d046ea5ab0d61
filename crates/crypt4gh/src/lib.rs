//! The GA4GH Crypt4GH v1 file format: encrypted genomic files that a site
//! keeps at rest and delivers to researchers by re-encrypting only the header.
//!
//! A Crypt4GH file is a header of packets, each encrypted for one reader's
//! X25519 public key (libsodium `crypto_kx` session key, ChaCha20-Poly1305),
//! that carry a symmetric data key and optionally an edit list, followed by
//! the data in segments of 65,536 plaintext bytes, each sealed with
//! ChaCha20-Poly1305 under the data key and a random 12-byte nonce
//! (specification: <https://samtools.github.io/hts-specs/crypt4gh.pdf>).
//!
//! What this crate does:
//! - [`encrypt`] / [`Encryptor`]: streaming encryption for several
//!   recipients, with an optional edit list and writer key;
//! - [`decrypt`] / [`Decryptor`]: streaming decryption honouring edit lists,
//!   optionally checking the writer's key ([`Header::decrypt`]'s `sender`);
//! - [`reencrypt_header`]: a new header for other recipients, the data
//!   segments copied byte for byte;
//! - [`parse_header`] / [`Header`]: the header framing on its own;
//! - [`SecretKey`] / [`PublicKey`]: the key files of `crypt4gh-keygen`
//!   (unencrypted, or locked with scrypt, bcrypt or PBKDF2 and
//!   ChaCha20-Poly1305).
//!
//! What it refuses: other versions than 1; header encryption methods other
//! than X25519 + ChaCha20-Poly1305 (the AES methods are reserved and unused);
//! a header none of whose packets opens with the reader's key; two edit lists
//! for one reader; unknown packet types; a segment that fails authentication
//! (the error names the segment, and none of its bytes is output); a
//! segment of fewer than 29 bytes; a file that ends inside a segment or
//! before its edit list's last kept byte; headers of more than
//! [`header::MAX_PACKETS`] packets or packets over [`header::MAX_PACKET_LEN`]
//! bytes; low-order X25519 public keys; OpenSSH keys (the Python
//! implementation reads them; OncoFed keys are Crypt4GH key files).
//!
//! What the format cannot detect: a file cut exactly at a segment boundary
//! decrypts to a prefix of the plaintext (Crypt4GH has no end marker and no
//! segment counter in the nonce). Keep lengths or checksums beside the file
//! where that matters. Likewise a reader cannot tell its own corrupted
//! header packet from a packet for another reader (both fail to open and are
//! skipped, as the specification asks): if the corrupted packet held the
//! edit list, the whole plaintext comes out instead of the edited part. The
//! edit list is a convenience, not an access control: whoever holds the data
//! key can read every segment.
//!
//! Why hand-written: the `crypt4gh` crate (0.4, 2022) depends on the
//! deprecated `sodiumoxide` and unmaintained `rust-crypto`. The format is
//! small, and this implementation uses the RustCrypto crates already in the
//! workspace (x25519-dalek, chacha20poly1305, blake2). It is checked against
//! the Python reference implementation, crypt4gh 1.8.6
//! (`tests/python_peer.rs`).

mod decrypt;
pub mod edit;
mod encrypt;
mod error;
pub mod header;
mod keys;

use std::io::{Read, Write};

pub use decrypt::{Decryptor, decrypt};
pub use edit::apply_edit_list;
pub use encrypt::{Encryptor, encrypt};
pub use error::Crypt4ghError;
pub use header::{DecryptedHeader, Header, HeaderPacket, parse_header};
pub use keys::{PublicKey, SecretKey, write_public_key_file, write_secret_key_file};

/// Plaintext bytes per data segment (the last segment may be shorter).
pub const SEGMENT_SIZE: usize = 65_536;
/// Bytes of the random nonce before each encrypted segment.
pub const NONCE_LEN: usize = 12;
/// Bytes of the Poly1305 MAC after each encrypted segment.
pub const TAG_LEN: usize = 16;
/// Bytes of a full encrypted segment: nonce, ciphertext, MAC.
pub const CIPHER_SEGMENT_SIZE: usize = NONCE_LEN + SEGMENT_SIZE + TAG_LEN;

/// Re-encrypts the header of `input` for `new_recipients` and copies the data
/// segments to `output` unchanged: how a site hands its at-rest file to a
/// researcher without touching the data.
///
/// The packets `reader_key` opens (data keys and edit list) are encrypted
/// anew for each new recipient, written with `reader_key` as the writer key
/// (so a recipient can check the file came from this site with
/// `sender_pk`); packets the reader cannot open (other recipients') are
/// dropped, like the reference implementation's `reencrypt --trim`, so the
/// old readers are not carried over. The data section is not authenticated
/// here (the recipients' decryption does that). Returns the number of data
/// bytes copied.
pub fn reencrypt_header<R: Read, W: Write>(
    mut input: R,
    mut output: W,
    reader_key: &SecretKey,
    new_recipients: &[PublicKey],
) -> Result<u64, Crypt4ghError> {
    let opened = parse_header(&mut input)?.decrypt(reader_key, None)?;
    let header = header::build_header(&opened.payloads, reader_key, new_recipients)?;
    output
        .write_all(&header.to_bytes())
        .map_err(|e| Crypt4ghError::io("writing the new header", e))?;
    let mut buf = vec![0u8; CIPHER_SEGMENT_SIZE];
    let mut copied = 0u64;
    loop {
        let n = decrypt::read_full(&mut input, &mut buf)
            .map_err(|e| Crypt4ghError::io("reading the data segments", e))?;
        if n == 0 {
            break;
        }
        output
            .write_all(&buf[..n])
            .map_err(|e| Crypt4ghError::io("writing the data segments", e))?;
        copied += n as u64;
    }
    output
        .flush()
        .map_err(|e| Crypt4ghError::io("flushing the output", e))?;
    Ok(copied)
}
