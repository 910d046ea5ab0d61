//! X25519 key pairs and the Crypt4GH key files of `crypt4gh-keygen`.
//!
//! Public key file: `-----BEGIN CRYPT4GH PUBLIC KEY-----`, the base64 of the
//! 32-byte X25519 public key, `-----END CRYPT4GH PUBLIC KEY-----`.
//!
//! Private key file (`-----BEGIN CRYPT4GH PRIVATE KEY-----`), the base64 of:
//! `c4gh-v1` ‖ string(kdf name) ‖ \[string(kdf options) unless kdf is `none`\]
//! ‖ string(cipher name) ‖ string(key material) ‖ \[string(comment)\], where a
//! string is a 2-byte big-endian length and the bytes. With kdf and cipher
//! `none` (`crypt4gh-keygen --nocrypt`) the key material is the 32-byte
//! secret key. Otherwise the kdf is `scrypt` (N = 2^14, r = 8, p = 1),
//! `bcrypt` (OpenSSH bcrypt_pbkdf) or `pbkdf2_hmac_sha256`; its options are
//! a 4-byte big-endian round count and the salt; the cipher is
//! `chacha20_poly1305` (IETF) and the key material is a 12-byte nonce and the
//! encrypted secret key with its tag, under the 32-byte derived key. This is
//! the format of the Python reference implementation (crypt4gh 1.8.6,
//! `crypt4gh/keys/c4gh.py`, `kdf.py`). OpenSSH keys, which Python also reads,
//! are refused.

use std::fmt;
use std::io::Write;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{AeadInPlace, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce, Tag};
use rand::TryRngCore;
use rand::rngs::OsRng;
use x25519_dalek::StaticSecret;
use zeroize::{Zeroize, Zeroizing};

use crate::error::Crypt4ghError;

const PUBLIC_BEGIN: &str = "-----BEGIN CRYPT4GH PUBLIC KEY-----";
const PUBLIC_END: &str = "-----END CRYPT4GH PUBLIC KEY-----";
const PRIVATE_BEGIN: &str = "-----BEGIN CRYPT4GH PRIVATE KEY-----";
const PRIVATE_END: &str = "-----END CRYPT4GH PRIVATE KEY-----";
const MAGIC: &[u8] = b"c4gh-v1";
/// Larger key files are refused before they are read (a key file is < 1 KiB).
const MAX_KEY_FILE: u64 = 64 * 1024;

/// Fills `buf` from the operating system's RNG.
pub(crate) fn random_bytes(buf: &mut [u8]) -> Result<(), Crypt4ghError> {
    OsRng
        .try_fill_bytes(buf)
        .map_err(|e| Crypt4ghError::Random(e.to_string()))
}

/// An X25519 public key: a recipient of a Crypt4GH file, or the writer
/// named in a header packet.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PublicKey([u8; 32]);

impl PublicKey {
    /// The key from its 32 bytes (as in a header packet or a key file).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The 32 bytes of the key.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Parses a Crypt4GH public key file's text (as `crypt4gh-keygen` writes it).
    pub fn from_pem(text: &str) -> Result<Self, Crypt4ghError> {
        let lines = pem_lines(text)?;
        let (first, last) = (lines[0], lines[lines.len() - 1]);
        if first.starts_with("ssh-") {
            return Err(Crypt4ghError::key(
                "an OpenSSH public key: only Crypt4GH key files are supported (crypt4gh-keygen writes them)",
            ));
        }
        if first != PUBLIC_BEGIN || last != PUBLIC_END {
            return Err(Crypt4ghError::key(format!(
                "not a Crypt4GH public key: expected the lines {PUBLIC_BEGIN} and {PUBLIC_END}"
            )));
        }
        let bytes = decode_base64(&lines[1..lines.len() - 1])?;
        let key: [u8; 32] = bytes.as_slice().try_into().map_err(|_| {
            Crypt4ghError::key(format!(
                "a public key has 32 bytes, this one has {}",
                bytes.len()
            ))
        })?;
        Ok(Self(key))
    }

    /// Reads a Crypt4GH public key file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, Crypt4ghError> {
        let path = path.as_ref();
        let text = read_key_file(path)?;
        Self::from_pem(&text).map_err(|e| e.in_file(path))
    }

    /// The key as a Crypt4GH public key file's text (Python's
    /// `crypt4gh-keygen` layout: one base64 line, trailing newline).
    pub fn to_pem(&self) -> String {
        format!(
            "{PUBLIC_BEGIN}\n{}\n{PUBLIC_END}\n",
            STANDARD.encode(self.0)
        )
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", STANDARD.encode(self.0))
    }
}

