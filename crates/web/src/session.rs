//! Browser sessions: random ids in an `HttpOnly; SameSite=Strict` cookie,
//! state on the server, a CSRF token per session.

use crate::WebError;
use axum::http::{HeaderMap, HeaderValue, header};
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq;

/// A session ends after this long without a request.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// A session ends this long after sign-in, however active.
pub const ABSOLUTE_TIMEOUT: Duration = Duration::from_secs(8 * 60 * 60);
/// At most this many live sessions per service; the oldest goes first, so a
/// flood of sign-ins cannot exhaust memory.
pub const MAX_SESSIONS: usize = 10_000;

/// How a service names its session cookie and whether it is served over TLS.
#[derive(Debug, Clone)]
pub struct CookieSpec {
    /// Base name, e.g. `oncofed_hub`; distinct per service so sessions of the
    /// hub and the trust centre on one host never mix.
    pub name: &'static str,
    /// Served over TLS: the cookie gets `Secure` and the `__Host-` prefix
    /// (bound to this host and path `/`, not settable by a sub-domain).
    pub secure: bool,
}

impl CookieSpec {
    /// The cookie's name as sent.
    pub fn cookie_name(&self) -> String {
        if self.secure {
            format!("__Host-{}", self.name)
        } else {
            self.name.to_owned()
        }
    }

    fn set_cookie(&self, value: &str, max_age: Option<u64>) -> HeaderValue {
        let mut text = format!(
            "{}={value}; Path=/; HttpOnly; SameSite=Strict",
            self.cookie_name()
        );
        if self.secure {
            text.push_str("; Secure");
        }
        if let Some(age) = max_age {
            text.push_str(&format!("; Max-Age={age}"));
        }
        HeaderValue::from_str(&text).expect("cookie text is ASCII without control characters")
    }
}

/// A signed-in browser: the service's data about them and the CSRF token
/// every form of theirs carries.
#[derive(Clone)]
pub struct Session<T> {
    /// The synchronizer token for this session's forms.
    pub csrf: String,
    /// What the service knows about the signed-in user.
    pub data: T,
}

impl<T> fmt::Debug for Session<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Session { .. }")
    }
}

impl<T> Session<T> {
    /// Refuses a form whose token is not this session's (cross-site request
    /// forgery); compares in constant time.
    pub fn check_csrf(&self, token: &str) -> Result<(), WebError> {
        if !token.is_empty() && bool::from(self.csrf.as_bytes().ct_eq(token.as_bytes())) {
            Ok(())
        } else {
            Err(WebError::Forbidden)
        }
    }
}

struct Entry<T> {
    session: Session<T>,
    started: Instant,
    last_seen: Instant,
}

/// The live sessions of one service.
pub struct Sessions<T> {
    spec: CookieSpec,
    live: Arc<Mutex<HashMap<String, Entry<T>>>>,
}

impl<T> Clone for Sessions<T> {
    fn clone(&self) -> Self {
        Self {
            spec: self.spec.clone(),
            live: self.live.clone(),
        }
    }
}

impl<T> fmt::Debug for Sessions<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sessions")
            .field("cookie", &self.spec.cookie_name())
            .finish_non_exhaustive()
    }
}

fn random_token() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

