//! chromedriver as a child process: started on a free loopback port in a
//! process group of its own, waited for, asked for headless chromium
//! sessions, and killed with its browsers on drop.

use crate::error::BrowserError;
use crate::{BrowserOptions, CHROMIUM};
use fantoccini::wd::TimeoutConfiguration;
use fantoccini::{Client, ClientBuilder};
use serde_json::{Map, Value, json};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long chromedriver may take to listen (it is usually ready in ~100 ms).
const START_LIMIT: Duration = Duration::from_secs(20);

/// Whether a WebDriver server answers on `port`: its `GET /status` says
/// `"ready"`. A mere connect is not enough: the port was free when chosen,
/// and a parallel test's listener may have been given it before chromedriver
/// bound it (which then exits), so the connect would reach that listener.
async fn answers_as_webdriver(port: u16) -> bool {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let ask = async {
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
        stream
            .write_all(b"GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            .await?;
        // Read until the answer says so: chromedriver keeps the connection
        // open after its answer, whatever `Connection: close` asks.
        let (mut answer, mut chunk) = (Vec::new(), [0u8; 1024]);
        loop {
            let n = stream.read(&mut chunk).await?;
            answer.extend_from_slice(&chunk[..n]);
            let text = String::from_utf8_lossy(&answer);
            let ready = text.replace(' ', "").contains("\"ready\":true");
            if text.starts_with("HTTP/1.1 200") && ready {
                return Ok::<_, std::io::Error>(true);
            }
            if n == 0 || answer.len() > 64 * 1024 {
                return Ok(false);
            }
        }
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(2), ask).await,
        Ok(Ok(true))
    )
}

/// A chromedriver child process and its WebDriver URL.
pub(crate) struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    /// Starts `program` on a free loopback port and waits until it accepts
    /// connections; tries three ports (another process may take a free port
    /// before chromedriver binds it).
    pub(crate) async fn start(program: &str) -> Result<Driver, BrowserError> {
        let mut last = String::new();
        for _ in 0..3 {
            let port = oncofed_test_peers::free_port();
            let mut child = Command::new(program)
                .arg(format!("--port={port}"))
                .arg("--log-level=SEVERE")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                // Its own process group, so that drop can end chromedriver
                // together with the chromium processes it started.
                .process_group(0)
                .spawn()
                .map_err(|e| BrowserError::Driver(format!("cannot run {program}: {e}")))?;
            let started = Instant::now();
            loop {
                if let Ok(Some(status)) = child.try_wait() {
                    last = format!("{program} exited with {status} (port {port} taken?)");
                    break;
                }
                if answers_as_webdriver(port).await {
                    return Ok(Driver {
                        child,
                        url: format!("http://127.0.0.1:{port}"),
                    });
                }
                if started.elapsed() > START_LIMIT {
                    last =
                        format!("{program} did not listen on port {port} within {START_LIMIT:?}");
                    kill_group(&mut child);
                    break;
                }
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
        }
        Err(BrowserError::Driver(last))
    }

    /// A new headless chromium session with a fresh profile.
    pub(crate) async fn session(&self, options: &BrowserOptions) -> Result<Client, BrowserError> {
        // fantoccini's rustls connector builds its TLS configuration from the
        // process-wide provider; ring, as everywhere in the workspace.
        oncofed_tls::install_crypto_provider();
        let client = ClientBuilder::rustls()
            .map_err(|e| BrowserError::Driver(format!("TLS set-up: {e}")))?
            .capabilities(capabilities(options))
            .connect(&self.url)
            .await
            .map_err(|e| BrowserError::Driver(format!("new session: {e}")))?;
        client
            .update_timeouts(TimeoutConfiguration::new(
                Some(Duration::from_secs(60)),
                Some(Duration::from_secs(30)),
                Some(Duration::ZERO),
            ))
            .await
            .map_err(|e| BrowserError::command("set timeouts", e))?;
        fit_viewport(&client, options.window).await?;
        Ok(client)
    }
}

