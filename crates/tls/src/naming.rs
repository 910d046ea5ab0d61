//! How a federation certificate names who holds it.
//!
//! A site's client certificate carries the URI subject-alternative name
//! `urn:oncofed:site:<site id>`; a service certificate carries
//! `urn:oncofed:service:<role>` beside its DNS names and IP addresses. The CA
//! vouches for the name; the trust centre and hub then require that the site a
//! request authenticates as (by bearer token or request signature) is the site
//! the certificate names, so a stolen token or key is not enough without the
//! site's certificate, and one site's certificate cannot speak for another.

/// URI prefix of a site's certificate name.
pub const SITE_URI_PREFIX: &str = "urn:oncofed:site:";

/// URI prefix of a service's certificate name.
pub const SERVICE_URI_PREFIX: &str = "urn:oncofed:service:";

/// The URI naming site `site` in its certificate.
pub fn site_uri(site: &str) -> String {
    format!("{SITE_URI_PREFIX}{site}")
}

/// The URI naming a service role (`trustee`, `hub`, `node`) in its certificate.
pub fn service_uri(role: &str) -> String {
    format!("{SERVICE_URI_PREFIX}{role}")
}

/// The site ids named by a list of certificate URIs (usually zero or one).
pub fn sites_named<'a>(uris: &'a [String]) -> impl Iterator<Item = &'a str> + 'a {
    uris.iter()
        .filter_map(|uri| uri.strip_prefix(SITE_URI_PREFIX))
        .filter(|id| !id.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_site_uri_round_trips_and_other_uris_name_no_site() {
        let uris = vec![
            site_uri("uk-essen"),
            service_uri("hub"),
            "urn:oncofed:site:".to_owned(),
            "https://example.org".to_owned(),
        ];
        assert_eq!(sites_named(&uris).collect::<Vec<_>>(), ["uk-essen"]);
    }
}
