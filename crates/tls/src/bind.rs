//! The rule that nothing leaves a host in the clear by accident.

use crate::TlsError;
use std::net::{IpAddr, SocketAddr};

/// Checks that a service may listen on `addr`.
///
/// Plain HTTP is allowed on loopback only. Any other address (including
/// `0.0.0.0` and `::`) needs TLS, or `insecure_http` for a deployment where a
/// TLS proxy terminates the connection in front of the service; that case is
/// logged as a warning at every start.
pub fn check_bind(addr: SocketAddr, tls: bool, insecure_http: bool) -> Result<(), TlsError> {
    if tls || addr.ip().is_loopback() {
        return Ok(());
    }
    if insecure_http {
        tracing::warn!(
            %addr,
            "SERVING PLAIN HTTP ON A NON-LOOPBACK ADDRESS (--insecure-http): tokens, identifying \
             data and results cross the network unencrypted unless a TLS proxy terminates in front"
        );
        return Ok(());
    }
    Err(TlsError::PlainHttpRefused { addr })
}

/// Checks that a client may call `url`: `https://` always, `http://` only to a
/// loopback host (`localhost`, `127.0.0.0/8`, `::1`) unless `insecure_http`.
pub fn check_client_url(url: &str, insecure_http: bool) -> Result<(), TlsError> {
    let parsed = reqwest::Url::parse(url)
        .map_err(|e| TlsError::Url(format!("{url:?} is not a URL: {e}")))?;
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if insecure_http || is_loopback_host(&parsed) => Ok(()),
        "http" => Err(TlsError::PlainUrlRefused {
            url: format!(
                "http://{}{}",
                parsed.host_str().unwrap_or(""),
                parsed.port().map(|p| format!(":{p}")).unwrap_or_default()
            ),
        }),
        other => Err(TlsError::Url(format!(
            "{url:?} uses scheme {other:?}; use https:// (or http:// on loopback)"
        ))),
    }
}

fn is_loopback_host(url: &reqwest::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_is_refused_beyond_loopback_unless_insecure() {
        let lo: SocketAddr = "127.0.0.1:8700".parse().unwrap();
        let lo6: SocketAddr = "[::1]:8700".parse().unwrap();
        let any: SocketAddr = "0.0.0.0:8700".parse().unwrap();
        let lan: SocketAddr = "10.1.2.3:8700".parse().unwrap();
        assert!(check_bind(lo, false, false).is_ok());
        assert!(check_bind(lo6, false, false).is_ok());
        for addr in [any, lan] {
            let err = check_bind(addr, false, false).unwrap_err();
            assert!(err.to_string().contains("--tls-cert"), "{err}");
            assert!(check_bind(addr, true, false).is_ok());
            assert!(check_bind(addr, false, true).is_ok());
        }
    }

    #[test]
    fn clients_refuse_plain_urls_to_other_hosts() {
        for ok in [
            "https://hub.example.org",
            "http://127.0.0.1:8710",
            "http://localhost:1",
            "http://[::1]:80/x",
        ] {
            assert!(check_client_url(ok, false).is_ok(), "{ok}");
        }
        for bad in [
            "http://10.0.0.1:8710",
            "http://trustee.example.org/v1",
            "http://0.0.0.0:1",
        ] {
            let err = check_client_url(bad, false).unwrap_err();
            assert!(
                matches!(err, TlsError::PlainUrlRefused { .. }),
                "{bad}: {err}"
            );
            assert!(check_client_url(bad, true).is_ok());
        }
        assert!(check_client_url("ftp://x", true).is_err());
        assert!(check_client_url("not a url", false).is_err());
        // Credentials in a URL never reach the error text.
        let err = check_client_url("http://user:secret@10.0.0.1/", false).unwrap_err();
        assert!(!err.to_string().contains("secret"));
    }
}
