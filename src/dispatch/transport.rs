//! Sending one callback: HTTPS only, the platform's client certificate on
//! every connection, the server verified against system roots or the
//! endpoint's own CA bundle, redirects not followed, no proxy, connect/total
//! timeouts, and the SSRF check at every send (connecting to the address that
//! was checked). Clients are cached per endpoint version and address.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::NaiveDateTime;
use ipnet::IpNet;

use super::render::{self, Format, Message};
use super::{schedule, signature, ssrf};
use crate::config::TerugkoppelingConfig;
use crate::tls::reload::SharedIdentity;

/// Where and how to deliver.
#[derive(Debug, Clone)]
pub struct Target {
    pub endpoint_id: i64,
    pub url: String,
    pub format: Format,
    pub ca_bundle: Option<String>,
    /// Secrets that sign now (current first).
    pub secrets: Vec<String>,
    /// Changes whenever the endpoint does, so cached clients are replaced.
    pub version: NaiveDateTime,
}

/// What one attempt came to.
#[derive(Debug, Clone)]
pub struct AttemptOutcome {
    pub status: Option<u16>,
    pub latency: Duration,
    pub retry_after: Option<Duration>,
    /// Transport or rendering error; never contains a body.
    pub error: Option<String>,
}

impl AttemptOutcome {
    pub(super) fn error(e: impl Into<String>, latency: Duration) -> Self {
        Self {
            status: None,
            latency,
            retry_after: None,
            error: Some(e.into()),
        }
    }
}

/// Endpoint, its version, the checked address, and the generation of the
/// platform identity the client presents.
type ClientKey = (i64, NaiveDateTime, SocketAddr, u64);

/// How long a checked address of a callback host is reused. Resolving costs a
/// hand-over to the blocking pool per callback; the address we connect to is
/// still one that passed the SSRF check, and a changed DNS answer takes
/// effect within this time.
const RESOLVED_FOR: Duration = Duration::from_secs(5);

/// The platform side of callbacks. Cheap to share behind an `Arc`.
pub struct Transport {
    identity: SharedIdentity,
    connect_timeout: Duration,
    timeout: Duration,
    allow: Vec<IpNet>,
    clients: Mutex<HashMap<ClientKey, reqwest::Client>>,
    resolved: Mutex<HashMap<(String, u16), (SocketAddr, Instant)>>,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport")
            .field("has_identity", &self.identity.load().identity.is_ok())
            .finish()
    }
}

impl Transport {
    /// Reads the client certificate. A missing certificate does not stop the
    /// service: every send then fails with a message naming the key.
    pub fn from_config(c: &TerugkoppelingConfig) -> Self {
        Self::with_identity(c, crate::tls::reload::platform_identity(c))
    }

    /// Presents whatever `identity` holds at each send; the TLS reloader
    /// swaps it when the certificate files change.
    pub fn with_identity(c: &TerugkoppelingConfig, identity: SharedIdentity) -> Self {
        let timing = c.timing().ok();
        Self {
            identity,
            connect_timeout: timing
                .as_ref()
                .map_or(Duration::from_secs(5), |t| t.connect_timeout),
            timeout: timing
                .as_ref()
                .map_or(Duration::from_secs(15), |t| t.timeout),
            allow: c.toegestane_netwerken.clone(),
            clients: Mutex::new(HashMap::new()),
            resolved: Mutex::new(HashMap::new()),
        }
    }

    /// Why there is no client certificate to present, if there is none.
    pub fn identity_error(&self) -> Option<String> {
        self.identity.load().identity.as_ref().err().cloned()
    }

    pub fn allow_list(&self) -> &[IpNet] {
        &self.allow
    }

    fn client(&self, t: &Target, addr: SocketAddr, host: &str) -> Result<reqwest::Client, String> {
        let current = self.identity.load();
        let key = (t.endpoint_id, t.version, addr, current.generation);
        if let Ok(mut map) = self.clients.lock() {
            if let Some(c) = map.get(&key) {
                return Ok(c.clone());
            }
            // A rotated platform certificate: the clients of the old one go.
            map.retain(|k, _| k.3 == current.generation);
        }
        let identity = current.identity.clone()?;
        let client = client_builder(
            Some(identity),
            t.ca_bundle.as_deref(),
            self.connect_timeout,
            self.timeout,
        )?
        .resolve(host, addr)
        .build()
        .map_err(|e| format!("HTTP client: {e}"))?;
        if let Ok(mut map) = self.clients.lock() {
            // A small cache: endpoints are few; drop everything when it grows.
            if map.len() > 1024 {
                map.clear();
            }
            map.insert(key, client.clone());
        }
        Ok(client)
    }

