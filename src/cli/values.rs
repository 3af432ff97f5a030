//! The registry's closed sets as command-line value enums, so `--help` lists
//! them and a typo is refused with the valid spellings. The values are the
//! wire spellings (`machtigingen:indienen`, `persoonlijk`, `zorgaanbieder`).

use clap::ValueEnum;
use clap::builder::PossibleValue;

use crate::registry::{CertKind, PartyKind, Scope};

impl ValueEnum for Scope {
    fn value_variants<'a>() -> &'a [Self] {
        &Scope::ALL
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        let help = match self {
            Scope::MachtigingenRaadplegen => "read own requests and decisions",
            Scope::MachtigingenIndienen => {
                "submit, change and withdraw requests (implies machtigingen:raadplegen)"
            }
            Scope::Beoordelen => "insurer: assess requests and record decisions",
            Scope::TerugkoppelingBeheren => "register and manage callbacks, read terugkoppelingen",
            Scope::OptinAanmelden => "patient portal: register opt-in consent",
            Scope::OptinAfhandelen => "provider: handle opt-in registrations",
            Scope::Gebruikersbeheer => {
                "contact person (persoonlijk certificate): manage the party's certificates"
            }
        };
        Some(PossibleValue::new(self.as_str()).help(help))
    }
}

impl ValueEnum for CertKind {
    fn value_variants<'a>() -> &'a [Self] {
        &[CertKind::Persoonlijk, CertKind::Systeem]
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        let help = match self {
            CertKind::Persoonlijk => "a person (e.g. the contact person)",
            CertKind::Systeem => "software of the organisation",
        };
        Some(PossibleValue::new(self.as_str()).help(help))
    }
}

impl ValueEnum for PartyKind {
    fn value_variants<'a>() -> &'a [Self] {
        &PartyKind::ALL
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        let help = match self {
            PartyKind::Zorgaanbieder => "care provider (AGB)",
            PartyKind::Zorgverzekeraar => "insurer (UZOVI)",
            PartyKind::Zorgkantoor => "long-term care office (UZOVI)",
            PartyKind::Softwareleverancier => "software vendor (PLATFORM id)",
            PartyKind::Patientportaal => "patient portal (PLATFORM id)",
        };
        Some(PossibleValue::new(self.as_str()).help(help))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_the_wire_spellings() {
        for s in Scope::ALL {
            assert_eq!(<Scope as ValueEnum>::from_str(s.as_str(), false), Ok(s));
        }
        for k in PartyKind::ALL {
            assert_eq!(<PartyKind as ValueEnum>::from_str(k.as_str(), false), Ok(k));
        }
        assert_eq!(
            <CertKind as ValueEnum>::from_str("persoonlijk", false),
            Ok(CertKind::Persoonlijk)
        );
        assert!(<Scope as ValueEnum>::from_str("machtigingen:schrijven", false).is_err());
    }
}
