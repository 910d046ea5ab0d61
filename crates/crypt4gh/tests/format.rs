//! Round trips, recipients, edit lists, tampering, truncation and header
//! re-encryption through the public API.

use std::io::{Read, Write};

use oncofed_crypt4gh::{
    CIPHER_SEGMENT_SIZE, Crypt4ghError, Decryptor, Encryptor, PublicKey, SEGMENT_SIZE, SecretKey,
    apply_edit_list, decrypt, encrypt, parse_header, reencrypt_header,
};
use proptest::prelude::*;
use rand::{RngCore, SeedableRng};

const SIZES: [usize; 6] = [
    0,
    1,
    SEGMENT_SIZE - 1,
    SEGMENT_SIZE,
    SEGMENT_SIZE + 1,
    3 * SEGMENT_SIZE + 7,
];

fn plaintext(len: usize, seed: u64) -> Vec<u8> {
    let mut data = vec![0u8; len];
    rand_chacha::ChaCha8Rng::seed_from_u64(seed).fill_bytes(&mut data);
    data
}

fn key() -> SecretKey {
    SecretKey::generate().unwrap()
}

fn seal(data: &[u8], recipients: &[PublicKey], edits: Option<&[u64]>) -> Vec<u8> {
    let mut out = Vec::new();
    let n = encrypt(data, &mut out, None, recipients, edits).unwrap();
    assert_eq!(n, data.len() as u64);
    out
}

fn open(file: &[u8], reader: &SecretKey) -> Result<Vec<u8>, Crypt4ghError> {
    let mut out = Vec::new();
    let n = decrypt(file, &mut out, reader, None)?;
    assert_eq!(n, out.len() as u64);
    Ok(out)
}

fn header_len(file: &[u8]) -> usize {
    let mut cursor = file;
    parse_header(&mut cursor).unwrap().encoded_len()
}

#[test]
fn round_trip_at_segment_boundaries() {
    let reader = key();
    for (i, &len) in SIZES.iter().enumerate() {
        let data = plaintext(len, i as u64);
        let file = seal(&data, &[reader.public_key()], None);
        let segments = len.div_ceil(SEGMENT_SIZE);
        assert_eq!(
            file.len(),
            header_len(&file) + len + segments * 28,
            "size {len}"
        );
        assert_eq!(open(&file, &reader).unwrap(), data, "size {len}");
    }
}

#[test]
fn streaming_encryptor_and_decryptor_agree_with_the_functions() {
    let reader = key();
    for (i, &len) in SIZES.iter().enumerate() {
        let data = plaintext(len, 100 + i as u64);
        let mut enc = Encryptor::new(Vec::new(), &[reader.public_key()]).unwrap();
        for piece in data.chunks(9_999) {
            enc.write_all(piece).unwrap();
        }
        assert_eq!(enc.plaintext_len(), len as u64);
        let file = enc.finish().unwrap();
        assert_eq!(open(&file, &reader).unwrap(), data);
        let mut dec = Decryptor::new(file.as_slice(), &reader, None).unwrap();
        let mut back = Vec::new();
        let mut small = [0u8; 777];
        loop {
            let n = dec.read(&mut small).unwrap();
            if n == 0 {
                break;
            }
            back.extend_from_slice(&small[..n]);
        }
        assert_eq!(back, data, "size {len}");
    }
}

#[test]
fn every_recipient_decrypts_and_nobody_else() {
    let (a, b, outsider) = (key(), key(), key());
    let writer = key();
    let data = plaintext(2 * SEGMENT_SIZE + 5, 7);
    let mut file = Vec::new();
    encrypt(
        data.as_slice(),
        &mut file,
        Some(&writer),
        &[a.public_key(), b.public_key(), a.public_key()],
        None,
    )
    .unwrap();
    // One data-key packet per distinct recipient.
    assert_eq!(parse_header(&mut file.as_slice()).unwrap().packets.len(), 2);
    assert_eq!(open(&file, &a).unwrap(), data);
    assert_eq!(open(&file, &b).unwrap(), data);
    let e = open(&file, &outsider).unwrap_err();
    assert!(
        matches!(
            e,
            Crypt4ghError::NotARecipient {
                sender_checked: false
            }
        ),
        "{e}"
    );
    // The writer's key can be checked as the sender.
    let mut out = Vec::new();
    decrypt(file.as_slice(), &mut out, &a, Some(&writer.public_key())).unwrap();
    assert_eq!(out, data);
    let e = decrypt(
        file.as_slice(),
        Vec::new(),
        &a,
        Some(&outsider.public_key()),
    )
    .unwrap_err();
    assert!(e.to_string().contains("expected sender"), "{e}");
}

