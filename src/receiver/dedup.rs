//! The reference receiver's memory of the `webhook-id`s it has stored, so a
//! redelivery — a retry after a lost answer, an operator's replay, the
//! platform's receiver check — is recognised after a restart too, and the
//! memory stays bounded.
//!
//! The file holds one line per stored message, `<unix seconds> <webhook-id>`,
//! appended after the message itself was written: a crash between the two
//! writes lets that one message through again (at least once), never loses
//! it. Ids older than the window, or beyond the size bound (oldest first),
//! are forgotten; the file is rewritten (temp file + rename) when it holds
//! more than twice the live ids.

use std::collections::{HashMap, VecDeque};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

/// The longest `webhook-id` kept; longer ones are refused by the receiver.
pub const MAX_ID_LEN: usize = 200;

/// How long and how many ids are remembered.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub window_secs: i64,
    pub max_ids: usize,
}

impl Default for Limits {
    /// Seven days covers the platform's whole retry schedule (about 66 hours)
    /// with room for a replay in the following days.
    fn default() -> Self {
        Self {
            window_secs: 7 * 24 * 3600,
            max_ids: 1_000_000,
        }
    }
}

/// Whether an id may be kept in the file: printable, no whitespace.
pub fn acceptable(id: &str) -> bool {
    !id.is_empty() && id.len() <= MAX_ID_LEN && id.chars().all(|c| c.is_ascii_graphic())
}

#[derive(Debug)]
pub struct Dedup {
    limits: Limits,
    /// Id → when it was stored.
    seen: HashMap<String, i64>,
    /// Stored ids, oldest first (an entry whose time differs from `seen`'s
    /// is stale and skipped).
    order: VecDeque<(i64, String)>,
    /// Ids claimed by a request in flight, not yet stored.
    pending: HashMap<String, i64>,
    file: Option<(PathBuf, File)>,
    lines: usize,
}

impl Dedup {
    /// Opens (or creates) the file and loads the ids still inside the window;
    /// `None`: remember in memory only.
    pub fn open(path: Option<&Path>, limits: Limits, now: i64) -> std::io::Result<Self> {
        let mut d = Self {
            limits,
            seen: HashMap::new(),
            order: VecDeque::new(),
            pending: HashMap::new(),
            file: None,
            lines: 0,
        };
        let Some(path) = path else {
            return Ok(d);
        };
        if path.exists() {
            for line in BufReader::new(File::open(path)?).lines() {
                let line = line?;
                d.lines += 1;
                // A torn last line (crash mid-append) is skipped, not fatal.
                let Some((ts, id)) = line.split_once(' ') else {
                    continue;
                };
                let Ok(ts) = ts.parse::<i64>() else { continue };
                if acceptable(id) {
                    d.remember(id.to_owned(), ts);
                }
            }
        }
        d.expire(now);
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        d.file = Some((path.to_owned(), file));
        d.compact_if_needed()?;
        Ok(d)
    }

    fn remember(&mut self, id: String, ts: i64) {
        self.seen.insert(id.clone(), ts);
        self.order.push_back((ts, id));
    }

    fn expire(&mut self, now: i64) {
        let oldest_kept = now - self.limits.window_secs;
        while let Some((ts, id)) = self.order.front() {
            let live = self.seen.get(id) == Some(ts);
            if live && *ts >= oldest_kept && self.seen.len() <= self.limits.max_ids {
                break;
            }
            if live {
                self.seen.remove(id);
            }
            self.order.pop_front();
        }
    }

    /// Whether `id` is new; a new id is held for this request until
    /// [`Self::stored`] or [`Self::release`].
    pub fn claim(&mut self, id: &str, now: i64) -> bool {
        self.expire(now);
        if self.seen.contains_key(id) || self.pending.contains_key(id) {
            return false;
        }
        self.pending.insert(id.to_owned(), now);
        true
    }

    /// The message was not stored: a redelivery must be accepted.
    pub fn release(&mut self, id: &str) {
        self.pending.remove(id);
    }

    /// The message was stored: remember its id durably.
    pub fn stored(&mut self, id: &str) -> std::io::Result<()> {
        let Some(ts) = self.pending.remove(id) else {
            return Ok(());
        };
        if let Some((_, file)) = &mut self.file {
            file.write_all(format!("{ts} {id}\n").as_bytes())?;
            file.flush()?;
            self.lines += 1;
        }
        self.remember(id.to_owned(), ts);
        self.expire(ts);
        self.compact_if_needed()
    }

