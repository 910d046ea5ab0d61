//! A small federation CA for a pilot: one CA, a certificate per service, one per
//! site (`oncofed pki`).
//!
//! A production federation would use the institutions' own PKI (e.g. DFN-PKI)
//! or an ACME CA for server certificates; what matters to OncoFed is only that
//! the trust centre and hub are given the CA that signs site certificates, and
//! that site certificates name their site (see [`crate::naming`]). Keys are ECDSA
//! P-256, written with mode 0600 next to their certificates.
//!
//! Layout of a PKI directory: `ca.pem`, `ca.key`, `ca.name` (the CA's common
//! name, needed to issue more certificates later), and `<stem>.pem` /
//! `<stem>.key` per issued certificate.

use crate::TlsError;
use crate::naming::{service_uri, site_uri};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};
use std::path::{Path, PathBuf};

/// A certificate and its key, in PEM.
pub struct Issued {
    /// The certificate.
    pub cert_pem: String,
    /// The private key (PKCS#8).
    pub key_pem: String,
}

impl std::fmt::Debug for Issued {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Issued")
            .field("key_pem", &"<redacted>")
            .finish_non_exhaustive()
    }
}

/// The federation CA: its key and the parameters it signs with.
pub struct CertificateAuthority {
    issuer: Issuer<'static, KeyPair>,
    cert_pem: String,
}

impl std::fmt::Debug for CertificateAuthority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertificateAuthority")
            .finish_non_exhaustive()
    }
}

fn issue_err(e: rcgen::Error) -> TlsError {
    TlsError::Issue(e.to_string())
}

fn validity(params: &mut CertificateParams, days: u32) {
    let now = time::OffsetDateTime::now_utc();
    // An hour back, so a peer whose clock is slightly behind accepts it at once.
    params.not_before = now - time::Duration::hours(1);
    params.not_after = now + time::Duration::days(i64::from(days));
}

fn ca_params(common_name: &str, days: u32) -> CertificateParams {
    let mut params = CertificateParams::default();
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    params
        .distinguished_name
        .push(DnType::OrganizationName, "OncoFed federation");
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    validity(&mut params, days);
    params
}

impl CertificateAuthority {
    /// Creates a new CA valid for `days`.
    pub fn create(common_name: &str, days: u32) -> Result<Self, TlsError> {
        let key = KeyPair::generate().map_err(issue_err)?;
        let params = ca_params(common_name, days);
        let cert = params.self_signed(&key).map_err(issue_err)?;
        Ok(Self {
            cert_pem: cert.pem(),
            issuer: Issuer::new(params, key),
        })
    }

    /// Loads a CA written by [`CertificateAuthority::write`] to issue more
    /// certificates (e.g. for a site that joins later).
    pub fn load(dir: &Path) -> Result<Self, TlsError> {
        let read = |name: &str| {
            let path = dir.join(name);
            std::fs::read_to_string(&path).map_err(|e| {
                TlsError::file(
                    &path,
                    format!(
                        "cannot be read: {e}; is {} a PKI directory made by `oncofed pki init`?",
                        dir.display()
                    ),
                )
            })
        };
        let key_pem = read("ca.key")?;
        let name = read("ca.name")?;
        let cert_pem = read("ca.pem")?;
        let key = KeyPair::from_pem(&key_pem)
            .map_err(|e| TlsError::file(&dir.join("ca.key"), format!("not a CA key: {e}")))?;
        // The issuer's name and key identifier come from the name and the key;
        // the validity is not part of what a leaf refers to.
        let params = ca_params(name.trim(), 1);
        Ok(Self {
            cert_pem,
            issuer: Issuer::new(params, key),
        })
    }

    /// The CA certificate (PEM): the bundle every client and mTLS server trusts.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// Writes `ca.pem`, `ca.key` (0600) and `ca.name` into `dir`.
    pub fn write(&self, dir: &Path, common_name: &str) -> Result<(), TlsError> {
        write_file(&dir.join("ca.pem"), &self.cert_pem, false)?;
        write_file(
            &dir.join("ca.key"),
            &self.issuer.key().serialize_pem(),
            true,
        )?;
        write_file(&dir.join("ca.name"), common_name, false)
    }