#[test]
fn edit_lists_keep_exactly_the_bytes_the_spec_says() {
    let reader = key();
    let data = plaintext(3 * SEGMENT_SIZE + 7, 11);
    let s = SEGMENT_SIZE as u64;
    let cases: Vec<(Vec<u64>, Vec<u8>)> = vec![
        // skip 10, keep 20: bytes 10..30
        (vec![10, 20], data[10..30].to_vec()),
        // odd list: skip 100, then keep to the end
        (vec![100], data[100..].to_vec()),
        // a keep across a segment boundary
        (
            vec![s - 3, 6],
            data[SEGMENT_SIZE - 3..SEGMENT_SIZE + 3].to_vec(),
        ),
        // two ranges, the second in the last segment, keep-to-end after a skip
        (
            vec![0, 5, 2 * s, 1, 3],
            [
                &data[0..5],
                &data[2 * SEGMENT_SIZE + 5..2 * SEGMENT_SIZE + 6],
                &data[2 * SEGMENT_SIZE + 9..],
            ]
            .concat(),
        ),
        // whole segments skipped
        (
            vec![2 * s + 1, 2],
            data[2 * SEGMENT_SIZE + 1..2 * SEGMENT_SIZE + 3].to_vec(),
        ),
        // zero lengths are allowed
        (vec![0, 0, 4, 0, 0], data[4..].to_vec()),
    ];
    for (edits, expected) in cases {
        assert_eq!(
            apply_edit_list(&data, &edits),
            expected,
            "reference {edits:?}"
        );
        let file = seal(&data, &[reader.public_key()], Some(&edits));
        assert_eq!(open(&file, &reader).unwrap(), expected, "{edits:?}");
        let dec = Decryptor::new(file.as_slice(), &reader, None).unwrap();
        assert_eq!(dec.edit_list(), Some(edits.as_slice()));
    }
    // An edit list that keeps bytes past the end is refused at the end.
    let file = seal(&data[..100], &[reader.public_key()], Some(&[50, 100]));
    let e = open(&file, &reader).unwrap_err();
    assert!(e.to_string().contains("edit list"), "{e}");
    let e = encrypt(
        &data[..1],
        Vec::new(),
        None,
        &[reader.public_key()],
        Some(&[]),
    )
    .unwrap_err();
    assert!(matches!(e, Crypt4ghError::EditList(_)), "{e}");
}

#[test]
fn a_flipped_byte_in_any_segment_is_refused_and_nothing_of_it_is_written() {
    let reader = key();
    let data = plaintext(3 * SEGMENT_SIZE + 7, 13);
    let file = seal(&data, &[reader.public_key()], None);
    let start = header_len(&file);
    for segment in 0..4usize {
        let seg_start = start + segment * CIPHER_SEGMENT_SIZE;
        let seg_end = (seg_start + CIPHER_SEGMENT_SIZE).min(file.len());
        // nonce, first ciphertext byte, last ciphertext byte, MAC
        for pos in [seg_start, seg_start + 12, seg_end - 17, seg_end - 1] {
            let mut bad = file.clone();
            bad[pos] ^= 0x01;
            let mut out = Vec::new();
            let e = decrypt(bad.as_slice(), &mut out, &reader, None).unwrap_err();
            assert!(
                matches!(e, Crypt4ghError::SegmentAuthentication { index } if index == segment as u64),
                "byte {pos}: {e}"
            );
            assert!(e.to_string().contains(&format!("segment {segment}")), "{e}");
            assert_eq!(
                out,
                data[..segment * SEGMENT_SIZE],
                "only earlier segments written"
            );
        }
    }
}

#[test]
fn a_flipped_byte_anywhere_in_the_header_is_refused() {
    let reader = key();
    for len in [0, 1000] {
        let data = plaintext(len, 17);
        let file = seal(&data, &[reader.public_key()], None);
        for pos in 0..header_len(&file) {
            for bit in [0x01, 0x80] {
                let mut bad = file.clone();
                bad[pos] ^= bit;
                assert!(
                    open(&bad, &reader).is_err(),
                    "header byte {pos} flipped ({bit:#x}) still opens (size {len})"
                );
            }
        }
    }
}

