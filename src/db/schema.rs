//! diesel table definitions, written by hand against `migrations/` (both trees
//! must agree; `tests/it/schema_parity.rs` checks the databases they produce).
//! Only types that both backends share through `MultiConnection` are used:
//! BigInt, Integer, Text and Timestamp (UTC).

diesel::table! {
    parties (id) {
        id -> BigInt,
        kind -> Text,
        id_scheme -> Text,
        code -> Text,
        name -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    certificates (id) {
        id -> BigInt,
        party_id -> BigInt,
        kind -> Text,
        fingerprint -> Text,
        serial -> Text,
        issuer -> Text,
        subject -> Text,
        not_before -> Timestamp,
        not_after -> Timestamp,
        status -> Text,
        revoked_at -> Nullable<Timestamp>,
        scopes -> Text,
        ip_allowlist -> Text,
        pem -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    crl_entries (issuer, serial) {
        issuer -> Text,
        serial -> Text,
        revoked_at -> Timestamp,
        reason -> Text,
    }
}

diesel::table! {
    audit_log (id) {
        id -> BigInt,
        at -> Timestamp,
        fingerprint -> Nullable<Text>,
        actor -> Text,
        acting_for -> Nullable<Text>,
        action -> Text,
        object_type -> Text,
        object_id -> Nullable<Text>,
        outcome -> Text,
        detail -> Text,
    }
}

diesel::joinable!(certificates -> parties (party_id));

diesel::allow_tables_to_appear_in_same_query!(parties, certificates, crl_entries, audit_log);
