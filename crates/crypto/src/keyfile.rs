//! Loading and creating the secret key file.

use crate::error::{CryptoError, Result};
use crate::keys::SigningKeyPair;
use std::fs;
use std::io::{self, Write as _};
use std::path::Path;

/// See [`SigningKeyPair::load_or_create`].
pub(crate) fn load_or_create(path: &Path) -> Result<SigningKeyPair> {
    match fs::metadata(path) {
        Ok(_) => load(path),
        Err(e) if e.kind() == io::ErrorKind::NotFound => match create(path) {
            Ok(key) => Ok(key),
            // Another process created it between our check and our create.
            Err(CryptoError::KeyFileWrite { source, .. })
                if source.kind() == io::ErrorKind::AlreadyExists =>
            {
                load(path)
            }
            Err(e) => Err(e),
        },
        Err(source) => Err(CryptoError::KeyFileRead {
            path: path.to_owned(),
            source,
        }),
    }
}

fn load(path: &Path) -> Result<SigningKeyPair> {
    let read_err = |source| CryptoError::KeyFileRead {
        path: path.to_owned(),
        source,
    };
    let file = fs::File::open(path).map_err(read_err)?;
    check_permissions(path, &file.metadata().map_err(read_err)?)?;
    let mut bytes = Vec::with_capacity(65);
    io::Read::read_to_end(&mut io::Read::take(&file, 1024), &mut bytes).map_err(read_err)?;
    let secret = parse_secret(&bytes).ok_or_else(|| CryptoError::KeyFileFormat {
        path: path.to_owned(),
    });
    Ok(SigningKeyPair::from_secret_bytes(&secret?))
}

/// 32 raw bytes, or 64 hex digits with optional surrounding whitespace.
fn parse_secret(bytes: &[u8]) -> Option<[u8; 32]> {
    if let Ok(raw) = <[u8; 32]>::try_from(bytes) {
        return Some(raw);
    }
    let text = std::str::from_utf8(bytes).ok()?.trim();
    let mut secret = [0u8; 32];
    hex::decode_to_slice(text, &mut secret).ok()?;
    Some(secret)
}

fn create(path: &Path) -> Result<SigningKeyPair> {
    let write_err = |source| CryptoError::KeyFileWrite {
        path: path.to_owned(),
        source,
    };
    let key = SigningKeyPair::generate();
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(write_err)?;
    let written = file
        .write_all(format!("{}\n", hex::encode(key.secret_bytes())).as_bytes())
        .and_then(|()| file.sync_all());
    if let Err(source) = written {
        // Leave no half-written key behind to be "loaded" next time.
        drop(file);
        let _ = fs::remove_file(path);
        return Err(write_err(source));
    }
    Ok(key)
}

#[cfg(unix)]
fn check_permissions(path: &Path, meta: &fs::Metadata) -> Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(CryptoError::KeyFilePermissions {
            path: path.to_owned(),
            mode,
        });
    }
    Ok(())
}

/// Windows ACLs are not inspected; protect the file with the directory's ACL.
#[cfg(not(unix))]
fn check_permissions(_path: &Path, _meta: &fs::Metadata) -> Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse_secret;

    #[test]
    fn secret_formats() {
        assert_eq!(parse_secret(&[7u8; 32]), Some([7u8; 32]));
        let hex = format!("  {}\n", "ab".repeat(32));
        assert_eq!(parse_secret(hex.as_bytes()), Some([0xab; 32]));
        assert_eq!(parse_secret(b"abcd"), None);
        assert_eq!(parse_secret(&[0xff; 64]), None);
        assert_eq!(parse_secret("zz".repeat(32).as_bytes()), None);
    }
}
