//! Reading Crypt4GH files: the header with the reader's key, then segment by
//! segment, each authenticated before any of its bytes is released, with the
//! edit list applied to the plaintext stream.

use std::io::{self, Read, Write};

use chacha20poly1305::aead::{AeadInPlace, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce, Tag};
use zeroize::Zeroize;

use crate::edit::EditState;
use crate::error::Crypt4ghError;
use crate::header::{DataKey, parse_header};
use crate::keys::{PublicKey, SecretKey};
use crate::{CIPHER_SEGMENT_SIZE, NONCE_LEN, TAG_LEN};

/// A Crypt4GH reader: a [`Read`] that yields the plaintext of an encrypted
/// stream (after its edit list), authenticating every segment it reads.
///
/// A `read` error carries the [`Crypt4ghError`] (get it back with
/// `io::Error::into_inner` and `downcast`); no byte of a segment that fails
/// authentication is returned.
pub struct Decryptor<R: Read> {
    input: R,
    keys: Vec<DataKey>,
    edits: Option<EditState>,
    /// The segment being read: `nonce ‖ ciphertext ‖ tag`, then the released
    /// plaintext in `buf[start..end]`.
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// Number of the next segment to read (0-based).
    segment: u64,
    finished: bool,
}

impl<R: Read> Decryptor<R> {
    /// Reads and opens the header of `input` with `reader`'s key (packets not
    /// written by `sender`, when given, are ignored), leaving the data to
    /// the `Read` calls.
    pub fn new(
        mut input: R,
        reader: &SecretKey,
        sender: Option<&PublicKey>,
    ) -> Result<Self, Crypt4ghError> {
        let header = parse_header(&mut input)?.decrypt(reader, sender)?;
        let edits = match header.edit_list {
            Some(lengths) if lengths.is_empty() => {
                return Err(Crypt4ghError::EditList(
                    "the header holds an empty edit list".into(),
                ));
            }
            Some(lengths) => Some(EditState::new(lengths)),
            None => None,
        };
        Ok(Self {
            input,
            keys: header.data_keys,
            edits,
            buf: vec![0; CIPHER_SEGMENT_SIZE],
            start: 0,
            end: 0,
            segment: 0,
            finished: false,
        })
    }

    /// The edit list of the header, if any.
    pub fn edit_list(&self) -> Option<&[u64]> {
        self.edits.as_ref().map(EditState::lengths)
    }

    /// The next released plaintext (possibly empty when the edit list skips
    /// a whole segment), or `None` at the end.
    fn next_chunk(&mut self) -> Result<Option<&[u8]>, Crypt4ghError> {
        if self.finished {
            return Ok(None);
        }
        let index = self.segment;
        let n = read_full(&mut self.input, &mut self.buf)
            .map_err(|e| Crypt4ghError::io(format!("reading data segment {index}"), e))?;
        if n == 0 {
            self.finished = true;
            if let Some(edits) = &self.edits {
                edits.check_end()?;
            }
            return Ok(None);
        }
        if n <= NONCE_LEN + TAG_LEN {
            return Err(Crypt4ghError::TruncatedSegment { index, len: n });
        }
        let (nonce, rest) = self.buf[..n].split_at_mut(NONCE_LEN);
        let (text, tag) = rest.split_at_mut(n - NONCE_LEN - TAG_LEN);
        // A failed check leaves `text` untouched, so the next key sees the ciphertext.
        let opened = self.keys.iter().any(|key| {
            ChaCha20Poly1305::new(Key::from_slice(key.0.as_ref()))
                .decrypt_in_place_detached(
                    Nonce::from_slice(nonce),
                    b"",
                    text,
                    Tag::from_slice(tag),
                )
                .is_ok()
        });
        if !opened {
            self.finished = true;
            return Err(Crypt4ghError::SegmentAuthentication { index });
        }
        self.segment += 1;
        let len = text.len();
        let kept = match &mut self.edits {
            Some(edits) => {
                let kept = edits.apply(text);
                if edits.is_done() {
                    self.finished = true;
                }
                kept
            }
            None => len,
        };
        self.start = NONCE_LEN;
        self.end = NONCE_LEN + kept;
        Ok(Some(&self.buf[self.start..self.end]))
    }
}

impl<R: Read> Read for Decryptor<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        while self.start == self.end {
            if self.next_chunk()?.is_none() {
                return Ok(0);
            }
        }
        let n = out.len().min(self.end - self.start);
        out[..n].copy_from_slice(&self.buf[self.start..self.start + n]);
        self.start += n;
        Ok(n)
    }
}

impl<R: Read> Drop for Decryptor<R> {
    fn drop(&mut self) {
        self.buf.zeroize();
    }
}

/// Decrypts `input` to `output` with `reader_key` (checking, when
/// `sender_pk` is given, that the header packets used were written by that
/// key), honouring the header's edit list. Every segment is authenticated
/// before any of its bytes is written: a tampered segment stops the
/// decryption with [`Crypt4ghError::SegmentAuthentication`] naming it, and
/// a file cut inside a segment fails the same way. Returns the number of
/// plaintext bytes written.
pub fn decrypt<R: Read, W: Write>(
    input: R,
    mut output: W,
    reader_key: &SecretKey,
    sender_pk: Option<&PublicKey>,
) -> Result<u64, Crypt4ghError> {
    let mut decryptor = Decryptor::new(input, reader_key, sender_pk)?;
    let mut written = 0u64;
    while let Some(chunk) = decryptor.next_chunk()? {
        output
            .write_all(chunk)
            .map_err(|e| Crypt4ghError::io("writing the plaintext", e))?;
        written += chunk.len() as u64;
    }
    output
        .flush()
        .map_err(|e| Crypt4ghError::io("flushing the plaintext", e))?;
    Ok(written)
}

/// Reads until `buf` is full or the input ends; the number of bytes read.
pub(crate) fn read_full<R: Read>(input: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match input.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}
