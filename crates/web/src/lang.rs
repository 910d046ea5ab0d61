//! The page language: German by default (the seed's patients and staff),
//! English for the European research community.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use std::convert::Infallible;

/// Name of the cookie that keeps a chosen language across pages.
pub(crate) const LANG_COOKIE: &str = "oncofed_lang";

/// The language a page is rendered in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    /// Deutsch (default).
    #[default]
    De,
    /// English.
    En,
}

impl Lang {
    /// The text for this language: every user-facing string exists in both.
    pub fn pick<'a>(self, de: &'a str, en: &'a str) -> &'a str {
        match self {
            Self::De => de,
            Self::En => en,
        }
    }

    /// The BCP 47 code for `<html lang>` and links (`de`, `en`).
    pub fn code(self) -> &'static str {
        match self {
            Self::De => "de",
            Self::En => "en",
        }
    }

    /// The other language, for the switch in the header.
    pub fn other(self) -> Self {
        match self {
            Self::De => Self::En,
            Self::En => Self::De,
        }
    }

    /// Parses `de`/`en` (and regional forms such as `en-GB`).
    pub fn parse(code: &str) -> Option<Self> {
        let primary = code
            .trim()
            .split(['-', '_', ';'])
            .next()?
            .to_ascii_lowercase();
        match primary.as_str() {
            "de" => Some(Self::De),
            "en" => Some(Self::En),
            _ => None,
        }
    }

    /// The language of a request: `?lang=`, then the cookie, then the first
    /// supported entry of `Accept-Language`, else German.
    pub fn of_request(parts: &Parts) -> Self {
        if let Some(query) = parts.uri.query() {
            for pair in query.split('&') {
                if let Some(v) = pair.strip_prefix("lang=")
                    && let Some(lang) = Self::parse(v)
                {
                    return lang;
                }
            }
        }
        for header in parts.headers.get_all(axum::http::header::COOKIE) {
            let Ok(text) = header.to_str() else { continue };
            for cookie in text.split(';') {
                if let Some((name, value)) = cookie.trim().split_once('=')
                    && name == LANG_COOKIE
                    && let Some(lang) = Self::parse(value)
                {
                    return lang;
                }
            }
        }
        if let Some(accept) = parts.headers.get(axum::http::header::ACCEPT_LANGUAGE)
            && let Ok(text) = accept.to_str()
        {
            for entry in text.split(',') {
                if let Some(lang) = Self::parse(entry) {
                    return lang;
                }
            }
        }
        Self::De
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Lang {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Infallible> {
        Ok(Self::of_request(parts))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Request;

    fn parts(uri: &str, headers: &[(&str, &str)]) -> Parts {
        let mut builder = Request::builder().uri(uri);
        for (k, v) in headers {
            builder = builder.header(*k, *v);
        }
        builder.body(()).unwrap().into_parts().0
    }

    #[test]
    fn query_beats_cookie_beats_accept_language() {
        let p = parts(
            "/x?a=1&lang=en",
            &[("cookie", "oncofed_lang=de"), ("accept-language", "de")],
        );
        assert_eq!(Lang::of_request(&p), Lang::En);
        let p = parts(
            "/x",
            &[
                ("cookie", "a=b; oncofed_lang=en"),
                ("accept-language", "de"),
            ],
        );
        assert_eq!(Lang::of_request(&p), Lang::En);
        let p = parts("/x", &[("accept-language", "fr-FR, en-GB;q=0.8")]);
        assert_eq!(Lang::of_request(&p), Lang::En);
        assert_eq!(Lang::of_request(&parts("/x?lang=xx", &[])), Lang::De);
    }
}