/// An X25519 secret key: a reader's long-term key, or a writer's key.
///
/// The bytes are wiped when the key is dropped and never printed.
#[derive(Clone)]
pub struct SecretKey(StaticSecret);

impl SecretKey {
    /// A new random key from the operating system's RNG.
    pub fn generate() -> Result<Self, Crypt4ghError> {
        let mut bytes = Zeroizing::new([0u8; 32]);
        random_bytes(bytes.as_mut())?;
        Ok(Self(StaticSecret::from(*bytes)))
    }

    /// The key from its 32 bytes (unclamped, as stored in a key file).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(StaticSecret::from(bytes))
    }

    /// The 32 bytes of the key, wiped when the returned value is dropped.
    pub fn to_bytes(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.0.to_bytes())
    }

    /// The matching public key.
    pub fn public_key(&self) -> PublicKey {
        PublicKey(x25519_dalek::PublicKey::from(&self.0).to_bytes())
    }

    /// X25519 with `their` public key; refuses the all-zero result (as
    /// libsodium's `crypto_scalarmult` does).
    pub(crate) fn diffie_hellman(
        &self,
        their: &PublicKey,
    ) -> Result<Zeroizing<[u8; 32]>, Crypt4ghError> {
        let shared = self
            .0
            .diffie_hellman(&x25519_dalek::PublicKey::from(their.0));
        if !shared.was_contributory() {
            return Err(Crypt4ghError::WeakPublicKey);
        }
        Ok(Zeroizing::new(shared.to_bytes()))
    }

    /// Parses a Crypt4GH private key file's text; `passphrase` unlocks an
    /// encrypted one and is ignored for an unencrypted one.
    pub fn from_pem(text: &str, passphrase: Option<&str>) -> Result<Self, Crypt4ghError> {
        let lines = pem_lines(text)?;
        let (first, last) = (lines[0], lines[lines.len() - 1]);
        if first.starts_with("-----BEGIN OPENSSH") {
            return Err(Crypt4ghError::key(
                "an OpenSSH private key: only Crypt4GH key files are supported (crypt4gh-keygen writes them)",
            ));
        }
        let crypt4gh_armour = |l: &str, start: &str| {
            l.starts_with(start) && l.contains("CRYPT4GH") && l.ends_with("PRIVATE KEY-----")
        };
        if !crypt4gh_armour(first, "-----BEGIN ") || !crypt4gh_armour(last, "-----END ") {
            return Err(Crypt4ghError::key(format!(
                "not a Crypt4GH private key: expected the lines {PRIVATE_BEGIN} and {PRIVATE_END}"
            )));
        }
        let blob = Zeroizing::new(decode_base64(&lines[1..lines.len() - 1])?);
        parse_private_blob(&blob, passphrase)
    }

    /// Reads a Crypt4GH private key file (see the module docs for the format).
    pub fn from_file(
        path: impl AsRef<Path>,
        passphrase: Option<&str>,
    ) -> Result<Self, Crypt4ghError> {
        let path = path.as_ref();
        let text = Zeroizing::new(read_key_file(path)?);
        Self::from_pem(&text, passphrase).map_err(|e| e.in_file(path))
    }

    /// The key as an unencrypted Crypt4GH private key file's text (kdf and
    /// cipher `none`, what `crypt4gh-keygen --nocrypt` writes).
    pub fn to_pem_unencrypted(&self) -> Zeroizing<String> {
        let mut blob = Zeroizing::new(Vec::with_capacity(64));
        blob.extend_from_slice(MAGIC);
        push_string(&mut blob, b"none");
        push_string(&mut blob, b"none");
        push_string(&mut blob, self.to_bytes().as_ref());
        Zeroizing::new(format!(
            "{PRIVATE_BEGIN}\n{}\n{PRIVATE_END}\n",
            Zeroizing::new(STANDARD.encode(blob.as_slice())).as_str()
        ))
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey(<redacted>, public {:?})", self.public_key())
    }
}

