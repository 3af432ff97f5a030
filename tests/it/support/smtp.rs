//! A small SMTP receiver for the e-mail tests: real SMTP over TCP (greeting,
//! EHLO/HELO, MAIL, RCPT, DATA with dot-unstuffing, RSET, NOOP, QUIT), one
//! connection at a time, keeping every message it accepted. It can refuse
//! every message after DATA with a 5xx, and be stopped and started again on
//! the same port to play a relay that is down.
//!
//! [`TlsSmtpServer`] is the same conversation behind real TLS (OpenSSL,
//! with a certificate from the project's own PKI): STARTTLS on a plain
//! connection (offered in EHLO, required before MAIL) or TLS from the first
//! byte (SMTPS). It records whether each mail came over TLS and how many
//! handshakes failed (a client that refused the certificate).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// One accepted message.
#[derive(Debug, Clone)]
pub struct Mail {
    /// Whether it came over TLS.
    pub tls: bool,
    pub from: String,
    pub to: Vec<String>,
    /// The message as sent (headers and encoded body).
    pub raw: String,
}

impl Mail {
    pub fn header(&self, name: &str) -> Option<String> {
        // Long headers are folded (RFC 5322 §2.2.3): unfold first.
        let head = self.raw.split("\r\n\r\n").next().unwrap_or("");
        let head = head.replace("\r\n ", " ").replace("\r\n\t", " ");
        let prefix = format!("{}:", name.to_ascii_lowercase());
        head.split("\r\n")
            .find(|l| l.to_ascii_lowercase().starts_with(&prefix))
            .map(|l| l[prefix.len()..].trim().to_owned())
    }

    pub fn subject(&self) -> String {
        self.header("Subject").unwrap_or_default()
    }

    /// The body decoded from its transfer encoding (quoted-printable,
    /// base64, or as is).
    pub fn body(&self) -> String {
        let body = self.raw.split_once("\r\n\r\n").map_or("", |(_, b)| b);
        let encoding = self
            .header("Content-Transfer-Encoding")
            .unwrap_or_default()
            .to_ascii_lowercase();
        match encoding.as_str() {
            "quoted-printable" => quoted_printable(body),
            "base64" => {
                let joined: String = body.split_whitespace().collect();
                String::from_utf8(
                    base64::engine::general_purpose::STANDARD
                        .decode(joined)
                        .unwrap(),
                )
                .unwrap()
            }
            _ => body.to_owned(),
        }
    }
}

fn quoted_printable(s: &str) -> String {
    let s = s.replace("=\r\n", "");
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'=' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap()
}

#[derive(Default)]
struct State {
    mails: Vec<Mail>,
    refuse: bool,
}

pub struct SmtpServer {
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl SmtpServer {
    pub async fn start() -> Self {
        Self::start_on("127.0.0.1:0".parse().unwrap()).await
    }

    /// A free port with nothing listening on it: a relay that is down.
    pub fn free_port() -> SocketAddr {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    }

    pub async fn start_on(addr: SocketAddr) -> Self {
        let listener = TcpListener::bind(addr).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(State::default()));
        let s = state.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let _ = session(stream, &s).await;
            }
        });
        Self {
            addr,
            state,
            task: Some(task),
        }
    }

    /// From now on every message is refused after DATA with 554.
    pub fn refuse(&self) {
        self.state.lock().unwrap().refuse = true;
    }

    /// Accepts messages again.
    pub fn accept(&self) {
        self.state.lock().unwrap().refuse = false;
    }

    pub fn mails(&self) -> Vec<Mail> {
        self.state.lock().unwrap().mails.clone()
    }

    /// Waits up to `secs` for at least `n` messages; returns what arrived.
    pub async fn wait_for(&self, n: usize, secs: u64) -> Vec<Mail> {
        for _ in 0..secs * 20 {
            if self.mails().len() >= n {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.mails()
    }

    /// Stops listening (the port is free again).
    pub fn stop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn session(stream: TcpStream, state: &Mutex<State>) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    write.write_all(b"220 smtp.test ESMTP\r\n").await?;
    let (mut from, mut to) = (String::new(), Vec::new());
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let cmd = line.trim_end().to_owned();
        let upper = cmd.to_ascii_uppercase();
        let reply: &[u8] = if upper.starts_with("EHLO") {
            b"250-smtp.test\r\n250 8BITMIME\r\n"
        } else if upper.starts_with("HELO") || upper.starts_with("NOOP") {
            b"250 OK\r\n"
        } else if upper.starts_with("RSET") {
            from.clear();
            to.clear();
            b"250 OK\r\n"
        } else if upper.starts_with("MAIL FROM:") {
            from = address(&cmd["MAIL FROM:".len()..]);
            to.clear();
            b"250 OK\r\n"
        } else if upper.starts_with("RCPT TO:") {
            to.push(address(&cmd["RCPT TO:".len()..]));
            b"250 OK\r\n"
        } else if upper == "DATA" {
            write
                .write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                .await?;
            let mut raw = String::new();
            loop {
                line.clear();
                if lines.read_line(&mut line).await? == 0 {
                    return Ok(());
                }
                if line == ".\r\n" {
                    break;
                }
                raw.push_str(line.strip_prefix('.').unwrap_or(&line));
            }
            let mut st = state.lock().unwrap();
            if st.refuse {
                b"554 5.7.1 Message refused\r\n"
            } else {
                st.mails.push(Mail {
                    tls: false,
                    from: from.clone(),
                    to: to.clone(),
                    raw,
                });
                b"250 2.0.0 OK queued\r\n"
            }
        } else if upper.starts_with("QUIT") {
            write.write_all(b"221 Bye\r\n").await?;
            return Ok(());
        } else {
            b"502 Command not implemented\r\n"
        };
        write.write_all(reply).await?;
    }
}

