//! Crypt4GH files (`oncofed-crypt4gh`): header parsing, decryption, header
//! re-encryption, and the encrypt→decrypt round trip with edit lists.
//!
//! The input is read three ways. Properties:
//! - as a whole Crypt4GH file: [`parse_header`] never panics and a parsed
//!   header re-serialises to exactly the bytes it was read from; [`decrypt`],
//!   the streaming [`Decryptor`] and [`reencrypt_header`] never panic, with the
//!   fixed reader key [`reader`] (the seeds in `fuzz/seeds/crypt4gh` are
//!   encrypted for it); `decrypt` and `Decryptor` agree; no error text contains
//!   the secret key (hex or base64);
//! - when that file decrypts and re-encrypts: the new recipient reads the same
//!   plaintext from the re-encrypted file, and the old reader no longer can;
//! - as plaintext with an edit list (first byte: number of lengths, 0 to 3,
//!   then 3 bytes per length): encrypting and decrypting returns exactly what
//!   [`apply_edit_list`] keeps, or an edit-list error when the list keeps
//!   bytes past the end.

use std::io::Read;

use oncofed_crypt4gh::{
    Crypt4ghError, Decryptor, PublicKey, SecretKey, apply_edit_list, decrypt, encrypt,
    parse_header, reencrypt_header,
};

/// The fixed reader key of the target (its seeds are encrypted for it):
/// 32 bytes of `0x42`.
pub fn reader() -> SecretKey {
    SecretKey::from_bytes([0x42; 32])
}

fn other() -> SecretKey {
    SecretKey::from_bytes([0x17; 32])
}

/// Runs every property of the module docs on `data`.
pub fn check(data: &[u8]) {
    check_file(data);
    check_round_trip(data);
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn assert_no_key(e: &Crypt4ghError, key: &SecretKey) {
    let text = e.to_string();
    let bytes = key.to_bytes();
    assert!(
        !text.contains(&hex(bytes.as_ref())),
        "error shows the key: {text}"
    );
    let debug = format!("{e:?}");
    assert!(
        !debug.contains(&hex(bytes.as_ref())),
        "error shows the key: {debug}"
    );
    assert!(text.len() <= 400, "error text of {} bytes", text.len());
}

fn check_file(data: &[u8]) {
    let mut rest = data;
    if let Ok(header) = parse_header(&mut rest) {
        let consumed = data.len() - rest.len();
        assert_eq!(
            header.to_bytes(),
            &data[..consumed],
            "header re-serialisation"
        );
        assert_eq!(header.encoded_len(), consumed);
    }
    let reader = reader();
    let mut plain = Vec::new();
    let whole = decrypt(data, &mut plain, &reader, None);
    if let Err(e) = &whole {
        assert_no_key(e, &reader);
    }
    // The streaming reader yields the same bytes and fails where decrypt does.
    let mut streamed = Vec::new();
    let stream = Decryptor::new(data, &reader, None)
        .map_err(|e| e.to_string())
        .and_then(|mut d| d.read_to_end(&mut streamed).map_err(|e| e.to_string()));
    match (&whole, &stream) {
        (Ok(_), Ok(_)) => assert_eq!(streamed, plain, "Decryptor and decrypt differ"),
        (Ok(_), Err(e)) => panic!("decrypt succeeded, Decryptor failed: {e}"),
        (Err(e), Ok(_)) => panic!("Decryptor succeeded, decrypt failed: {e}"),
        (Err(_), Err(_)) => assert_eq!(streamed, plain, "different bytes before the error"),
    }
    let other = other();
    let mut moved = Vec::new();
    match reencrypt_header(data, &mut moved, &reader, &[other.public_key()]) {
        Err(e) => assert_no_key(&e, &reader),
        Ok(_) => {
            if whole.is_ok() {
                let mut again = Vec::new();
                decrypt(moved.as_slice(), &mut again, &other, None)
                    .expect("the new recipient reads the re-encrypted file");
                assert_eq!(again, plain, "re-encryption changed the plaintext");
                assert!(
                    decrypt(moved.as_slice(), Vec::new(), &reader, None).is_err(),
                    "the old reader still opens the re-encrypted header"
                );
            }
        }
    }
}

fn check_round_trip(data: &[u8]) {
    let Some((&count, rest)) = data.split_first() else {
        return;
    };
    let count = usize::from(count % 4);
    if rest.len() < 3 * count {
        return;
    }
    let (lengths, plaintext) = rest.split_at(3 * count);
    let edits: Vec<u64> = lengths
        .chunks_exact(3)
        .map(|c| u64::from(c[0]) | u64::from(c[1]) << 8 | u64::from(c[2]) << 16)
        .collect();
    let edit_list = (!edits.is_empty()).then_some(edits.as_slice());
    let reader = reader();
    let recipients: [PublicKey; 2] = [reader.public_key(), other().public_key()];
    let mut file = Vec::new();
    encrypt(plaintext, &mut file, None, &recipients, edit_list).expect("encryption");
    let mut out = Vec::new();
    match decrypt(file.as_slice(), &mut out, &reader, None) {
        Ok(_) if edits.is_empty() => assert_eq!(out, plaintext, "round trip"),
        Ok(_) => assert_eq!(out, apply_edit_list(plaintext, &edits), "round trip"),
        Err(Crypt4ghError::EditList(_)) => assert!(
            kept_until(&edits) > plaintext.len() as u64,
            "edit list {edits:?} refused on {} bytes",
            plaintext.len()
        ),
        Err(e) => panic!("round trip failed: {e}"),
    }
}

/// Where the last non-empty keep of an edit list ends (0 when nothing is kept
/// before the final keep-to-the-end).
fn kept_until(edits: &[u64]) -> u64 {
    let mut pos = 0u64;
    let mut end = 0;
    for (i, &len) in edits.iter().enumerate() {
        pos = pos.saturating_add(len);
        if i % 2 == 1 && len > 0 {
            end = pos;
        }
    }
    end
}