/// Writes `key` as an unencrypted Crypt4GH private key file that Python's
/// `crypt4gh` reads, readable and writable by the owner only (mode 0600 on
/// Unix, also when the file existed before with other permissions).
pub fn write_secret_key_file(path: impl AsRef<Path>, key: &SecretKey) -> Result<(), Crypt4ghError> {
    let path = path.as_ref();
    let pem = key.to_pem_unencrypted();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let context = || format!("writing the secret key file {}", path.display());
    let mut file = options
        .open(path)
        .map_err(|e| Crypt4ghError::io(context(), e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(|e| Crypt4ghError::io(context(), e))?;
    }
    file.write_all(pem.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| Crypt4ghError::io(context(), e))
}

/// Writes `key` as a Crypt4GH public key file.
pub fn write_public_key_file(path: impl AsRef<Path>, key: &PublicKey) -> Result<(), Crypt4ghError> {
    let path = path.as_ref();
    std::fs::write(path, key.to_pem()).map_err(|e| {
        Crypt4ghError::io(format!("writing the public key file {}", path.display()), e)
    })
}

fn read_key_file(path: &Path) -> Result<String, Crypt4ghError> {
    let meta = std::fs::metadata(path).map_err(|e| Crypt4ghError::io("reading the key file", e))?;
    if meta.len() > MAX_KEY_FILE {
        return Err(Crypt4ghError::key(format!(
            "{} bytes is too large for a key file (at most {MAX_KEY_FILE})",
            meta.len()
        )));
    }
    let bytes = std::fs::read(path).map_err(|e| Crypt4ghError::io("reading the key file", e))?;
    String::from_utf8(bytes).map_err(|e| {
        let mut bytes = e.into_bytes();
        bytes.zeroize();
        Crypt4ghError::key("the key file is not text (UTF-8)")
    })
}

/// The non-empty trimmed lines of a PEM text: at least the two armour lines.
fn pem_lines(text: &str) -> Result<Vec<&str>, Crypt4ghError> {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    if lines.len() < 2 {
        return Err(Crypt4ghError::key(
            "empty or not a PEM key (expected -----BEGIN ...----- and -----END ...----- lines)",
        ));
    }
    Ok(lines)
}

fn decode_base64(lines: &[&str]) -> Result<Vec<u8>, Crypt4ghError> {
    let joined = Zeroizing::new(lines.concat());
    STANDARD
        .decode(joined.as_bytes())
        .map_err(|_| Crypt4ghError::key("the key's base64 body is invalid"))
}

fn push_string(out: &mut Vec<u8>, s: &[u8]) {
    // Only called with fixed names and 32-byte keys: always fits two bytes.
    let len = u16::try_from(s.len()).unwrap_or(u16::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&s[..usize::from(len)]);
}

/// Reads one 2-byte-length-prefixed string of the private key blob.
fn take_string<'a>(blob: &mut &'a [u8], field: &str) -> Result<&'a [u8], Crypt4ghError> {
    let missing = || {
        Crypt4ghError::key(format!(
            "private key: the field `{field}` is missing or cut short"
        ))
    };
    let (len, rest) = blob.split_first_chunk::<2>().ok_or_else(missing)?;
    let len = usize::from(u16::from_be_bytes(*len));
    if rest.len() < len {
        return Err(missing());
    }
    let (s, rest) = rest.split_at(len);
    *blob = rest;
    Ok(s)
}

fn parse_private_blob(blob: &[u8], passphrase: Option<&str>) -> Result<SecretKey, Crypt4ghError> {
    let Some(mut rest) = blob.strip_prefix(MAGIC) else {
        return Err(Crypt4ghError::key(
            "private key: the body does not start with `c4gh-v1` (not a Crypt4GH key)",
        ));
    };
    let kdf = take_string(&mut rest, "kdf name")?;
    let kdf_options = if kdf == b"none" {
        None
    } else {
        Some(take_string(&mut rest, "kdf options")?)
    };
    let cipher = take_string(&mut rest, "cipher name")?;
    let material = take_string(&mut rest, "key material")?;
    // The optional comment that may follow is not needed.
    match (cipher, kdf_options) {
        (b"none", None) => {
            let bytes: [u8; 32] = material.try_into().map_err(|_| {
                Crypt4ghError::key(format!(
                    "private key: the secret key has {} bytes, 32 expected",
                    material.len()
                ))
            })?;
            Ok(SecretKey::from_bytes(bytes))
        }
        (b"none", Some(_)) => Err(Crypt4ghError::key(
            "private key: a key derivation function without a cipher",
        )),
        (b"chacha20_poly1305", Some(options)) => {
            let passphrase = passphrase.ok_or_else(|| {
                Crypt4ghError::key("the private key is locked with a passphrase and none was given")
            })?;
            let derived = derive_key(kdf, options, passphrase)?;
            unlock(material, &derived)
        }
        (b"chacha20_poly1305", None) => Err(Crypt4ghError::key(
            "private key: cipher chacha20_poly1305 with kdf none",
        )),
        (other, _) => Err(Crypt4ghError::key(format!(
            "private key: unsupported cipher `{}` (supported: none, chacha20_poly1305)",
            printable(other)
        ))),
    }
}

