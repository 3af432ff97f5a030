//! The lifecycle of a machtigingsaanvraag as one table: for every state, the
//! command a party gives and who gives it, the outcome — a new state, an
//! idempotent repetition, or a refusal with its error code. The service and
//! the insurer side ask [`step`]; `docs/levenscyclus.md` is this table
//! written out ([`markdown`]), and a test holds the two together and drives
//! every cell through the real service.
//!
//! Once the insurer has acted (assessment started, questions asked, or a
//! decision) the request never returns to `Ingediend`: answering questions
//! leads to `InBehandeling`. So "the insurer has not started" is exactly the
//! state `Ingediend`, and the provider may replace the document only there.

use super::model::{Action, Outcome, Soort, Status};
use crate::error::Code;

/// Who gives a command; the door checks it by the certificate's
/// authorization (`machtigingen:indienen` or `beoordelen`) before it looks
/// the request up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Actor {
    Zorgaanbieder,
    Zorgverzekeraar,
}

impl Actor {
    pub const ALL: [Actor; 2] = [Self::Zorgaanbieder, Self::Zorgverzekeraar];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Zorgaanbieder => "zorgaanbieder",
            Self::Zorgverzekeraar => "zorgverzekeraar",
        }
    }
}

/// A command as the doors offer it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Command {
    /// Submit a new document (`IndienenMachtigingsaanvraag`, `POST`).
    Indienen,
    /// Save a new document as Concept (the same call with `Concept`).
    OpslaanConcept,
    /// Replace the document, submitting it (`WijzigenMachtigingsaanvraag`, `PUT`).
    Wijzigen,
    /// Replace the document, keeping it a Concept (`PUT … ?concept=true`).
    WijzigenConcept,
    Intrekken,
    /// Answer the insurer's questions (`AanleverenAanvullendeInformatie`).
    Aanvullen,
    /// Insurer: start assessing (`VastleggenBeoordeling` InBehandeling).
    Behandelen,
    /// Insurer: ask questions (AanvullendeInformatieGevraagd).
    Vragen,
    /// Insurer: decide (Toegekend, DeelsToegekend, Afgewezen — all alike here).
    Beslissen,
    /// Insurer: revoke a grant (`HerzienenMachtiging` Herroeping).
    Herroepen,
    /// Insurer: end a grant earlier (Inkorting); the state stays.
    Inkorten,
    /// Insurer: end a grant later (Verlenging); the state stays.
    Verlengen,
}

impl Command {
    pub const ALL: [Command; 12] = [
        Self::Indienen,
        Self::OpslaanConcept,
        Self::Wijzigen,
        Self::WijzigenConcept,
        Self::Intrekken,
        Self::Aanvullen,
        Self::Behandelen,
        Self::Vragen,
        Self::Beslissen,
        Self::Herroepen,
        Self::Inkorten,
        Self::Verlengen,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Indienen => "indienen",
            Self::OpslaanConcept => "opslaanConcept",
            Self::Wijzigen => "wijzigen",
            Self::WijzigenConcept => "wijzigenConcept",
            Self::Intrekken => "intrekken",
            Self::Aanvullen => "aanvullen",
            Self::Behandelen => "inBehandeling",
            Self::Vragen => "vragen",
            Self::Beslissen => "beslissen",
            Self::Herroepen => "herroepen",
            Self::Inkorten => "inkorten",
            Self::Verlengen => "verlengen",
        }
    }

    /// The only actor the doors offer this command to.
    pub fn actor(self) -> Actor {
        match self {
            Self::Behandelen
            | Self::Vragen
            | Self::Beslissen
            | Self::Herroepen
            | Self::Inkorten
            | Self::Verlengen => Actor::Zorgverzekeraar,
            _ => Actor::Zorgaanbieder,
        }
    }

    /// Creates a request rather than naming one.
    fn creates(self) -> bool {
        matches!(self, Self::Indienen | Self::OpslaanConcept)
    }

    /// The name the history and the insurer's inbox record for this
    /// command taken from `from` (submitting a Concept is `indienen`).
    pub fn action(self, from: Option<Status>, outcome: Option<Outcome>) -> Action {
        match self {
            Self::Indienen => Action::Submit,
            Self::OpslaanConcept => Action::SaveConcept,
            Self::Wijzigen if from == Some(Status::Concept) => Action::Submit,
            Self::Wijzigen | Self::WijzigenConcept => Action::Modify,
            Self::Intrekken => Action::Withdraw,
            Self::Aanvullen => Action::SupplyInformation,
            Self::Behandelen => Action::StartAssessment,
            Self::Vragen => Action::AskInformation,
            Self::Beslissen => Action::Decide(outcome.unwrap_or(Outcome::Toegekend)),
            Self::Herroepen => Action::Revise(Soort::Herroeping),
            Self::Inkorten => Action::Revise(Soort::Inkorting),
            Self::Verlengen => Action::Revise(Soort::Verlenging),
        }
    }

    /// The command of a revision.
    pub fn of_revision(soort: Soort) -> Self {
        match soort {
            Soort::Herroeping => Self::Herroepen,
            Soort::Inkorting => Self::Inkorten,
            Soort::Verlenging => Self::Verlengen,
        }
    }
}

