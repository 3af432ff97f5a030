//! Normalises wire bodies before they are snapshotted: whatever differs per
//! run (ids, timestamps, dates relative to today, ports, secrets, hashes)
//! becomes a placeholder, and nothing else changes — so a snapshot moves only
//! when the wire does, on SQLite and PostgreSQL alike.
//!
//! The same rules apply to XML text and to every string in a JSON value.
//! Ids are numbered in order of first appearance (`[MA-1]`, `[MA-2]`), which
//! keeps "the same id twice" visible in a snapshot. The crate has no regex
//! dependency and the tests add none: text is cut into words and each word is
//! classified.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate};

/// One normalisation pass; ids keep their numbers across calls on the same
/// value, so build one per snapshot.
#[derive(Default)]
pub struct Redactor {
    /// Exact strings to replace first (addresses with random ports).
    exact: Vec<(String, String)>,
    ids: HashMap<String, String>,
    per_prefix: HashMap<String, usize>,
}

impl Redactor {
    pub fn new() -> Self {
        Self::default()
    }

    /// Replaces every occurrence of `value` by `placeholder` before the word rules.
    pub fn exact(mut self, value: impl Into<String>, placeholder: impl Into<String>) -> Self {
        self.exact.push((value.into(), placeholder.into()));
        self
    }

    /// `localhost:PORT` and `127.0.0.1:PORT` of a test server become `[name]`.
    pub fn port(self, port: u16, name: &str) -> Self {
        self.exact(format!("localhost:{port}"), format!("localhost:[{name}]"))
            .exact(format!("127.0.0.1:{port}"), format!("127.0.0.1:[{name}]"))
    }

    pub fn text(&mut self, text: &str) -> String {
        let mut text = text.to_owned();
        for (value, placeholder) in &self.exact {
            text = text.replace(value.as_str(), placeholder);
        }
        let mut out = String::with_capacity(text.len());
        let mut word = String::new();
        for c in text.chars() {
            if is_word_char(c) {
                word.push(c);
            } else {
                self.flush(&mut word, &mut out);
                out.push(c);
            }
        }
        self.flush(&mut word, &mut out);
        out
    }

    /// Every string in `value` through [`Self::text`]; keys stay as they are.
    pub fn json(&mut self, value: &serde_json::Value) -> serde_json::Value {
        use serde_json::Value;
        match value {
            Value::String(s) => Value::String(self.text(s)),
            Value::Array(a) => Value::Array(a.iter().map(|v| self.json(v)).collect()),
            Value::Object(o) => {
                Value::Object(o.iter().map(|(k, v)| (k.clone(), self.json(v))).collect())
            }
            other => other.clone(),
        }
    }

    fn flush(&mut self, word: &mut String, out: &mut String) {
        if word.is_empty() {
            return;
        }
        // Sentence punctuation after a value is not part of it.
        let core = word.trim_end_matches(['.', ':', ',']);
        let tail = &word[core.len()..];
        let replaced = self.classify(core);
        out.push_str(replaced.as_deref().unwrap_or(core));
        out.push_str(tail);
        word.clear();
    }

    fn classify(&mut self, w: &str) -> Option<String> {
        if let Some(prefix) = id_prefix(w) {
            if let Some(p) = self.ids.get(w) {
                return Some(p.clone());
            }
            let n = self.per_prefix.entry(prefix.to_owned()).or_default();
            *n += 1;
            let placeholder = format!("[{prefix}-{n}]");
            self.ids.insert(w.to_owned(), placeholder.clone());
            return Some(placeholder);
        }
        if w.len() >= 20 && w.contains('T') && DateTime::parse_from_rfc3339(w).is_ok() {
            return Some("[tijdstip]".into());
        }
        if w.len() == 10 {
            if let Ok(d) = NaiveDate::parse_from_str(w, "%Y-%m-%d") {
                let offset = (d - chrono::Utc::now().date_naive()).num_days();
                // Dates the tests derive from today; fixed dates (a birth
                // date) are far from it and stay.
                if offset.abs() <= 3 * 366 {
                    return Some(format!("[vandaag{offset:+}]"));
                }
            }
        }
        if w.starts_with("whsec_") {
            return Some("[geheim]".into());
        }
        if w.len() == 64 && w.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Some("[sha256]".into());
        }
        None
    }
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | ':' | '.' | '+' | '_')
}

/// `MA…`, `TK…`, `OI…`, `TKV…`: an upper-case prefix and 32 lower-case hex
/// digits (`src/ids.rs`).
fn id_prefix(w: &str) -> Option<&str> {
    let split = w.find(|c: char| !c.is_ascii_uppercase())?;
    let (prefix, digits) = w.split_at(split);
    let hex = digits
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    (!prefix.is_empty() && prefix.len() <= 4 && digits.len() == 32 && hex).then_some(prefix)
}

/// The XML on one element per line, indented by depth, with an element that
/// holds only text kept on its line — so a snapshot diff points at the
/// element that changed. Names, prefixes, namespace declarations, attributes,
/// escapes and the text itself are kept byte for byte; only whitespace
/// between elements (which the services do not write) is not shown.
pub fn pretty_xml(xml: &str) -> String {
    enum Tok<'a> {
        Open(&'a str),
        Close(&'a str),
        Other(&'a str),
        Text(&'a str),
    }
    let mut toks = Vec::new();
    let mut rest = xml;
    while !rest.is_empty() {
        if rest.starts_with('<') {
            let end = rest.find('>').map_or(rest.len(), |i| i + 1);
            let tag = &rest[..end];
            toks.push(if tag.starts_with("</") {
                Tok::Close(tag)
            } else if tag.ends_with("/>") || tag.starts_with("<?") || tag.starts_with("<!") {
                Tok::Other(tag)
            } else {
                Tok::Open(tag)
            });
            rest = &rest[end..];
        } else {
            let end = rest.find('<').unwrap_or(rest.len());
            toks.push(Tok::Text(&rest[..end]));
            rest = &rest[end..];
        }
    }
    let mut out = String::new();
    let mut depth = 0usize;
    let mut i = 0;
    let line = |out: &mut String, depth: usize, s: &str| {
        out.push_str(&"  ".repeat(depth));
        out.push_str(s);
        out.push('\n');
    };
    while i < toks.len() {
        match (&toks[i], toks.get(i + 1), toks.get(i + 2)) {
            (Tok::Open(o), Some(Tok::Text(t)), Some(Tok::Close(c))) => {
                line(&mut out, depth, &format!("{o}{t}{c}"));
                i += 3;
            }
            (Tok::Open(o), Some(Tok::Close(c)), _) => {
                line(&mut out, depth, &format!("{o}{c}"));
                i += 2;
            }
            (Tok::Open(o), _, _) => {
                line(&mut out, depth, o);
                depth += 1;
                i += 1;
            }
            (Tok::Close(c), _, _) => {
                depth = depth.saturating_sub(1);
                line(&mut out, depth, c);
                i += 1;
            }
            (Tok::Other(s), _, _) => {
                line(&mut out, depth, s);
                i += 1;
            }
            (Tok::Text(t), _, _) => {
                if !t.trim().is_empty() {
                    line(&mut out, depth, t);
                }
                i += 1;
            }
        }
    }
    out
}