/// The 32-byte key-encryption key from the passphrase, as Python's `kdf.py`.
fn derive_key(
    kdf: &[u8],
    options: &[u8],
    passphrase: &str,
) -> Result<Zeroizing<[u8; 32]>, Crypt4ghError> {
    let (rounds, salt) = options.split_first_chunk::<4>().ok_or_else(|| {
        Crypt4ghError::key("private key: the kdf options are shorter than their 4-byte round count")
    })?;
    let rounds = u32::from_be_bytes(*rounds);
    let mut out = Zeroizing::new([0u8; 32]);
    let failed = |what: &str| Crypt4ghError::key(format!("private key: {what}"));
    match kdf {
        b"scrypt" => {
            let params = scrypt::Params::new(14, 8, 1, 32)
                .map_err(|_| failed("scrypt parameters refused"))?;
            scrypt::scrypt(passphrase.as_bytes(), salt, &params, out.as_mut())
                .map_err(|_| failed("scrypt failed"))?;
        }
        b"bcrypt" => {
            bcrypt_pbkdf::bcrypt_pbkdf(passphrase.as_bytes(), salt, rounds, out.as_mut()).map_err(
                |_| failed("bcrypt_pbkdf refused its parameters (empty salt or zero rounds)"),
            )?;
        }
        b"pbkdf2_hmac_sha256" => {
            if rounds == 0 {
                return Err(failed("pbkdf2 with zero rounds"));
            }
            pbkdf2::pbkdf2_hmac::<sha2::Sha256>(passphrase.as_bytes(), salt, rounds, out.as_mut());
        }
        other => {
            return Err(Crypt4ghError::key(format!(
                "private key: unsupported kdf `{}` (supported: none, scrypt, bcrypt, pbkdf2_hmac_sha256)",
                printable(other)
            )));
        }
    }
    Ok(out)
}

/// Opens the `chacha20_poly1305` key material (12-byte nonce, encrypted key, tag).
fn unlock(material: &[u8], derived: &[u8; 32]) -> Result<SecretKey, Crypt4ghError> {
    if material.len() != 12 + 32 + 16 {
        return Err(Crypt4ghError::key(format!(
            "private key: the encrypted key material has {} bytes, 60 expected",
            material.len()
        )));
    }
    let (nonce, rest) = material.split_at(12);
    let (ciphertext, tag) = rest.split_at(32);
    let mut key = Zeroizing::new([0u8; 32]);
    key.copy_from_slice(ciphertext);
    ChaCha20Poly1305::new(Key::from_slice(derived))
        .decrypt_in_place_detached(
            Nonce::from_slice(nonce),
            b"",
            key.as_mut(),
            Tag::from_slice(tag),
        )
        .map_err(|_| Crypt4ghError::key("wrong passphrase (or a corrupt private key file)"))?;
    Ok(SecretKey::from_bytes(*key))
}