/// What a command leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// The request moves to this state.
    To(Status),
    /// The same document again: answered with the request as it is
    /// (`herhaald`); other content under the same Referentie is `DUP-001`.
    Herhaald,
    /// Refused with this code; nothing changes.
    Refused(Code),
}

/// Where `Beslissen` leads: the outcome's state.
const DECIDED: Status = Status::Toegekend;

/// The allowed transitions: (from, command, to). `None` is a request that
/// does not exist yet. `Beslissen` is listed with [`DECIDED`] and leads to
/// the state of the decision's outcome. Every other cell is refused by the
/// rules in [`step`].
pub const TABLE: &[(Option<Status>, Command, Status)] = {
    use Command::*;
    use Status::*;
    &[
        (None, Indienen, Ingediend),
        (None, OpslaanConcept, Concept),
        (Some(Concept), Wijzigen, Ingediend),
        (Some(Concept), WijzigenConcept, Concept),
        (Some(Concept), Intrekken, Ingetrokken),
        (Some(Ingediend), Wijzigen, Ingediend),
        (Some(Ingediend), Intrekken, Ingetrokken),
        (Some(Ingediend), Behandelen, InBehandeling),
        (Some(Ingediend), Vragen, AanvullendeInformatieGevraagd),
        (Some(Ingediend), Beslissen, DECIDED),
        (Some(InBehandeling), Intrekken, Ingetrokken),
        (Some(InBehandeling), Vragen, AanvullendeInformatieGevraagd),
        (Some(InBehandeling), Beslissen, DECIDED),
        (Some(AanvullendeInformatieGevraagd), Intrekken, Ingetrokken),
        (
            Some(AanvullendeInformatieGevraagd),
            Aanvullen,
            InBehandeling,
        ),
        (Some(AanvullendeInformatieGevraagd), Beslissen, DECIDED),
        // A grant is revised by the insurer that gave it: shortened or
        // extended it stays what it was, revoked it is `Herroepen`.
        (Some(Toegekend), Command::Herroepen, Status::Herroepen),
        (Some(Toegekend), Inkorten, Toegekend),
        (Some(Toegekend), Verlengen, Toegekend),
        (Some(DeelsToegekend), Command::Herroepen, Status::Herroepen),
        (Some(DeelsToegekend), Inkorten, DeelsToegekend),
        (Some(DeelsToegekend), Verlengen, DeelsToegekend),
    ]
};

/// The outcome of `command` by `actor` on a request in state `from`:
/// 1. a command the doors do not offer to `actor` → `AUTZ-001`;
/// 2. a command naming a request that does not exist → `REQ-001`, as is an
///    insurer's command on a Concept (a Concept is never sent to the insurer);
/// 3. a create command for an existing request → [`Step::Herhaald`];
/// 4. a row of [`TABLE`] → its state; anything else → `STA-001`.
pub fn step(from: Option<Status>, command: Command, actor: Actor) -> Step {
    if command.actor() != actor {
        return Step::Refused(Code::ScopeMissing);
    }
    match from {
        None if !command.creates() => Step::Refused(Code::NotFound),
        Some(Status::Concept) if actor == Actor::Zorgverzekeraar => Step::Refused(Code::NotFound),
        Some(_) if command.creates() => Step::Herhaald,
        _ => TABLE
            .iter()
            .find(|(f, c, _)| *f == from && *c == command)
            .map_or(Step::Refused(Code::StatusTransition), |(_, _, to)| {
                Step::To(*to)
            }),
    }
}