/// Resizes the window so that the page's viewport (and so every screenshot)
/// is exactly `width`×`height`: headless chromium's `--window-size` counts the
/// (invisible) browser frame in.
async fn fit_viewport(client: &Client, (width, height): (u32, u32)) -> Result<(), BrowserError> {
    let frame = client
        .execute(
            "return [window.outerWidth - window.innerWidth, window.outerHeight - window.innerHeight];",
            vec![],
        )
        .await
        .map_err(|e| BrowserError::command("measure the window frame", e))?;
    let extra = |i: usize| {
        frame
            .get(i)
            .and_then(Value::as_u64)
            .and_then(|v| u32::try_from(v).ok())
            .unwrap_or(0)
    };
    if extra(0) > 0 || extra(1) > 0 {
        client
            .set_window_size(width + extra(0), height + extra(1))
            .await
            .map_err(|e| BrowserError::command("resize the window", e))?;
    }
    Ok(())
}

impl Drop for Driver {
    fn drop(&mut self) {
        kill_group(&mut self.child);
    }
}

/// Kills the process group led by `child` (chromedriver and the browsers it
/// started) and reaps chromedriver.
fn kill_group(child: &mut Child) {
    let group = format!("-{}", child.id());
    let killed = Command::new("kill")
        .args(["-KILL", "--", &group])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !killed {
        let _ = child.kill();
    }
    let _ = child.wait();
}

/// The WebDriver capabilities of a headless Debian chromium.
fn capabilities(options: &BrowserOptions) -> Map<String, Value> {
    let (width, height) = options.window;
    let args = [
        "--headless=new".to_owned(),
        // Containers and CI runners have no user namespaces for the sandbox.
        "--no-sandbox".to_owned(),
        "--disable-gpu".to_owned(),
        format!("--window-size={width},{height}"),
        "--force-device-scale-factor=1".to_owned(),
        "--hide-scrollbars".to_owned(),
        // A small /dev/shm in containers crashes tabs.
        "--disable-dev-shm-usage".to_owned(),
        format!("--accept-lang={}", options.accept_language),
        // Nothing but the services under test: no update checks, sync or
        // other calls home.
        "--no-first-run".to_owned(),
        "--no-default-browser-check".to_owned(),
        "--disable-background-networking".to_owned(),
        "--disable-component-update".to_owned(),
        "--disable-sync".to_owned(),
        "--disable-extensions".to_owned(),
        "--password-store=basic".to_owned(),
        "--mute-audio".to_owned(),
    ];
    let caps = json!({
        "browserName": "chrome",
        "acceptInsecureCerts": options.accept_insecure_certs,
        "pageLoadStrategy": "normal",
        "goog:chromeOptions": {
            "binary": CHROMIUM,
            "args": args,
            "prefs": { "intl.accept_languages": options.accept_language },
        },
    });
    caps.as_object().cloned().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::answers_as_webdriver;
    use std::time::Duration;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A listener that is not a WebDriver server (one answering 404, as a
    /// parallel test's page server given the chosen port would) is not taken
    /// for chromedriver; one whose status says ready is, though it keeps the
    /// connection open after answering, as chromedriver does.
    #[tokio::test]
    async fn only_a_server_whose_status_says_ready_is_taken_for_chromedriver() {
        for (answer, expected) in [
            (
                &b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n"[..],
                false,
            ),
            (
                &b"HTTP/1.1 200 OK\r\n\r\n{\"value\":{\"ready\": true}}"[..],
                true,
            ),
        ] {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let port = listener.local_addr().unwrap().port();
            let server = tokio::spawn(async move {
                let (mut stream, _) = listener.accept().await.unwrap();
                let mut request = [0u8; 1024];
                let _ = stream.read(&mut request).await;
                stream.write_all(answer).await.unwrap();
                tokio::time::sleep(Duration::from_secs(5)).await;
            });
            assert_eq!(answers_as_webdriver(port).await, expected, "{answer:?}");
            server.abort();
        }
    }
}
