//! The Crypt4GH header (GA4GH Crypt4GH v1, section 3.2): framing, header
//! packet encryption, and the two packet types.
//!
//! ```text
//! header  = "crypt4gh" ‖ version u32le (= 1) ‖ packet_count u32le ‖ packet*
//! packet  = packet_length u32le (including these 4 bytes)
//!           ‖ header_encryption_method u32le (0 = X25519_chacha20_ietf_poly1305)
//!           ‖ writer_public_key[32] ‖ nonce[12] ‖ encrypted_payload ‖ MAC[16]
//! payload = packet_type u32le ‖ ...
//!   type 0 (data encryption parameters): data_encryption_method u32le (0 = chacha20_ietf_poly1305) ‖ data_key[32]
//!   type 1 (data edit list): number_lengths u32le ‖ lengths u64le*
//! ```
//!
//! The packet key is libsodium's `crypto_kx` session key, as the reference
//! implementation uses it (writer = kx server, reader = kx client):
//! `BLAKE2b-512(X25519(sk, pk) ‖ reader_pk ‖ writer_pk)[0..32]`.

use std::io::Read;

use blake2::{Blake2b512, Digest};
use chacha20poly1305::aead::{AeadInPlace, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce, Tag};
use zeroize::Zeroizing;

use crate::error::Crypt4ghError;
use crate::keys::{PublicKey, SecretKey, random_bytes};

/// The magic bytes every Crypt4GH file starts with.
pub const MAGIC: &[u8; 8] = b"crypt4gh";
/// The only defined version of the format.
pub const VERSION: u32 = 1;
/// Header packet encryption method 0: X25519 key agreement, ChaCha20-Poly1305 (IETF).
pub const X25519_CHACHA20_IETF_POLY1305: u32 = 0;
/// Most header packets a header may declare (real files have a few per recipient).
pub const MAX_PACKETS: u32 = 4096;
/// Largest header packet accepted, in bytes (an edit list of ~130,000 lengths).
pub const MAX_PACKET_LEN: u32 = 1 << 20;

const PACKET_DATA_KEY: u32 = 0;
const PACKET_EDIT_LIST: u32 = 1;
const DATA_CHACHA20_IETF_POLY1305: u32 = 0;
/// Method, writer key, nonce, MAC around a payload.
const PACKET_OVERHEAD: usize = 4 + 32 + 12 + 16;

/// One header packet as stored: its encryption method and the bytes after it
/// (for method 0: writer public key, nonce, ciphertext with MAC).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeaderPacket {
    /// The header encryption method (0 is the only one defined).
    pub method: u32,
    /// The encrypted packet body after the method field.
    pub body: Vec<u8>,
}

impl HeaderPacket {
    /// The writer's public key of a method-0 packet (`None` for other methods
    /// or a body too short to hold one).
    pub fn writer_public_key(&self) -> Option<PublicKey> {
        if self.method != X25519_CHACHA20_IETF_POLY1305 {
            return None;
        }
        let key: [u8; 32] = self.body.get(..32)?.try_into().ok()?;
        Some(PublicKey::from_bytes(key))
    }
}

/// A parsed, still encrypted Crypt4GH header: what a reader sees before
/// using its key, and what header re-encryption rewrites.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// The packets in file order.
    pub packets: Vec<HeaderPacket>,
}

/// A data key from a data encryption parameters packet (wiped on drop).
#[derive(Clone)]
pub(crate) struct DataKey(pub(crate) Zeroizing<[u8; 32]>);

/// What the reader's key opens in a header: the data keys and the edit list.
#[derive(Clone, Default)]
pub struct DecryptedHeader {
    pub(crate) data_keys: Vec<DataKey>,
    /// The edit list (alternating skip and keep lengths, starting with a
    /// skip), if the header holds one for this reader.
    pub edit_list: Option<Vec<u64>>,
    /// The decrypted payloads, for header re-encryption.
    pub(crate) payloads: Vec<Zeroizing<Vec<u8>>>,
}

