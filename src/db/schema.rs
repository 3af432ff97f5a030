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
        deactivated_at -> Nullable<Timestamp>,
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
        holder -> Nullable<Text>,
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
        chain -> Nullable<BigInt>,
        seq -> Nullable<BigInt>,
        prev_hash -> Nullable<Text>,
        hash -> Nullable<Text>,
    }
}

diesel::table! {
    audit_chains (chain) {
        chain -> BigInt,
        seq -> BigInt,
        hash -> Text,
        anchor_seq -> BigInt,
        anchor_hash -> Text,
        anchor_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    audit_objects (audit_id, object_id) {
        audit_id -> BigInt,
        object_id -> Text,
    }
}

diesel::table! {
    audit_indexed (chain) {
        chain -> BigInt,
        seq -> BigInt,
    }
}

diesel::joinable!(certificates -> parties (party_id));

diesel::allow_tables_to_appear_in_same_query!(
    parties,
    certificates,
    crl_entries,
    audit_log,
    audit_chains,
    audit_objects,
    audit_indexed
);

diesel::table! {
    catalog_prestaties (uzovi, code) {
        uzovi -> Text,
        code -> Text,
        omschrijving -> Text,
        grondslag -> Text,
    }
}

diesel::table! {
    catalog_verstrekkingen (uzovi, code) {
        uzovi -> Text,
        code -> Text,
        naam -> Text,
        grondslag -> Text,
        definition -> Text,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    machtigingsaanvragen (id) {
        id -> Text,
        provider_agb -> Text,
        submitter -> Text,
        uzovi -> Text,
        referentie -> Text,
        content_hash -> Text,
        status -> Text,
        grondslag -> Text,
        verstrekking -> Text,
        bsn -> Text,
        geboortedatum -> Date,
        begindatum -> Date,
        einddatum -> Date,
        aanvraag -> Text,
        document -> Text,
        open_vragen -> Nullable<Text>,
        beslissing -> Nullable<Text>,
        machtigingsnummer -> Nullable<Text>,
        geldig_van -> Nullable<Date>,
        geldig_tot -> Nullable<Date>,
        version -> Integer,
        created_at -> Timestamp,
        submitted_at -> Nullable<Timestamp>,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    machtiging_events (id) {
        id -> BigInt,
        request_id -> Text,
        at -> Timestamp,
        action -> Text,
        status -> Text,
        actor -> Text,
        fingerprint -> Nullable<Text>,
        detail -> Text,
        document -> Nullable<Text>,
    }
}

diesel::table! {
    insurer_inbox (id) {
        id -> BigInt,
        uzovi -> Text,
        request_id -> Text,
        event_id -> BigInt,
        action -> Text,
        status -> Text,
        created_at -> Timestamp,
        acked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    terugkoppelingen (id) {
        id -> BigInt,
        public_id -> Text,
        recipient -> Text,
        event_type -> Text,
        subject_id -> Text,
        payload -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    optin_abonnementen (provider_agb) {
        provider_agb -> Text,
        status -> Text,
        notificatie_email -> Nullable<Text>,
        aangemeld_op -> Timestamp,
        afgemeld_op -> Nullable<Timestamp>,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    optin_registraties (id) {
        id -> Text,
        portal -> Text,
        referentie -> Text,
        content_hash -> Text,
        provider_agb -> Text,
        bsn -> Text,
        geboortedatum -> Date,
        naam -> Text,
        toestemming -> Text,
        gegeven_op -> Timestamp,
        status -> Text,
        reden_code -> Nullable<Text>,
        reden_tekst -> Nullable<Text>,
        afgehandeld_op -> Nullable<Timestamp>,
        afgehandeld_door -> Nullable<Text>,
        opgehaald_op -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    party_contacts (party) {
        party -> Text,
        contactpersoon_naam -> Nullable<Text>,
        contactpersoon_email -> Nullable<Text>,
        contactpersoon_telefoon -> Nullable<Text>,
        notificatie_emails -> Text,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    toestemmingsverklaringen (id) {
        id -> Text,
        provider_agb -> Text,
        vendor -> Text,
        geldig_tot -> Nullable<Date>,
        created_at -> Timestamp,
        created_by -> Text,
        revoked_at -> Nullable<Timestamp>,
        optin -> Integer,
    }
}

diesel::joinable!(machtiging_events -> machtigingsaanvragen (request_id));
diesel::joinable!(insurer_inbox -> machtigingsaanvragen (request_id));

diesel::allow_tables_to_appear_in_same_query!(
    machtigingsaanvragen,
    machtiging_events,
    insurer_inbox,
    catalog_verstrekkingen,
    catalog_prestaties,
    terugkoppelingen,
    optin_abonnementen,
    optin_registraties,
    party_contacts,
    toestemmingsverklaringen,
);

diesel::table! {
    terugkoppeling_endpoints (id) {
        id -> BigInt,
        party -> Text,
        url -> Text,
        format -> Text,
        ca_bundle -> Nullable<Text>,
        event_types -> Text,
        secret -> Text,
        previous_secret -> Nullable<Text>,
        previous_secret_until -> Nullable<Timestamp>,
        status -> Text,
        disabled_reason -> Nullable<Text>,
        failing_since -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    terugkoppeling_deliveries (id) {
        id -> BigInt,
        terugkoppeling_id -> BigInt,
        endpoint_id -> BigInt,
        subject_id -> Text,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        lease_owner -> Nullable<Text>,
        lease_until -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        delivered_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    terugkoppeling_attempts (id) {
        id -> BigInt,
        delivery_id -> BigInt,
        at -> Timestamp,
        http_status -> Nullable<Integer>,
        latency_ms -> BigInt,
        error -> Nullable<Text>,
        instance -> Text,
    }
}

diesel::table! {
    terugkoppeling_fanout (terugkoppeling_id) {
        terugkoppeling_id -> BigInt,
        at -> Timestamp,
    }
}

diesel::table! {
    terugkoppeling_acks (terugkoppeling_id) {
        terugkoppeling_id -> BigInt,
        party -> Text,
        at -> Timestamp,
    }
}

diesel::table! {
    terugkoppeling_state (name) {
        name -> Text,
        value -> BigInt,
    }
}

diesel::table! {
    terugkoppeling_controles (id) {
        id -> BigInt,
        public_id -> Text,
        party -> Text,
        url -> Text,
        format -> Text,
        status -> Text,
        report -> Nullable<Text>,
        error -> Nullable<Text>,
        started_at -> Timestamp,
        finished_at -> Nullable<Timestamp>,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    terugkoppelingen,
    terugkoppeling_endpoints,
    terugkoppeling_deliveries,
    terugkoppeling_attempts,
    terugkoppeling_fanout,
    terugkoppeling_acks,
);

diesel::table! {
    email_berichten (id) {
        id -> BigInt,
        dedup_key -> Text,
        soort -> Text,
        party -> Text,
        recipient -> Text,
        onderwerp -> Text,
        inhoud -> Text,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        lease_owner -> Nullable<Text>,
        lease_until -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        sent_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    email_state (name) {
        name -> Text,
        value -> BigInt,
    }
}