/// A refused transition: the command and the state it was tried in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{} is niet toegestaan in status {}", command.as_str(), from)]
pub struct IllegalTransition {
    pub from: Status,
    pub command: Command,
}

/// [`step`] for the actor the command belongs to, on an existing request
/// (or a new one for the create commands): the new state, with a decision's
/// outcome applied.
pub fn transition(
    from: Option<Status>,
    command: Command,
    outcome: Option<Outcome>,
) -> Result<Status, IllegalTransition> {
    match step(from, command, command.actor()) {
        Step::To(to) if command == Command::Beslissen => Ok(outcome.map_or(to, Outcome::status)),
        Step::To(to) => Ok(to),
        _ => Err(IllegalTransition {
            from: from.unwrap_or(Status::Concept),
            command,
        }),
    }
}

/// The states as the table's rows: `(nieuw)` first.
pub fn states() -> impl Iterator<Item = Option<Status>> {
    std::iter::once(None).chain(Status::ALL.into_iter().map(Some))
}

fn cell(s: Step, command: Command) -> String {
    match s {
        Step::To(_) if command == Command::Beslissen => "→ beslissing".to_owned(),
        Step::To(to) => format!("→ {to}"),
        Step::Herhaald => "herhaald".to_owned(),
        Step::Refused(code) => code.as_str().to_owned(),
    }
}

/// The table as Markdown, one row per state, one column per command, for
/// the actor each command belongs to (the other actor: `AUTZ-001` in every
/// cell). `docs/levenscyclus.md` holds exactly this between its markers.
pub fn markdown() -> String {
    let mut out = String::from("| status |");
    for c in Command::ALL {
        out.push_str(&format!(" `{}` ({}) |", c.as_str(), c.actor().as_str()));
    }
    out.push_str("\n|---|");
    out.push_str(&"---|".repeat(Command::ALL.len()));
    out.push('\n');
    for from in states() {
        out.push_str(&format!(
            "| {} |",
            from.map_or("(nieuw)".to_owned(), |s| format!("`{s}`"))
        ));
        for c in Command::ALL {
            out.push_str(&format!(" {} |", cell(step(from, c, c.actor()), c)));
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_other_actor_is_always_refused_and_every_refusal_has_a_code() {
        for from in states() {
            for c in Command::ALL {
                for a in Actor::ALL {
                    let s = step(from, c, a);
                    if a != c.actor() {
                        assert_eq!(s, Step::Refused(Code::ScopeMissing));
                    }
                    if let Step::Refused(code) = s {
                        assert!(
                            [Code::ScopeMissing, Code::NotFound, Code::StatusTransition]
                                .contains(&code)
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn modify_only_before_the_insurer_started_and_never_after_questions() {
        use Status::*;
        let after_questions = transition(
            Some(AanvullendeInformatieGevraagd),
            Command::Aanvullen,
            None,
        );
        assert_eq!(after_questions, Ok(InBehandeling));
        for s in Status::ALL {
            let allowed = transition(Some(s), Command::Wijzigen, None).is_ok();
            assert_eq!(allowed, matches!(s, Concept | Ingediend), "{s}");
        }
        assert_eq!(
            transition(
                Some(InBehandeling),
                Command::Beslissen,
                Some(Outcome::Afgewezen)
            ),
            Ok(Afgewezen)
        );
        assert!(transition(Some(Ingetrokken), Command::Intrekken, None).is_err());
    }
}

#[cfg(test)]
mod docs {
    /// `docs/levenscyclus.md` shows the table the code uses.
    #[test]
    fn the_documented_table_is_the_code_table() {
        let doc = include_str!("../../docs/levenscyclus.md");
        let (_, rest) = doc
            .split_once("<!-- tabel:begin -->\n")
            .expect("begin marker");
        let (table, _) = rest.split_once("<!-- tabel:end -->").expect("end marker");
        assert_eq!(
            table,
            super::markdown(),
            "docs/levenscyclus.md is out of date; the table is:\n{}",
            super::markdown()
        );
    }
}