impl std::fmt::Debug for DecryptedHeader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DecryptedHeader")
            .field("data_keys", &self.data_keys.len())
            .field("edit_list", &self.edit_list)
            .finish()
    }
}

impl DecryptedHeader {
    /// How many data keys the reader's packets hold.
    pub fn data_key_count(&self) -> usize {
        self.data_keys.len()
    }
}

/// Reads a Crypt4GH header from the start of `input`, leaving `input` at the
/// first data segment. Never panics; refuses more than [`MAX_PACKETS`]
/// packets or a packet over [`MAX_PACKET_LEN`] bytes, and allocates no more
/// than the input actually holds.
pub fn parse_header<R: Read>(input: &mut R) -> Result<Header, Crypt4ghError> {
    let mut start = [0u8; 16];
    read_exact_or(input, &mut start, || {
        "fewer than 16 bytes (magic, version, packet count)".into()
    })?;
    if &start[..8] != MAGIC {
        return Err(Crypt4ghError::NotCrypt4gh);
    }
    let version = le32(&start[8..12]);
    if version != VERSION {
        return Err(Crypt4ghError::UnsupportedVersion(version));
    }
    let count = le32(&start[12..16]);
    if count == 0 {
        return Err(Crypt4ghError::TruncatedHeader(
            "the header declares no packets".into(),
        ));
    }
    if count > MAX_PACKETS {
        return Err(Crypt4ghError::TruncatedHeader(format!(
            "the header declares {count} packets, more than the {MAX_PACKETS} accepted"
        )));
    }
    let mut packets = Vec::new();
    for index in 0..count {
        let mut len = [0u8; 4];
        read_exact_or(input, &mut len, || {
            format!("packet {index} of {count} is missing")
        })?;
        let len = le32(&len);
        if !(8..=MAX_PACKET_LEN).contains(&len) {
            return Err(Crypt4ghError::InvalidPacket {
                index,
                reason: format!(
                    "length {len} is outside 8..={MAX_PACKET_LEN} (length and method fields, then the body)"
                ),
            });
        }
        let mut method = [0u8; 4];
        read_exact_or(input, &mut method, || {
            format!("packet {index} is cut short")
        })?;
        let body_len = (len - 8) as usize;
        let mut body = Vec::new();
        input
            .take(body_len as u64)
            .read_to_end(&mut body)
            .map_err(|e| Crypt4ghError::io(format!("reading header packet {index}"), e))?;
        if body.len() != body_len {
            return Err(Crypt4ghError::TruncatedHeader(format!(
                "packet {index} declares {len} bytes, the input ends after {}",
                body.len() + 8
            )));
        }
        packets.push(HeaderPacket {
            method: le32(&method),
            body,
        });
    }
    Ok(Header { packets })
}