/// The format's limit: a reader cannot tell its own corrupted packet from a
/// packet for another reader, so a corrupted edit-list packet is skipped and
/// the whole plaintext comes out. Every other flip is refused.
#[test]
fn a_flipped_header_byte_with_an_edit_list_is_refused_or_drops_the_edit_list() {
    let reader = key();
    let data = plaintext(1000, 29);
    let file = seal(&data, &[reader.public_key()], Some(&[1, 998]));
    let mut dropped = 0;
    for pos in 0..header_len(&file) {
        let mut bad = file.clone();
        bad[pos] ^= 0x01;
        match open(&bad, &reader) {
            Err(_) => {}
            Ok(out) => {
                assert_eq!(
                    out, data,
                    "byte {pos}: only the unedited plaintext may come out"
                );
                dropped += 1;
            }
        }
    }
    // Only flips in the edit list packet's method, writer key, nonce, payload and MAC.
    assert!(
        dropped > 0 && dropped <= 4 + 32 + 12 + 4 + 4 + 16 + 16,
        "{dropped}"
    );
}

#[test]
fn truncated_files_are_refused_except_at_a_segment_boundary() {
    let reader = key();
    let data = plaintext(SEGMENT_SIZE + 100, 19);
    let file = seal(&data, &[reader.public_key()], None);
    let header = header_len(&file);
    let boundaries = [header, header + CIPHER_SEGMENT_SIZE];
    for cut in (0..file.len())
        .step_by(97)
        .chain([header + 28, file.len() - 1])
    {
        let result = open(&file[..cut], &reader);
        if boundaries.contains(&cut) {
            // Crypt4GH has no end marker: a cut at a segment boundary is a prefix.
            let prefix = (cut - header) / CIPHER_SEGMENT_SIZE * SEGMENT_SIZE;
            assert_eq!(result.unwrap(), data[..prefix]);
        } else {
            assert!(result.is_err(), "cut at {cut} of {} accepted", file.len());
        }
    }
    // With an edit list that keeps to a known end, a cut at a boundary shows too.
    let file = seal(&data, &[reader.public_key()], Some(&[0, data.len() as u64]));
    let header = header_len(&file);
    let e = open(&file[..header + CIPHER_SEGMENT_SIZE], &reader).unwrap_err();
    assert!(matches!(e, Crypt4ghError::EditList(_)), "{e}");
}

#[test]
fn header_reencryption_hands_the_file_to_new_readers_only() {
    let (site, researcher, other) = (key(), key(), key());
    let data = plaintext(2 * SEGMENT_SIZE + 3, 23);
    let edits = [5u64, 70_000, 10];
    let file = seal(
        &data,
        &[site.public_key(), other.public_key()],
        Some(&edits),
    );
    let mut delivered = Vec::new();
    let copied = reencrypt_header(
        file.as_slice(),
        &mut delivered,
        &site,
        &[researcher.public_key()],
    )
    .unwrap();
    let (old_h, new_h) = (header_len(&file), header_len(&delivered));
    assert_eq!(copied as usize, file.len() - old_h);
    assert_eq!(
        &delivered[new_h..],
        &file[old_h..],
        "data segments unchanged"
    );
    assert_eq!(
        open(&delivered, &researcher).unwrap(),
        apply_edit_list(&data, &edits)
    );
    for old in [&site, &other] {
        assert!(matches!(
            open(&delivered, old).unwrap_err(),
            Crypt4ghError::NotARecipient { .. }
        ));
    }
    // The site's key is the writer of the new packets.
    decrypt(
        delivered.as_slice(),
        Vec::new(),
        &researcher,
        Some(&site.public_key()),
    )
    .unwrap();
    // A key that cannot open the header cannot re-encrypt it.
    let e = reencrypt_header(
        file.as_slice(),
        Vec::new(),
        &researcher,
        &[researcher.public_key()],
    )
    .unwrap_err();
    assert!(matches!(e, Crypt4ghError::NotARecipient { .. }), "{e}");
}

#[test]
fn no_recipients_and_not_crypt4gh_are_clear_errors() {
    let e = encrypt(&b"x"[..], Vec::new(), None, &[], None).unwrap_err();
    assert!(matches!(e, Crypt4ghError::NoRecipients));
    let e = open(b"crypt4gi\x01\0\0\0\x01\0\0\0", &key()).unwrap_err();
    assert!(matches!(e, Crypt4ghError::NotCrypt4gh));
    let e = open(b"crypt4gh\x02\0\0\0\x01\0\0\0", &key()).unwrap_err();
    assert!(matches!(e, Crypt4ghError::UnsupportedVersion(2)));
    let e = open(b"crypt4gh\x01\0\0\0\xff\xff\xff\xff", &key()).unwrap_err();
    assert!(e.to_string().contains("packets"), "{e}");
}

