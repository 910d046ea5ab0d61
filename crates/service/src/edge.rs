//! The request middleware and the metrics registry behind it.

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use oncofed_tls::Peer;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tracing::Instrument;

/// Labels of a metric sample: (name, value) pairs.
type Labels = Vec<(String, String)>;

/// The header carrying the request id, both ways.
const REQUEST_ID: &str = "x-request-id";

/// Longest error body that gets the request id added (error bodies are small;
/// anything larger is passed on untouched).
const MAX_ERROR_BODY: usize = 64 * 1024;

/// The id of the request being handled, in the request's extensions for
/// handlers that want to log it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub String);

/// One service's edge: its metrics and the middleware that fills them.
#[derive(Clone)]
pub struct Edge {
    inner: Arc<Inner>,
}

struct Inner {
    registry: Mutex<Registry>,
    requests: Family<Labels, Counter>,
    latency: Family<Labels, Histogram>,
    public_metrics: AtomicBool,
    /// Called before each scrape, to refresh gauges read from a store.
    refreshers: Mutex<Vec<Refresher>>,
}

/// A function that brings gauges up to date before they are read.
type Refresher = Box<dyn Fn() + Send + Sync>;

impl std::fmt::Debug for Edge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Edge")
            .field(
                "public_metrics",
                &self.inner.public_metrics.load(Ordering::Relaxed),
            )
            .finish_non_exhaustive()
    }
}

fn latency_histogram() -> Histogram {
    // 1 ms to ~33 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

impl Edge {
    /// The edge of service `service` (`trustee`, `hub`, `node`): every metric
    /// is prefixed `oncofed_<service>_`.
    pub fn new(service: &str) -> Self {
        Self::build(service)
    }

    /// Serves `/metrics` to callers on other hosts too (over the service's
    /// TLS port), for a Prometheus server elsewhere.
    pub fn with_public_metrics(self, public: bool) -> Self {
        self.inner.public_metrics.store(public, Ordering::Relaxed);
        self
    }

    fn build(service: &str) -> Self {
        let mut registry = Registry::with_prefix(format!("oncofed_{service}"));
        let requests = Family::<Labels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests by route template, method and status",
            requests.clone(),
        );
        let latency = Family::<Labels, Histogram>::new_with_constructor(
            latency_histogram as fn() -> Histogram,
        );
        registry.register(
            "http_request_duration_seconds",
            "Time from the request's arrival to its response, by route template and method",
            latency.clone(),
        );
        Self {
            inner: Arc::new(Inner {
                registry: Mutex::new(registry),
                requests,
                latency,
                public_metrics: AtomicBool::new(false),
                refreshers: Mutex::new(Vec::new()),
            }),
        }
    }

    /// Registers a gauge (e.g. tasks waiting for sites) and returns it to set.
    pub fn gauge(&self, name: &str, help: &str) -> Gauge {
        let gauge = Gauge::default();
        self.registry().register(name, help, gauge.clone());
        gauge
    }

    /// Registers a counter (e.g. consent decisions answered from the cache).
    pub fn counter(&self, name: &str, help: &str) -> Counter {
        let counter = Counter::default();
        self.registry().register(name, help, counter.clone());
        counter
    }

    /// Runs `refresh` before every scrape of `/metrics`, e.g. to set a gauge from
    /// a count in the service's store. Keep it cheap: it runs on the scrape.
    pub fn on_scrape(&self, refresh: impl Fn() + Send + Sync + 'static) {
        self.inner
            .refreshers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Box::new(refresh));
    }

    fn registry(&self) -> std::sync::MutexGuard<'_, Registry> {
        // A panic while encoding leaves the registry usable: take it anyway.
        self.inner
            .registry
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// The metrics in Prometheus text format.
    pub fn render(&self) -> String {
        for refresh in self
            .inner
            .refreshers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            refresh();
        }
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut text, &self.registry());
        text
    }

    /// Wraps a service's router: every route gets a request id and is measured,
    /// and `GET /metrics` is added. Apply it after all routes are added (routes
    /// added later are not measured).
    pub fn wrap(&self, router: Router) -> Router {
        router
            .route_layer(axum::middleware::from_fn_with_state(self.clone(), track))
            .route("/metrics", get(metrics).with_state(self.clone()))
    }

    fn record(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let labels = vec![
            ("route".to_owned(), route.to_owned()),
            ("method".to_owned(), method.to_owned()),
            ("status".to_owned(), status.to_string()),
        ];
        self.inner.requests.get_or_create(&labels).inc();
        let labels = vec![
            ("route".to_owned(), route.to_owned()),
            ("method".to_owned(), method.to_owned()),
        ];
        self.inner.latency.get_or_create(&labels).observe(seconds);
    }
}

/// A caller's request id if it is short and plain, else a fresh random one.
fn request_id(request: &Request) -> String {
    let given = request
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 64
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        });
    match given {
        Some(id) => id.to_owned(),
        None => format!("{:016x}", rand::random::<u64>()),
    }
}

async fn track(State(edge): State<Edge>, mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = request_id(&request);
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = request.method().as_str().to_owned();
    request.extensions_mut().insert(RequestId(id.clone()));
    let span = tracing::info_span!("request", id = %id, method = %method, route = %route);
    let response = next.run(request).instrument(span).await;
    let status = response.status();
    edge.record(
        &method,
        &route,
        status.as_u16(),
        started.elapsed().as_secs_f64(),
    );
    let mut response = if status.is_client_error() || status.is_server_error() {
        with_request_id_in_body(response, &id).await
    } else {
        response
    };
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    response
}

/// Adds `"request_id"` to a JSON error object, so the id a user quotes from an
/// error message is the one in the service's log.
async fn with_request_id_in_body(response: Response, id: &str) -> Response {
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !is_json {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_ERROR_BODY).await {
        Ok(bytes) => bytes,
        Err(_) => {
            tracing::warn!(request_id = id, "error body over 64 KiB dropped");
            parts.headers.remove(header::CONTENT_LENGTH);
            return Response::from_parts(parts, Body::empty());
        }
    };
    let body = match serde_json::from_slice::<serde_json::Value>(&bytes) {
        Ok(serde_json::Value::Object(mut object)) => {
            object.insert("request_id".into(), id.into());
            serde_json::to_vec(&object).unwrap_or_else(|_| bytes.to_vec())
        }
        _ => bytes.to_vec(),
    };
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(body))
}

async fn metrics(State(edge): State<Edge>, request: Request) -> Response {
    let local = request
        .extensions()
        .get::<ConnectInfo<Peer>>()
        .is_some_and(|ConnectInfo(peer)| peer.remote.ip().is_loopback());
    if !local && !edge.inner.public_metrics.load(Ordering::Relaxed) {
        let body = serde_json::json!({
            "code": "forbidden",
            "message": "metrics are served to loopback callers only; scrape them on the \
                        service's host",
        });
        return (StatusCode::FORBIDDEN, axum::Json(body)).into_response();
    }
    // Refreshers may read a store: off the async workers.
    let text = match tokio::task::spawn_blocking(move || edge.render()).await {
        Ok(text) => text,
        Err(_) => return StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    };
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
        .into_response()
}