    /// A server certificate for service `role` (`trustee`, `hub`, `node`),
    /// valid for the given host names and IP addresses.
    pub fn issue_service(
        &self,
        role: &str,
        hosts: &[String],
        days: u32,
    ) -> Result<Issued, TlsError> {
        let mut params = CertificateParams::new(hosts.to_vec()).map_err(issue_err)?;
        params
            .distinguished_name
            .push(DnType::CommonName, format!("OncoFed {role}"));
        params.subject_alt_names.push(SanType::URI(
            service_uri(role).try_into().map_err(issue_err)?,
        ));
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        self.sign(params, days)
    }

    /// A client certificate naming site `site` (`urn:oncofed:site:<site>`), which
    /// the trust centre and hub bind to the site's registered token and key.
    pub fn issue_site(&self, site: &str, days: u32) -> Result<Issued, TlsError> {
        let mut params = CertificateParams::default();
        params
            .distinguished_name
            .push(DnType::CommonName, format!("OncoFed site {site}"));
        params.subject_alt_names =
            vec![SanType::URI(site_uri(site).try_into().map_err(issue_err)?)];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        self.sign(params, days)
    }

    fn sign(&self, mut params: CertificateParams, days: u32) -> Result<Issued, TlsError> {
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.use_authority_key_identifier_extension = true;
        validity(&mut params, days);
        let key = KeyPair::generate().map_err(issue_err)?;
        let cert = params.signed_by(&key, &self.issuer).map_err(issue_err)?;
        Ok(Issued {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }
}

/// Writes `<stem>.pem` and `<stem>.key` (0600) into `dir`; returns both paths.
pub fn write_issued(
    dir: &Path,
    stem: &str,
    issued: &Issued,
) -> Result<(PathBuf, PathBuf), TlsError> {
    let cert = dir.join(format!("{stem}.pem"));
    let key = dir.join(format!("{stem}.key"));
    write_file(&cert, &issued.cert_pem, false)?;
    write_file(&key, &issued.key_pem, true)?;
    Ok((cert, key))
}

fn write_file(path: &Path, contents: &str, secret: bool) -> Result<(), TlsError> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(if secret { 0o600 } else { 0o644 });
    }
    let mut file = options
        .open(path)
        .map_err(|e| TlsError::file(path, format!("cannot be written: {e}")))?;
    file.write_all(contents.as_bytes())
        .map_err(|e| TlsError::file(path, format!("cannot be written: {e}")))
}

/// One certificate a [`init_dir`] wrote.
#[derive(Debug, Clone)]
pub struct WrittenCert {
    /// What it is for, in words.
    pub kind: String,
    /// The certificate file.
    pub cert: PathBuf,
    /// Its key file (mode 0600).
    pub key: PathBuf,
}

/// Creates a pilot PKI in `dir` (which must not hold a CA yet): the CA, server
/// certificates `trustee`, `hub` and `node` for `hosts`, and a client
/// certificate `site-<id>` per site. What `oncofed pki init` does.
pub fn init_dir(
    dir: &Path,
    ca_name: &str,
    hosts: &[String],
    sites: &[&str],
    days: u32,
) -> Result<Vec<WrittenCert>, TlsError> {
    if dir.join("ca.key").exists() {
        return Err(TlsError::file(
            dir,
            "already holds a CA; issue more certificates with `oncofed pki site` or `oncofed pki service`",
        ));
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(dir)
        .map_err(|e| TlsError::file(dir, format!("cannot be created: {e}")))?;
    let ca = CertificateAuthority::create(ca_name, days)?;
    ca.write(dir, ca_name)?;
    let mut written = Vec::new();
    for role in ["trustee", "hub", "node"] {
        let (cert, key) = write_issued(dir, role, &ca.issue_service(role, hosts, days)?)?;
        let kind = format!("server certificate of the {role} for {}", hosts.join(", "));
        written.push(WrittenCert { kind, cert, key });
    }
    for site in sites {
        let (cert, key) = write_issued(dir, &format!("site-{site}"), &ca.issue_site(site, days)?)?;
        let kind = format!("client certificate of site {site}");
        written.push(WrittenCert { kind, cert, key });
    }
    Ok(written)
}