impl Header {
    /// The header's bytes as they appear in a file.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(&(self.packets.len() as u32).to_le_bytes());
        for p in &self.packets {
            out.extend_from_slice(&((p.body.len() + 8) as u32).to_le_bytes());
            out.extend_from_slice(&p.method.to_le_bytes());
            out.extend_from_slice(&p.body);
        }
        out
    }

    /// The length of [`Header::to_bytes`].
    pub fn encoded_len(&self) -> usize {
        16 + self.packets.iter().map(|p| 8 + p.body.len()).sum::<usize>()
    }

    /// Opens the packets encrypted for `reader` (and, with `sender`, written
    /// by that key only; the others are skipped as in the reference
    /// implementation) and reads the data keys and the edit list from them.
    ///
    /// Refuses a header none of whose packets opens, an opened packet of an
    /// unknown type or data encryption method, two edit lists, and an edit
    /// list without a data key.
    pub fn decrypt(
        &self,
        reader: &SecretKey,
        sender: Option<&PublicKey>,
    ) -> Result<DecryptedHeader, Crypt4ghError> {
        let reader_pk = reader.public_key();
        let mut out = DecryptedHeader::default();
        for (index, packet) in self.packets.iter().enumerate() {
            let index = index as u32;
            if sender.is_some_and(|s| packet.writer_public_key().as_ref() != Some(s)) {
                continue;
            }
            let Some(payload) = open_packet(packet, reader, &reader_pk) else {
                continue;
            };
            let bad = |reason: String| Crypt4ghError::InvalidPacket { index, reason };
            let Some((kind, content)) = payload.split_first_chunk::<4>() else {
                return Err(bad(
                    "the payload is shorter than its 4-byte packet type".into()
                ));
            };
            match u32::from_le_bytes(*kind) {
                PACKET_DATA_KEY => {
                    let Some((method, key)) = content.split_first_chunk::<4>() else {
                        return Err(bad("data encryption parameters without a method".into()));
                    };
                    let method = u32::from_le_bytes(*method);
                    if method != DATA_CHACHA20_IETF_POLY1305 {
                        return Err(bad(format!(
                            "unsupported data encryption method {method} (0, chacha20_ietf_poly1305, is the only one)"
                        )));
                    }
                    let key: [u8; 32] = key.try_into().map_err(|_| {
                        bad(format!("the data key has {} bytes, 32 expected", key.len()))
                    })?;
                    out.data_keys.push(DataKey(Zeroizing::new(key)));
                }
                PACKET_EDIT_LIST => {
                    if out.edit_list.is_some() {
                        return Err(bad("a second edit list for the same reader".into()));
                    }
                    out.edit_list = Some(parse_edit_list(content).map_err(bad)?);
                }
                other => return Err(bad(format!("unknown packet type {other}"))),
            }
            out.payloads.push(payload);
        }
        if out.payloads.is_empty() {
            return Err(Crypt4ghError::NotARecipient {
                sender_checked: sender.is_some(),
            });
        }
        if out.data_keys.is_empty() {
            return Err(Crypt4ghError::InvalidPacket {
                index: 0,
                reason: "the reader's packets hold an edit list but no data key".into(),
            });
        }
        Ok(out)
    }
}

fn parse_edit_list(content: &[u8]) -> Result<Vec<u64>, String> {
    let Some((count, lengths)) = content.split_first_chunk::<4>() else {
        return Err("an edit list without its count".into());
    };
    let count = u32::from_le_bytes(*count) as usize;
    if lengths.len() != count.saturating_mul(8) {
        return Err(format!(
            "the edit list declares {count} lengths but holds {} bytes of them",
            lengths.len()
        ));
    }
    Ok(lengths
        .chunks_exact(8)
        .map(|c| u64::from_le_bytes(c.try_into().unwrap_or_default()))
        .collect())
}

/// The payload of a data encryption parameters packet for `key`.
pub(crate) fn data_key_payload(key: &[u8; 32]) -> Zeroizing<Vec<u8>> {
    let mut p = Zeroizing::new(Vec::with_capacity(40));
    p.extend_from_slice(&PACKET_DATA_KEY.to_le_bytes());
    p.extend_from_slice(&DATA_CHACHA20_IETF_POLY1305.to_le_bytes());
    p.extend_from_slice(key);
    p
}

/// The payload of an edit list packet.
pub(crate) fn edit_list_payload(lengths: &[u64]) -> Result<Zeroizing<Vec<u8>>, Crypt4ghError> {
    let count = u32::try_from(lengths.len())
        .ok()
        .filter(|_| 8 + lengths.len() * 8 + PACKET_OVERHEAD + 4 <= MAX_PACKET_LEN as usize)
        .ok_or_else(|| {
            Crypt4ghError::EditList(format!(
                "{} lengths do not fit in one header packet",
                lengths.len()
            ))
        })?;
    let mut p = Zeroizing::new(Vec::with_capacity(8 + 8 * lengths.len()));
    p.extend_from_slice(&PACKET_EDIT_LIST.to_le_bytes());
    p.extend_from_slice(&count.to_le_bytes());
    for l in lengths {
        p.extend_from_slice(&l.to_le_bytes());
    }
    Ok(p)
}

