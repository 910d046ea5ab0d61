//! Writing Crypt4GH files: the header, then the plaintext in segments of
//! 65,536 bytes, each sealed as `nonce[12] ‖ ChaCha20-Poly1305(segment) ‖ MAC[16]`
//! under one fresh random data key, with a fresh random nonce per segment.

use std::io::{self, Read, Write};

use chacha20poly1305::aead::{AeadInPlace, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use zeroize::{Zeroize, Zeroizing};

use crate::error::Crypt4ghError;
use crate::header::{build_header, data_key_payload, edit_list_payload};
use crate::keys::{PublicKey, SecretKey, random_bytes};
use crate::{CIPHER_SEGMENT_SIZE, NONCE_LEN, SEGMENT_SIZE, TAG_LEN};

/// A Crypt4GH writer: a [`Write`] whose bytes are encrypted into `output`
/// segment by segment (for producing an encrypted file incrementally, such as
/// a VCF being written).
///
/// The header is written by the constructor. [`Encryptor::finish`] must be
/// called: it writes the last, partial segment. Dropping an encryptor without
/// it leaves that segment out (and the file looks complete to a reader,
/// since Crypt4GH has no end marker), so the drop writes nothing on purpose
/// and wipes the buffered plaintext.
pub struct Encryptor<W: Write> {
    output: Option<W>,
    key: Zeroizing<[u8; 32]>,
    /// `nonce ‖ plaintext ‖ tag` of the segment being filled.
    buf: Vec<u8>,
    /// Plaintext bytes in `buf[NONCE_LEN..]`.
    filled: usize,
    plaintext_len: u64,
    segments: u64,
    poisoned: bool,
}

impl<W: Write> Encryptor<W> {
    /// An encryptor for `recipients`, with an ephemeral writer key and no
    /// edit list; writes the header to `output` now.
    pub fn new(output: W, recipients: &[PublicKey]) -> Result<Self, Crypt4ghError> {
        Self::with_options(output, None, recipients, None)
    }

    /// An encryptor whose header packets are written with `writer`'s key
    /// (readers may check it as the sender; `None`: an ephemeral key) and
    /// carry `edit_list` (alternating skip and keep lengths, starting with a
    /// skip; an odd count keeps everything after the last skip).
    pub fn with_options(
        mut output: W,
        writer: Option<&SecretKey>,
        recipients: &[PublicKey],
        edit_list: Option<&[u64]>,
    ) -> Result<Self, Crypt4ghError> {
        let ephemeral;
        let writer = match writer {
            Some(w) => w,
            None => {
                ephemeral = SecretKey::generate()?;
                &ephemeral
            }
        };
        let mut key = Zeroizing::new([0u8; 32]);
        random_bytes(key.as_mut())?;
        let mut payloads = vec![data_key_payload(&key)];
        if let Some(edits) = edit_list {
            if edits.is_empty() {
                return Err(Crypt4ghError::EditList(
                    "an empty edit list would hide everything: pass None to keep all bytes".into(),
                ));
            }
            payloads.push(edit_list_payload(edits)?);
        }
        let header = build_header(&payloads, writer, recipients)?;
        output
            .write_all(&header.to_bytes())
            .map_err(|e| Crypt4ghError::io("writing the header", e))?;
        Ok(Self {
            output: Some(output),
            key,
            buf: vec![0; CIPHER_SEGMENT_SIZE],
            filled: 0,
            plaintext_len: 0,
            segments: 0,
            poisoned: false,
        })
    }

    /// Plaintext bytes accepted so far.
    pub fn plaintext_len(&self) -> u64 {
        self.plaintext_len
    }

    /// Writes the last segment (if any bytes are buffered), flushes and
    /// returns the output.
    pub fn finish(mut self) -> Result<W, Crypt4ghError> {
        if self.poisoned {
            return Err(Crypt4ghError::Poisoned);
        }
        if self.filled > 0 {
            self.seal()?;
        }
        let mut output = self.output.take().ok_or(Crypt4ghError::Poisoned)?;
        output
            .flush()
            .map_err(|e| Crypt4ghError::io("flushing the output", e))?;
        Ok(output)
    }

    /// Reads `input` to its end straight into the segment buffer (no extra copy).
    pub(crate) fn copy_from<R: Read>(&mut self, input: &mut R) -> Result<(), Crypt4ghError> {
        loop {
            let start = NONCE_LEN + self.filled;
            let n = match input.read(&mut self.buf[start..NONCE_LEN + SEGMENT_SIZE]) {
                Ok(0) => return Ok(()),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Crypt4ghError::io("reading the plaintext", e)),
            };
            self.filled += n;
            self.plaintext_len += n as u64;
            if self.filled == SEGMENT_SIZE {
                self.seal()?;
            }
        }
    }

    /// Encrypts and writes the buffered segment.
    fn seal(&mut self) -> Result<(), Crypt4ghError> {
        let n = self.filled;
        let result = (|| {
            random_bytes(&mut self.buf[..NONCE_LEN])?;
            let (nonce, rest) = self.buf.split_at_mut(NONCE_LEN);
            let tag = ChaCha20Poly1305::new(Key::from_slice(self.key.as_ref()))
                .encrypt_in_place_detached(Nonce::from_slice(nonce), b"", &mut rest[..n])
                .map_err(|_| Crypt4ghError::Cipher("a data segment"))?;
            rest[n..n + TAG_LEN].copy_from_slice(&tag);
            let output = self.output.as_mut().ok_or(Crypt4ghError::Poisoned)?;
            output
                .write_all(&self.buf[..NONCE_LEN + n + TAG_LEN])
                .map_err(|e| Crypt4ghError::io(format!("writing segment {}", self.segments), e))
        })();
        self.poisoned = result.is_err();
        self.filled = 0;
        self.segments += 1;
        result
    }
}

impl<W: Write> Write for Encryptor<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.poisoned {
            return Err(Crypt4ghError::Poisoned.into());
        }
        let room = SEGMENT_SIZE - self.filled;
        let n = room.min(data.len());
        let start = NONCE_LEN + self.filled;
        self.buf[start..start + n].copy_from_slice(&data[..n]);
        self.filled += n;
        self.plaintext_len += n as u64;
        if self.filled == SEGMENT_SIZE {
            self.seal()?;
        }
        Ok(n)
    }

    /// Flushes the output; a partial segment stays buffered (only the last
    /// segment of a file may be short).
    fn flush(&mut self) -> io::Result<()> {
        match self.output.as_mut() {
            Some(o) => o.flush(),
            None => Ok(()),
        }
    }
}

impl<W: Write> Drop for Encryptor<W> {
    fn drop(&mut self) {
        self.buf.zeroize();
    }
}

/// Encrypts `input` to `output` for `recipients` (duplicates are removed),
/// streaming in 64 KiB segments: a fresh random data key, a random nonce per
/// segment and per header packet, all from the OS RNG. The header packets
/// are written with `writer`'s key, or an ephemeral key when `None`, and
/// carry `edit_list` when given. Returns the number of plaintext bytes.
pub fn encrypt<R: Read, W: Write>(
    mut input: R,
    output: W,
    writer: Option<&SecretKey>,
    recipients: &[PublicKey],
    edit_list: Option<&[u64]>,
) -> Result<u64, Crypt4ghError> {
    let mut encryptor = Encryptor::with_options(output, writer, recipients, edit_list)?;
    encryptor.copy_from(&mut input)?;
    let n = encryptor.plaintext_len();
    encryptor.finish()?;
    Ok(n)
}
