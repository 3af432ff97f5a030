//! The kinds of terugkoppeling and who may read each: the one list the pull,
//! the delivery log, acknowledgement and the audit of pushes consult
//! (docs/callbacks.md §7). A kind missing here is readable by nobody, and the
//! access-matrix test fails until it has a row.

use crate::registry::{Scope, Scopes};

/// One kind of terugkoppeling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventKind {
    /// The wire name (`type` of the message, `Soort` in SOAP).
    pub name: &'static str,
    /// The authorization a certificate needs to read a message of this kind
    /// (pull, acknowledge, its content in the delivery log). Managing its
    /// delivery needs `terugkoppeling:beheren` instead.
    pub content_scope: Scope,
    /// Carries patient data (a BSN, or a decision about a patient's care):
    /// every pull, read with content and push of it is in the audit log.
    pub patient_data: bool,
    /// Stored only for a party whose callback subscribes to it: the kind is
    /// the push of something the party pulls elsewhere (an insurer's inbox),
    /// so without a callback there is no one to tell.
    pub push_only: bool,
    /// A software vendor serving the recipient (a provider) receives and
    /// reads it only under a consent statement that also covers opt-in
    /// (`registry::consent`); other kinds of a provider under any valid one.
    pub optin_consent: bool,
}

/// Every kind the outbox writes.
pub const KINDS: &[EventKind] = &[
    EventKind {
        name: super::MACHTIGING_STATUS,
        content_scope: Scope::MachtigingenRaadplegen,
        patient_data: true,
        push_only: false,
        optin_consent: false,
    },
    EventKind {
        name: super::MACHTIGING_INBOX,
        content_scope: Scope::Beoordelen,
        patient_data: false,
        push_only: true,
        optin_consent: false,
    },
    EventKind {
        name: super::OPTIN_REGISTRATIE,
        content_scope: Scope::OptinAfhandelen,
        patient_data: true,
        push_only: false,
        optin_consent: true,
    },
    EventKind {
        name: super::OPTIN_STATUS,
        content_scope: Scope::OptinAanmelden,
        patient_data: false,
        push_only: false,
        optin_consent: false,
    },
];

pub fn kind(name: &str) -> Option<&'static EventKind> {
    KINDS.iter().find(|k| k.name == name)
}

/// Whether a certificate with `scopes` may read messages of kind `name`.
/// `machtigingen:indienen` includes `raadplegen` ([`Scopes`] keeps that).
pub fn may_read(scopes: Scopes, name: &str) -> bool {
    kind(name).is_some_and(|k| scopes.contains(k.content_scope))
}

/// The kinds a certificate with `scopes` may read.
pub fn readable(scopes: Scopes) -> Vec<&'static str> {
    KINDS
        .iter()
        .filter(|k| scopes.contains(k.content_scope))
        .map(|k| k.name)
        .collect()
}

/// Whether a vendor needs a consent statement covering opt-in to receive
/// or read a provider's message of kind `name`.
pub fn needs_optin_consent(name: &str) -> bool {
    kind(name).is_none_or(|k| k.optin_consent)
}

/// Whether messages of kind `name` are audited when read or pushed. An
/// unknown kind is, to be safe.
pub fn audited(name: &str) -> bool {
    kind(name).is_none_or(|k| k.patient_data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_subscribable_type_is_a_kind_and_back() {
        for t in crate::dispatch::registration::EVENT_TYPES {
            assert!(kind(t).is_some(), "{t} has no row in KINDS");
        }
        for k in KINDS {
            assert!(
                crate::dispatch::registration::EVENT_TYPES.contains(&k.name),
                "{} cannot be subscribed to",
                k.name
            );
        }
    }

    #[test]
    fn indienen_reads_what_raadplegen_reads() {
        let mut s = Scopes::default();
        s.grant(Scope::MachtigingenIndienen);
        assert_eq!(readable(s), [super::super::MACHTIGING_STATUS]);
        assert!(!may_read(s, super::super::OPTIN_REGISTRATIE));
        assert!(!may_read(s, "onbekend"));
    }
}