    /// The checked address of the URL's host, from the short cache or
    /// resolved and checked now.
    async fn resolve(&self, url: &reqwest::Url) -> Result<SocketAddr, ssrf::UrlError> {
        let key = (
            url.host_str().unwrap_or_default().to_owned(),
            url.port_or_known_default().unwrap_or(443),
        );
        if let Ok(map) = self.resolved.lock() {
            if let Some((addr, at)) = map.get(&key) {
                if at.elapsed() < RESOLVED_FOR {
                    return Ok(*addr);
                }
            }
        }
        let addr = ssrf::resolve(url, &self.allow).await?;
        if let Ok(mut map) = self.resolved.lock() {
            if map.len() > 1024 {
                map.clear();
            }
            map.insert(key, (addr, Instant::now()));
        }
        Ok(addr)
    }

    /// Renders, signs and sends one message; never panics, never logs a body.
    pub async fn send(&self, t: &Target, m: &Message<'_>) -> AttemptOutcome {
        let started = Instant::now();
        let body = match render::render(t.format, m) {
            Ok(b) => b,
            Err(e) => return AttemptOutcome::error(format!("rendering: {e}"), started.elapsed()),
        };
        let url = match ssrf::parse_url(&t.url) {
            Ok(u) => u,
            Err(e) => return AttemptOutcome::error(e.to_string(), started.elapsed()),
        };
        let addr = match self.resolve(&url).await {
            Ok(a) => a,
            Err(e) => return AttemptOutcome::error(e.to_string(), started.elapsed()),
        };
        let host = url.host_str().unwrap_or_default().to_owned();
        let client = match self.client(t, addr, &host) {
            Ok(c) => c,
            Err(e) => return AttemptOutcome::error(e, started.elapsed()),
        };
        let ts = chrono::Utc::now().timestamp();
        let secrets: Vec<&str> = t.secrets.iter().map(String::as_str).collect();
        let sig = match signature::header(&secrets, m.id, ts, &body) {
            Ok(s) => s,
            Err(e) => return AttemptOutcome::error(format!("signing: {e}"), started.elapsed()),
        };
        let req = request(&client, url, t.format, m.id, ts, Some(&sig));
        match req.body(body).send().await {
            Ok(resp) => {
                let status = resp.status().as_u16();
                let retry_after = resp
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| schedule::retry_after(v, chrono::Utc::now()));
                // Read (and discard) a bounded part of the body so the
                // connection can be reused; its content is not ours to keep.
                let _ = tokio::time::timeout(Duration::from_secs(1), resp.bytes()).await;
                AttemptOutcome {
                    status: Some(status),
                    latency: started.elapsed(),
                    retry_after,
                    error: (!(200..300).contains(&status)).then(|| format!("HTTP {status}")),
                }
            }
            Err(e) => AttemptOutcome::error(describe(&e), started.elapsed()),
        }
    }
}

/// The HTTP client settings every callback uses: native TLS, HTTPS only, no
/// proxy, no redirects, the timeouts; `identity` is the client certificate
/// presented (none only for the receiver check's refusal cases) and
/// `ca_bundle` replaces the system roots for the receiver's server certificate.
pub fn client_builder(
    identity: Option<reqwest::Identity>,
    ca_bundle: Option<&str>,
    connect_timeout: Duration,
    timeout: Duration,
) -> Result<reqwest::ClientBuilder, String> {
    let mut b = reqwest::Client::builder()
        .tls_backend_native()
        .https_only(true)
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(connect_timeout)
        .timeout(timeout);
    if let Some(identity) = identity {
        b = b.identity(identity);
    }
    if let Some(pem) = ca_bundle {
        let certs = reqwest::Certificate::from_pem_bundle(pem.as_bytes())
            .map_err(|e| format!("caBundle: {e}"))?;
        b = b.tls_certs_only(certs);
    }
    Ok(b)
}

/// A callback request with the headers of the contract (docs/callbacks.md §2);
/// `signature` `None` leaves `webhook-signature` out (a receiver-check case).
pub fn request(
    client: &reqwest::Client,
    url: reqwest::Url,
    format: Format,
    id: &str,
    timestamp: i64,
    signature: Option<&str>,
) -> reqwest::RequestBuilder {
    let mut req = client
        .post(url)
        .header("content-type", format.content_type())
        .header("webhook-id", id)
        .header("webhook-timestamp", timestamp.to_string())
        .header(
            "user-agent",
            concat!("machtigingen/", env!("CARGO_PKG_VERSION")),
        );
    if let Some(sig) = signature {
        req = req.header("webhook-signature", sig);
    }
    if format == Format::Soap {
        req = req.header("soapaction", format!("\"{}\"", render::SOAP_ACTION));
    }
    req
}

/// Reads the platform's client certificate and key (PEM, PKCS#8 key) as
/// they are on disk now (the dispatcher presents the reloaded one instead).
pub fn load_identity(c: &TerugkoppelingConfig) -> Result<reqwest::Identity, String> {
    crate::tls::reload::load_platform_identity(c)
}

/// A short, body-free description of a transport error.
fn describe(e: &reqwest::Error) -> String {
    use std::error::Error;
    let kind = if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connect"
    } else {
        "request"
    };
    let mut msg = format!("{kind}: {e}");
    let mut src = e.source();
    while let Some(s) = src {
        msg.push_str(&format!(": {s}"));
        src = s.source();
    }
    msg.chars().take(500).collect()
}