/// Writes in the chunk sizes `cuts` gives, cycling.
fn encrypt_in_pieces(
    data: &[u8],
    to: &SecretKey,
    edits: Option<&[u64]>,
    cuts: &[usize],
) -> Vec<u8> {
    let mut enc = Encryptor::with_options(Vec::new(), None, &[to.public_key()], edits).unwrap();
    let mut rest = data;
    for &cut in cuts.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (piece, tail) = rest.split_at(cut.min(rest.len()));
        enc.write_all(piece).unwrap();
        rest = tail;
    }
    enc.finish().unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn any_size_and_edit_list_round_trips(
        len in 0usize..(3 * SEGMENT_SIZE + 100),
        seed in any::<u64>(),
        edits in proptest::option::of(proptest::collection::vec(0u64..80_000, 1..6)),
        cuts in proptest::collection::vec(1usize..100_000, 1..4),
    ) {
        let reader = key();
        let data = plaintext(len, seed);
        let file = encrypt_in_pieces(&data, &reader, edits.as_deref(), &cuts);
        let expected = match &edits {
            Some(e) => apply_edit_list(&data, e),
            None => data.clone(),
        };
        match open(&file, &reader) {
            Ok(out) => prop_assert_eq!(out, expected),
            // Only an edit list reaching past the data may fail.
            Err(Crypt4ghError::EditList(_)) => {
                let e = edits.unwrap();
                let needed: u64 = if e.len() % 2 == 0 { e.iter().sum() } else { e[..e.len() - 1].iter().sum() };
                prop_assert!(needed > len as u64);
            }
            Err(other) => prop_assert!(false, "{}", other),
        }
    }

    #[test]
    fn arbitrary_bytes_after_a_valid_header_never_panic(
        tail in proptest::collection::vec(any::<u8>(), 0..300),
        cut in 0usize..400,
    ) {
        let reader = key();
        let file = seal(b"hello", &[reader.public_key()], None);
        let header = header_len(&file);
        let mut bad = file[..header + cut.min(file.len() - header)].to_vec();
        bad.extend_from_slice(&tail);
        let _ = open(&bad, &reader);
        let _ = open(&tail, &reader);
        let _ = reencrypt_header(bad.as_slice(), Vec::new(), &reader, &[reader.public_key()]);
    }
}

/// A writer that fails once `limit` bytes have been written.
struct FailAfter {
    written: usize,
    limit: usize,
}

impl Write for FailAfter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.written + buf.len() > self.limit {
            return Err(std::io::Error::other("disk full"));
        }
        self.written += buf.len();
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_failing_output_poisons_the_encryptor_and_names_the_segment() {
    let reader = key();
    let data = plaintext(3 * SEGMENT_SIZE, 31);
    let out = FailAfter {
        written: 0,
        limit: 2 * CIPHER_SEGMENT_SIZE,
    };
    let mut enc = Encryptor::new(out, &[reader.public_key()]).unwrap();
    let e = enc.write_all(&data).unwrap_err();
    let inner = e.into_inner().unwrap().downcast::<Crypt4ghError>().unwrap();
    assert!(inner.to_string().contains("writing segment 1"), "{inner}");
    assert!(
        enc.write(b"more").is_err(),
        "a failed encryptor refuses more data"
    );
    assert!(matches!(enc.finish(), Err(Crypt4ghError::Poisoned)));
}

#[test]
fn the_decryptor_reports_a_tampered_segment_as_a_crypt4gh_error() {
    let reader = key();
    let data = plaintext(2 * SEGMENT_SIZE, 37);
    let mut file = seal(&data, &[reader.public_key()], None);
    let last = file.len() - 1;
    file[last] ^= 1;
    let mut dec = Decryptor::new(file.as_slice(), &reader, None).unwrap();
    let mut out = Vec::new();
    let e = dec.read_to_end(&mut out).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidData);
    let inner = e.into_inner().unwrap().downcast::<Crypt4ghError>().unwrap();
    assert!(matches!(
        *inner,
        Crypt4ghError::SegmentAuthentication { index: 1 }
    ));
    assert_eq!(out, data[..SEGMENT_SIZE]);
}