/// A name from a key file, safe to print (ASCII graphic characters, at most 32).
fn printable(name: &[u8]) -> String {
    name.iter()
        .take(32)
        .map(|&b| {
            if b.is_ascii_graphic() {
                char::from(b)
            } else {
                '?'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_pem_round_trip_and_secret_debug_is_redacted() {
        let sk = SecretKey::generate().unwrap();
        let pk = sk.public_key();
        assert_eq!(PublicKey::from_pem(&pk.to_pem()).unwrap(), pk);
        let again = SecretKey::from_pem(&sk.to_pem_unencrypted(), None).unwrap();
        assert_eq!(again.to_bytes(), sk.to_bytes());
        let shown = format!("{sk:?}");
        assert!(shown.contains("redacted"));
        assert!(!shown.contains(&STANDARD.encode(*sk.to_bytes())));
    }

    #[test]
    fn key_files_have_owner_only_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key.sec");
        std::fs::write(&path, "old").unwrap();
        let sk = SecretKey::generate().unwrap();
        write_secret_key_file(&path, &sk).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let read = SecretKey::from_file(&path, None).unwrap();
        assert_eq!(read.public_key(), sk.public_key());
        let pub_path = dir.path().join("key.pub");
        write_public_key_file(&pub_path, &sk.public_key()).unwrap();
        assert_eq!(PublicKey::from_file(&pub_path).unwrap(), sk.public_key());
    }

    /// Builds a locked key the way Python's `encode_private_key` does.
    fn locked_pem(sk: &SecretKey, kdf: &[u8], rounds: u32, passphrase: &str) -> String {
        let salt = [7u8; 16];
        let mut options = rounds.to_be_bytes().to_vec();
        options.extend_from_slice(&salt);
        let derived = derive_key(kdf, &options, passphrase).unwrap();
        let nonce = [9u8; 12];
        let mut key = *sk.to_bytes();
        let tag = ChaCha20Poly1305::new(Key::from_slice(derived.as_ref()))
            .encrypt_in_place_detached(Nonce::from_slice(&nonce), b"", &mut key)
            .unwrap();
        let mut material = nonce.to_vec();
        material.extend_from_slice(&key);
        material.extend_from_slice(&tag);
        let mut blob = MAGIC.to_vec();
        push_string(&mut blob, kdf);
        push_string(&mut blob, &options);
        push_string(&mut blob, b"chacha20_poly1305");
        push_string(&mut blob, &material);
        push_string(&mut blob, b"a comment");
        format!(
            "{PRIVATE_BEGIN}\n{}\n{PRIVATE_END}\n",
            STANDARD.encode(blob)
        )
    }

    #[test]
    fn locked_keys_open_with_the_passphrase_only() {
        let sk = SecretKey::generate().unwrap();
        for (kdf, rounds) in [
            (&b"scrypt"[..], 0),
            (b"bcrypt", 4),
            (b"pbkdf2_hmac_sha256", 1000),
        ] {
            let pem = locked_pem(&sk, kdf, rounds, "correct horse");
            let open = SecretKey::from_pem(&pem, Some("correct horse")).unwrap();
            assert_eq!(open.public_key(), sk.public_key());
            let wrong = SecretKey::from_pem(&pem, Some("wrong")).unwrap_err();
            assert!(wrong.to_string().contains("wrong passphrase"), "{wrong}");
            let none = SecretKey::from_pem(&pem, None).unwrap_err();
            assert!(none.to_string().contains("passphrase"), "{none}");
        }
    }

    #[test]
    fn malformed_keys_are_refused_with_reasons() {
        let cases = [
            ("", "empty"),
            ("ssh-ed25519 AAAA x\nfoo", "OpenSSH"),
            (
                "-----BEGIN CRYPT4GH PUBLIC KEY-----\nAAAA\n-----END CRYPT4GH PUBLIC KEY-----",
                "32 bytes",
            ),
            (
                "-----BEGIN CRYPT4GH PUBLIC KEY-----\n!!\n-----END CRYPT4GH PUBLIC KEY-----",
                "base64",
            ),
        ];
        for (text, expected) in cases {
            let e = PublicKey::from_pem(text).unwrap_err().to_string();
            assert!(e.contains(expected), "{text:?}: {e}");
        }
        let body = STANDARD.encode(b"c4gh-v1\x00\x04none\x00\x04none\x00\x05abcde");
        let pem = format!("{PRIVATE_BEGIN}\n{body}\n{PRIVATE_END}");
        let e = SecretKey::from_pem(&pem, None).unwrap_err().to_string();
        assert!(e.contains("5 bytes"), "{e}");
        let body = STANDARD.encode(
            b"c4gh-v1\x00\x06argon2\x00\x04\x00\x00\x00\x00\x00\x11chacha20_poly1305\x00\x00",
        );
        let pem = format!("{PRIVATE_BEGIN}\n{body}\n{PRIVATE_END}");
        let e = SecretKey::from_pem(&pem, Some("x"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("unsupported kdf `argon2`"), "{e}");
    }
}