/// `<a@b> SIZE=…` → `a@b`.
fn address(s: &str) -> String {
    let s = s.trim();
    match (s.find('<'), s.find('>')) {
        (Some(a), Some(b)) if a < b => s[a + 1..b].to_owned(),
        _ => s.split_whitespace().next().unwrap_or("").to_owned(),
    }
}

/// How a [`TlsSmtpServer`] speaks TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// Plain greeting, `STARTTLS` offered in EHLO and required before MAIL.
    StartTls,
    /// TLS from the first byte (SMTPS).
    Implicit,
}

#[derive(Default)]
struct TlsState {
    mails: Vec<Mail>,
    /// Handshakes that failed (the client refused the certificate, or spoke
    /// no TLS).
    failed_handshakes: usize,
    /// Connections that upgraded with STARTTLS.
    starttls: usize,
}

/// An SMTP server behind real TLS, on a thread of its own (blocking OpenSSL).
pub struct TlsSmtpServer {
    pub addr: SocketAddr,
    state: Arc<Mutex<TlsState>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TlsSmtpServer {
    /// Listens on `addr` (port 0: any) with `cert` (leaf first, then its
    /// chain) and `key`, PEM.
    pub fn start_on(addr: SocketAddr, mode: TlsMode, cert_chain: &[u8], key: &[u8]) -> Self {
        use openssl::pkey::PKey;
        use openssl::ssl::{SslAcceptor, SslMethod};
        use openssl::x509::X509;
        let mut b = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls_server()).unwrap();
        let mut chain = X509::stack_from_pem(cert_chain).unwrap().into_iter();
        b.set_certificate(&chain.next().unwrap()).unwrap();
        for c in chain {
            b.add_extra_chain_cert(c).unwrap();
        }
        b.set_private_key(&PKey::private_key_from_pem(key).unwrap())
            .unwrap();
        let acceptor = Arc::new(b.build());
        let listener = std::net::TcpListener::bind(addr).unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(TlsState::default()));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (st, halt) = (state.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !halt.load(std::sync::atomic::Ordering::SeqCst) {
                match listener.accept() {
                    Ok((tcp, _)) => {
                        let _ = tcp.set_nonblocking(false);
                        let _ = tcp.set_read_timeout(Some(Duration::from_secs(10)));
                        let _ = tls_session(tcp, mode, &acceptor, &st);
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        Self {
            addr,
            state,
            stop,
            thread: Some(thread),
        }
    }

    pub fn mails(&self) -> Vec<Mail> {
        self.state.lock().unwrap().mails.clone()
    }

    pub fn failed_handshakes(&self) -> usize {
        self.state.lock().unwrap().failed_handshakes
    }

    pub fn starttls_upgrades(&self) -> usize {
        self.state.lock().unwrap().starttls
    }

    /// Waits up to `secs` for at least `n` messages; returns what arrived.
    pub async fn wait_for(&self, n: usize, secs: u64) -> Vec<Mail> {
        for _ in 0..secs * 20 {
            if self.mails().len() >= n {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.mails()
    }

    /// Stops listening (the port is free again once this returns).
    pub fn stop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for TlsSmtpServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// What ended a conversation.
enum End {
    Quit,
    /// The client asked for STARTTLS and was told to go ahead.
    StartTls,
}

fn tls_session(
    tcp: std::net::TcpStream,
    mode: TlsMode,
    acceptor: &openssl::ssl::SslAcceptor,
    state: &Mutex<TlsState>,
) -> std::io::Result<()> {
    use std::io::{BufReader, Write};
    let handshake = |tcp| match acceptor.accept(tcp) {
        Ok(tls) => Some(tls),
        Err(_) => {
            state.lock().unwrap().failed_handshakes += 1;
            None
        }
    };
    match mode {
        TlsMode::Implicit => {
            let Some(mut tls) = handshake(tcp) else {
                return Ok(());
            };
            tls.write_all(b"220 smtp.test ESMTP\r\n")?;
            converse(&mut BufReader::new(tls), state, None)?;
        }
        TlsMode::StartTls => {
            let mut plain = BufReader::new(tcp);
            plain.get_mut().write_all(b"220 smtp.test ESMTP\r\n")?;
            if let End::StartTls = converse(&mut plain, state, Some(()))? {
                let Some(tls) = handshake(plain.into_inner()) else {
                    return Ok(());
                };
                state.lock().unwrap().starttls += 1;
                converse(&mut BufReader::new(tls), state, None)?;
            }
        }
    }
    Ok(())
}

/// One SMTP conversation over `s` (blocking). `plain` is `Some` before a
/// STARTTLS upgrade: STARTTLS is offered and MAIL refused until it happened.
fn converse<S: std::io::Read + std::io::Write>(
    s: &mut std::io::BufReader<S>,
    state: &Mutex<TlsState>,
    plain: Option<()>,
) -> std::io::Result<End> {
    use std::io::BufRead;
    let (mut from, mut to) = (String::new(), Vec::new());
    let mut line = String::new();
    loop {
        line.clear();
        if s.read_line(&mut line)? == 0 {
            return Ok(End::Quit);
        }
        let cmd = line.trim_end().to_owned();
        let upper = cmd.to_ascii_uppercase();
        let reply: &[u8] = if upper.starts_with("EHLO") {
            if plain.is_some() {
                b"250-smtp.test\r\n250-8BITMIME\r\n250 STARTTLS\r\n"
            } else {
                b"250-smtp.test\r\n250 8BITMIME\r\n"
            }
        } else if upper == "STARTTLS" && plain.is_some() {
            s.get_mut().write_all(b"220 2.0.0 Ready to start TLS\r\n")?;
            s.get_mut().flush()?;
            return Ok(End::StartTls);
        } else if plain.is_some() && (upper.starts_with("MAIL") || upper.starts_with("RCPT")) {
            b"530 5.7.0 Must issue a STARTTLS command first\r\n"
        } else if upper.starts_with("HELO") || upper.starts_with("NOOP") {
            b"250 OK\r\n"
        } else if upper.starts_with("RSET") {
            from.clear();
            to.clear();
            b"250 OK\r\n"
        } else if upper.starts_with("MAIL FROM:") {
            from = address(&cmd["MAIL FROM:".len()..]);
            to.clear();
            b"250 OK\r\n"
        } else if upper.starts_with("RCPT TO:") {
            to.push(address(&cmd["RCPT TO:".len()..]));
            b"250 OK\r\n"
        } else if upper == "DATA" {
            s.get_mut()
                .write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")?;
            let mut raw = String::new();
            loop {
                line.clear();
                if s.read_line(&mut line)? == 0 {
                    return Ok(End::Quit);
                }
                if line == ".\r\n" {
                    break;
                }
                raw.push_str(line.strip_prefix('.').unwrap_or(&line));
            }
            state.lock().unwrap().mails.push(Mail {
                tls: plain.is_none(),
                from: from.clone(),
                to: to.clone(),
                raw,
            });
            b"250 2.0.0 OK queued\r\n"
        } else if upper.starts_with("QUIT") {
            s.get_mut().write_all(b"221 Bye\r\n")?;
            return Ok(End::Quit);
        } else {
            b"502 Command not implemented\r\n"
        };
        s.get_mut().write_all(reply)?;
        s.get_mut().flush()?;
    }
}
