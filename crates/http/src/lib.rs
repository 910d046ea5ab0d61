//! The one JSON-over-HTTPS client plumbing of OncoFed's service clients.
//!
//! `TrusteeClient`, the trust centre's `LinkageClient` and `HubClient` talk to
//! services that all answer JSON and fail with the same error body
//! (`{"code", "message", "request_id"}`, see `oncofed-service`). [`JsonClient`]
//! holds what they share: the base URL, the bearer token, a reqwest client built
//! under the caller's [`ClientTls`] (CA bundle, client certificate, no plain HTTP
//! beyond loopback), and one way to turn an exchange into a value or a
//! [`CallError`]. Each service client wraps it and maps [`CallError`] to its own
//! error type, whose messages name its service and what to do.
//!
//! Transport errors are described without request data (no URL path, query or
//! body), so a log line of the error holds no pseudonym or token.

use oncofed_tls::{ClientTls, TlsError};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::time::Duration;

/// Why a call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// The service could not be reached, or the exchange broke off.
    #[error("{url} is unreachable ({reason})")]
    Unreachable {
        /// The base URL tried.
        url: String,
        /// What happened, without request data.
        reason: String,
    },
    /// The service answered with an error.
    #[error("{code}: {message} (HTTP {status}{})", request_id.as_deref().map(|id| format!(", request {id}")).unwrap_or_default())]
    Rejected {
        /// HTTP status.
        status: u16,
        /// The service's stable error code.
        code: String,
        /// Its message.
        message: String,
        /// The id the service logged the request under, to quote to its operator.
        request_id: Option<String>,
    },
    /// The answer was not the JSON expected.
    #[error("unexpected answer: {0}")]
    Protocol(String),
}

/// A rejection's message with the service's request id quoted, as the service
/// clients put it in their own errors.
pub fn quoting_request_id(message: String, request_id: Option<String>) -> String {
    match request_id {
        Some(id) => format!("{message} (request {id})"),
        None => message,
    }
}

/// The error body every OncoFed service sends.
#[derive(serde::Deserialize)]
struct ErrorBody {
    code: String,
    message: String,
    #[serde(default)]
    request_id: Option<String>,
}

/// A service's base URL, a bearer token and an HTTP client.
#[derive(Clone)]
pub struct JsonClient {
    base: String,
    token: String,
    http: reqwest::Client,
}

impl std::fmt::Debug for JsonClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JsonClient")
            .field("base", &self.base)
            .field("token", &"<redacted>")
            .finish()
    }
}

impl JsonClient {
    /// A client for the service at `base_url` presenting `token`, under `tls`,
    /// with the given connect and overall timeouts.
    pub fn new(
        base_url: &str,
        token: &str,
        tls: &ClientTls,
        connect_timeout: Duration,
        timeout: Duration,
    ) -> Result<Self, TlsError> {
        let http = tls.client_for(
            base_url,
            reqwest::Client::builder()
                .connect_timeout(connect_timeout)
                .timeout(timeout),
        )?;
        Ok(Self {
            base: base_url.trim_end_matches('/').to_owned(),
            token: token.to_owned(),
            http,
        })
    }

    /// The base URL.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// A request to `path` (starting with `/`), with the bearer token; an
    /// empty token sends no `Authorization` at all (an anonymous call, e.g.
    /// the public Beacon).
    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let request = self.http.request(method, format!("{}{path}", self.base));
        if self.token.is_empty() {
            request
        } else {
            request.bearer_auth(&self.token)
        }
    }

    /// `GET path`, answer as JSON.
    pub async fn get<A: DeserializeOwned>(&self, path: &str) -> Result<A, CallError> {
        self.send(self.request(reqwest::Method::GET, path)).await
    }

    /// `POST path` with a JSON body, answer as JSON.
    pub async fn post<Q: Serialize + ?Sized, A: DeserializeOwned>(
        &self,
        path: &str,
        body: &Q,
    ) -> Result<A, CallError> {
        self.send(self.request(reqwest::Method::POST, path).json(body))
            .await
    }

    /// Sends `request` (made by [`JsonClient::request`]) and reads a JSON answer.
    pub async fn send<A: DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<A, CallError> {
        let bytes = self.exchange(request).await?;
        serde_json::from_slice(&bytes).map_err(|e| CallError::Protocol(e.to_string()))
    }

    /// Sends `request` and reads a text answer (e.g. JSON Lines).
    pub async fn send_text(&self, request: reqwest::RequestBuilder) -> Result<String, CallError> {
        let bytes = self.exchange(request).await?;
        String::from_utf8(bytes).map_err(|_| CallError::Protocol("the answer is not UTF-8".into()))
    }

    async fn exchange(&self, request: reqwest::RequestBuilder) -> Result<Vec<u8>, CallError> {
        let unreachable = |e: reqwest::Error| CallError::Unreachable {
            url: self.base.clone(),
            reason: describe(&e),
        };
        let response = request.send().await.map_err(unreachable)?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(unreachable)?;
        if status.is_success() {
            return Ok(bytes.to_vec());
        }
        let body = serde_json::from_slice::<ErrorBody>(&bytes).unwrap_or(ErrorBody {
            code: "http_error".into(),
            message: status.canonical_reason().unwrap_or("error").into(),
            request_id: None,
        });
        Err(CallError::Rejected {
            status: status.as_u16(),
            code: body.code,
            message: body.message,
            request_id: body.request_id,
        })
    }
}

/// A transport error in words, without the URL (its path or query could hold a
/// pseudonym) but with the cause that tells an operator what to fix.
fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        return "timed out".into();
    }
    let mut cause: Option<&dyn std::error::Error> = std::error::Error::source(e);
    let mut deepest = None;
    while let Some(c) = cause {
        deepest = Some(c.to_string());
        cause = c.source();
    }
    let what = if e.is_connect() {
        "connection failed"
    } else {
        "transport error"
    };
    match deepest {
        Some(detail) => format!("{what}: {detail}"),
        None => what.into(),
    }
}