/// Encrypts each payload for each recipient with `writer`'s key (the order of
/// the reference implementation: for each payload, every recipient).
pub(crate) fn build_header(
    payloads: &[Zeroizing<Vec<u8>>],
    writer: &SecretKey,
    recipients: &[PublicKey],
) -> Result<Header, Crypt4ghError> {
    let mut unique: Vec<PublicKey> = Vec::with_capacity(recipients.len());
    for r in recipients {
        if !unique.contains(r) {
            unique.push(*r);
        }
    }
    if unique.is_empty() {
        return Err(Crypt4ghError::NoRecipients);
    }
    let writer_pk = writer.public_key();
    let keys = unique
        .iter()
        .map(|r| session_key(writer, r, r, &writer_pk))
        .collect::<Result<Vec<_>, _>>()?;
    let mut packets = Vec::with_capacity(payloads.len() * unique.len());
    for payload in payloads {
        for key in &keys {
            let mut nonce = [0u8; 12];
            random_bytes(&mut nonce)?;
            let mut body = Vec::with_capacity(32 + 12 + payload.len() + 16);
            body.extend_from_slice(writer_pk.as_bytes());
            body.extend_from_slice(&nonce);
            let start = body.len();
            body.extend_from_slice(payload);
            let tag = ChaCha20Poly1305::new(Key::from_slice(key.as_ref()))
                .encrypt_in_place_detached(Nonce::from_slice(&nonce), b"", &mut body[start..])
                .map_err(|_| Crypt4ghError::Cipher("a header packet"))?;
            body.extend_from_slice(&tag);
            packets.push(HeaderPacket {
                method: X25519_CHACHA20_IETF_POLY1305,
                body,
            });
        }
    }
    Ok(Header { packets })
}

/// `crypto_kx` session key: `BLAKE2b-512(X25519(own_sk, other_pk) ‖ reader_pk ‖ writer_pk)`,
/// first 32 bytes (the writer's `tx`, the reader's `rx`).
fn session_key(
    own: &SecretKey,
    other: &PublicKey,
    reader_pk: &PublicKey,
    writer_pk: &PublicKey,
) -> Result<Zeroizing<[u8; 32]>, Crypt4ghError> {
    let shared = own.diffie_hellman(other)?;
    let mut hash = Blake2b512::new();
    hash.update(shared.as_ref());
    hash.update(reader_pk.as_bytes());
    hash.update(writer_pk.as_bytes());
    let digest = Zeroizing::new(<[u8; 64]>::from(hash.finalize()));
    let mut key = Zeroizing::new([0u8; 32]);
    key.copy_from_slice(&digest[..32]);
    Ok(key)
}

/// The payload of `packet` if it is a method-0 packet that `reader` opens.
fn open_packet(
    packet: &HeaderPacket,
    reader: &SecretKey,
    reader_pk: &PublicKey,
) -> Option<Zeroizing<Vec<u8>>> {
    if packet.method != X25519_CHACHA20_IETF_POLY1305 || packet.body.len() < PACKET_OVERHEAD - 4 {
        return None;
    }
    let writer_pk = packet.writer_public_key()?;
    let key = session_key(reader, &writer_pk, reader_pk, &writer_pk).ok()?;
    let (nonce, rest) = packet.body[32..].split_at(12);
    let (ciphertext, tag) = rest.split_at(rest.len() - 16);
    let mut payload = Zeroizing::new(ciphertext.to_vec());
    ChaCha20Poly1305::new(Key::from_slice(key.as_ref()))
        .decrypt_in_place_detached(
            Nonce::from_slice(nonce),
            b"",
            payload.as_mut_slice(),
            Tag::from_slice(tag),
        )
        .ok()?;
    Some(payload)
}

fn le32(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

/// `read_exact`, with a premature end reported as a truncated header.
fn read_exact_or<R: Read>(
    input: &mut R,
    buf: &mut [u8],
    what: impl FnOnce() -> String,
) -> Result<(), Crypt4ghError> {
    match input.read_exact(buf) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            Err(Crypt4ghError::TruncatedHeader(what()))
        }
        Err(e) => Err(Crypt4ghError::io("reading the header", e)),
    }
}