impl<T: Clone> Sessions<T> {
    /// No sessions yet.
    pub fn new(spec: CookieSpec) -> Self {
        Self {
            spec,
            live: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// The cookie naming rules in use.
    pub fn spec(&self) -> &CookieSpec {
        &self.spec
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry<T>>> {
        self.live.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts a session for `data` (after the service verified a sign-in)
    /// and returns it with the `Set-Cookie` value. Always a fresh id, so a
    /// cookie planted before sign-in is worthless (no session fixation).
    pub fn start(&self, data: T) -> (Session<T>, HeaderValue) {
        let id = random_token();
        let session = Session {
            csrf: random_token(),
            data,
        };
        let now = Instant::now();
        let mut live = self.lock();
        live.retain(|_, e| alive(e, now));
        if live.len() >= MAX_SESSIONS
            && let Some(oldest) = live
                .iter()
                .min_by_key(|(_, e)| e.started)
                .map(|(k, _)| k.clone())
        {
            live.remove(&oldest);
        }
        live.insert(
            id.clone(),
            Entry {
                session: session.clone(),
                started: now,
                last_seen: now,
            },
        );
        (session, self.spec.set_cookie(&id, None))
    }

    fn cookie_value(&self, headers: &HeaderMap) -> Option<String> {
        let name = self.spec.cookie_name();
        for header in headers.get_all(header::COOKIE) {
            let Ok(text) = header.to_str() else { continue };
            for cookie in text.split(';') {
                if let Some((n, v)) = cookie.trim().split_once('=')
                    && n == name
                {
                    return Some(v.to_owned());
                }
            }
        }
        None
    }

    /// The session the request's cookie names, if it is alive; touching it
    /// extends the idle timeout.
    pub fn current(&self, headers: &HeaderMap) -> Option<Session<T>> {
        let id = self.cookie_value(headers)?;
        let now = Instant::now();
        let mut live = self.lock();
        let entry = live.get_mut(&id)?;
        if !alive(entry, now) {
            live.remove(&id);
            return None;
        }
        entry.last_seen = now;
        Some(entry.session.clone())
    }

    /// Replaces the data of the request's session (e.g. after a consent
    /// change the page shows); false when there is none.
    pub fn update(&self, headers: &HeaderMap, data: T) -> bool {
        let Some(id) = self.cookie_value(headers) else {
            return false;
        };
        match self.lock().get_mut(&id) {
            Some(entry) => {
                entry.session.data = data;
                true
            }
            None => false,
        }
    }

    /// Ends the request's session and returns the `Set-Cookie` value that
    /// deletes the cookie.
    pub fn end(&self, headers: &HeaderMap) -> HeaderValue {
        if let Some(id) = self.cookie_value(headers) {
            self.lock().remove(&id);
        }
        self.spec.set_cookie("", Some(0))
    }

    /// Ends every session whose data matches (e.g. a patient who withdrew).
    pub fn end_where(&self, mut matches: impl FnMut(&T) -> bool) {
        self.lock().retain(|_, e| !matches(&e.session.data));
    }
}

fn alive<T>(entry: &Entry<T>, now: Instant) -> bool {
    now.duration_since(entry.last_seen) < IDLE_TIMEOUT
        && now.duration_since(entry.started) < ABSOLUTE_TIMEOUT
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers_with(cookie: &HeaderValue) -> HeaderMap {
        let pair = cookie
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned();
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_str(&pair).unwrap());
        h
    }

    #[test]
    fn cookie_flags_follow_tls() {
        let plain = Sessions::new(CookieSpec {
            name: "oncofed_hub",
            secure: false,
        });
        let (_, c) = plain.start(1u32);
        let c = c.to_str().unwrap();
        assert!(c.starts_with("oncofed_hub="));
        assert!(c.contains("HttpOnly") && c.contains("SameSite=Strict"));
        assert!(!c.contains("Secure"));
        let tls = Sessions::new(CookieSpec {
            name: "oncofed_hub",
            secure: true,
        });
        let (_, c) = tls.start(1u32);
        let c = c.to_str().unwrap();
        assert!(c.starts_with("__Host-oncofed_hub=") && c.ends_with("; Secure"));
    }

    #[test]
    fn sessions_are_found_by_cookie_and_ended() {
        let s = Sessions::new(CookieSpec {
            name: "t",
            secure: false,
        });
        let (a, cookie) = s.start("alice".to_owned());
        let h = headers_with(&cookie);
        let found = s.current(&h).unwrap();
        assert_eq!(found.data, "alice");
        assert!(found.check_csrf(&a.csrf).is_ok());
        assert!(found.check_csrf("").is_err());
        assert!(found.check_csrf(&"0".repeat(64)).is_err());
        let gone = s.end(&h);
        assert!(gone.to_str().unwrap().contains("Max-Age=0"));
        assert!(s.current(&h).is_none());
        let mut forged = HeaderMap::new();
        forged.insert(header::COOKIE, HeaderValue::from_static("t=00"));
        assert!(s.current(&forged).is_none());
    }
}
