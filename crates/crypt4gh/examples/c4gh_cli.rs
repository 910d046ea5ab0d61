//! A minimal command line over the crate (used by hand against the Python
//! `crypt4gh` tool): `keygen SK PK`, `encrypt SK_OR_- PK... < in > out`,
//! `decrypt SK < in > out`, `reencrypt SK PK... < in > out`.

use std::io::{stdin, stdout};

use oncofed_crypt4gh::{
    PublicKey, SecretKey, decrypt, encrypt, reencrypt_header, write_public_key_file,
    write_secret_key_file,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let recipients = |from: usize| -> Result<Vec<PublicKey>, oncofed_crypt4gh::Crypt4ghError> {
        args[from..].iter().map(PublicKey::from_file).collect()
    };
    match args.first().map(String::as_str) {
        Some("keygen") if args.len() == 3 => {
            let sk = SecretKey::generate()?;
            write_secret_key_file(&args[1], &sk)?;
            write_public_key_file(&args[2], &sk.public_key())?;
        }
        Some("encrypt") if args.len() >= 3 => {
            let writer = match args[1].as_str() {
                "-" => None,
                path => Some(SecretKey::from_file(path, None)?),
            };
            encrypt(
                stdin().lock(),
                stdout().lock(),
                writer.as_ref(),
                &recipients(2)?,
                None,
            )?;
        }
        Some("decrypt") if args.len() == 2 => {
            let sk = SecretKey::from_file(&args[1], None)?;
            decrypt(stdin().lock(), stdout().lock(), &sk, None)?;
        }
        Some("reencrypt") if args.len() >= 3 => {
            let sk = SecretKey::from_file(&args[1], None)?;
            reencrypt_header(stdin().lock(), stdout().lock(), &sk, &recipients(2)?)?;
        }
        _ => {
            return Err(
                "usage: keygen SK PK | encrypt SK|- PK... | decrypt SK | reencrypt SK PK...".into(),
            );
        }
    }
    Ok(())
}