    /// Ids remembered now.
    pub fn len(&self) -> usize {
        self.seen.len()
    }

    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }

    fn compact_if_needed(&mut self) -> std::io::Result<()> {
        let Some((path, _)) = &self.file else {
            return Ok(());
        };
        if self.lines <= (2 * self.seen.len()).max(1024) {
            return Ok(());
        }
        let path = path.clone();
        let tmp = path.with_extension("compact");
        let mut out = File::create(&tmp)?;
        let mut text = String::new();
        let mut lines = 0;
        for (ts, id) in &self.order {
            if self.seen.get(id) == Some(ts) {
                text.push_str(&format!("{ts} {id}\n"));
                lines += 1;
            }
        }
        out.write_all(text.as_bytes())?;
        out.sync_all()?;
        std::fs::rename(&tmp, &path)?;
        let file = OpenOptions::new().append(true).open(&path)?;
        self.file = Some((path, file));
        self.lines = lines;
        self.order.retain(|(ts, id)| self.seen.get(id) == Some(ts));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(window_secs: i64, max_ids: usize) -> Limits {
        Limits {
            window_secs,
            max_ids,
        }
    }

    fn store(d: &mut Dedup, id: &str, now: i64) -> bool {
        let fresh = d.claim(id, now);
        if fresh {
            d.stored(id).unwrap();
        }
        fresh
    }

    #[test]
    fn an_id_stored_before_a_restart_is_a_duplicate_after_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ids");
        let mut d = Dedup::open(Some(&path), Limits::default(), 1000).unwrap();
        assert!(store(&mut d, "msg_a", 1000));
        assert!(!store(&mut d, "msg_a", 1001));
        drop(d);
        let mut d = Dedup::open(Some(&path), Limits::default(), 2000).unwrap();
        assert!(!d.claim("msg_a", 2000), "forgotten across a restart");
        assert!(d.claim("msg_b", 2000));
    }

    #[test]
    fn a_released_claim_accepts_the_redelivery() {
        let mut d = Dedup::open(None, Limits::default(), 0).unwrap();
        assert!(d.claim("msg_a", 0));
        assert!(
            !d.claim("msg_a", 0),
            "a concurrent duplicate while in flight"
        );
        d.release("msg_a");
        assert!(d.claim("msg_a", 1));
    }

    #[test]
    fn ids_leave_after_the_window_and_beyond_the_bound() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ids");
        let mut d = Dedup::open(Some(&path), limits(100, 3), 0).unwrap();
        for (i, id) in ["a", "b", "c", "d"].iter().enumerate() {
            assert!(store(&mut d, id, i as i64));
        }
        assert_eq!(d.len(), 3, "bounded to max_ids");
        assert!(d.claim("a", 4), "the oldest went first");
        d.release("a");
        assert!(!d.claim("d", 50));
        assert!(d.claim("d", 200), "expired after the window");
        drop(d);
        let d = Dedup::open(Some(&path), limits(100, 3), 200).unwrap();
        assert!(d.is_empty(), "expired ids are not loaded again");
    }

    #[test]
    fn the_file_is_compacted_and_a_torn_line_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ids");
        let mut d = Dedup::open(Some(&path), limits(10, 1_000_000), 0).unwrap();
        for i in 0..3000 {
            // Every id expires 10 s later, so few stay live.
            assert!(store(&mut d, &format!("msg_{i}"), i));
        }
        drop(d);
        let lines = std::fs::read_to_string(&path).unwrap().lines().count();
        assert!(lines <= 1100, "file not compacted: {lines} lines");
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"2999 msg_torn_without_newl").unwrap();
        f.write_all(b"\ngarbage\n").unwrap();
        drop(f);
        let mut d = Dedup::open(Some(&path), limits(10, 1_000_000), 2999).unwrap();
        assert!(!d.claim("msg_2999", 2999));
        assert!(d.claim("msg_3000", 2999));
    }

    #[test]
    fn ids_that_cannot_be_kept_are_recognised() {
        assert!(acceptable("msg_2Kx7"));
        assert!(!acceptable(""));
        assert!(!acceptable("two words"));
        assert!(!acceptable("line\nbreak"));
        assert!(!acceptable(&"x".repeat(MAX_ID_LEN + 1)));
    }
}
