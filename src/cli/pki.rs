//! `machtigingen pki …`: the platform CA on the operator's host.

use std::net::IpAddr;
use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::{CliResult, open_db};
use crate::audit::Actor;
use crate::config::Config;
use crate::devsetup;
use crate::pki::{self, Ca, Validity};
use crate::registry::admin::{self, IssueRequest, KeySource};
use crate::registry::{CertKind, PartyRef, Scope, parse_allowlist, store};

#[derive(Debug, Subcommand)]
pub enum PkiCommand {
    /// Create a development CA (in pki.dir), a server certificate for localhost and
    /// 127.0.0.1 (at tls.cert / tls.key) and an empty CRL. Development use only:
    /// production brings its own CA and server certificate.
    Init {
        /// Replace an existing CA (every certificate it issued stops working).
        #[arg(long)]
        force: bool,
        /// Host names for the server certificate.
        #[arg(long = "dns", value_name = "NAME", default_values_t = ["localhost".to_owned()])]
        dns: Vec<String>,
        /// IP addresses for the server certificate.
        #[arg(long = "ip", value_name = "ADDR", default_values_t = [IpAddr::from([127, 0, 0, 1]), IpAddr::from([0u16, 0, 0, 0, 0, 0, 0, 1])])]
        ips: Vec<IpAddr>,
    },
    /// Issue a client certificate from the platform CA and register it to a party
    /// in one step. Writes PREFIX.pem, and unless --csr is given PREFIX.key and
    /// PREFIX.p12 (PKCS#12 with the CA chain, encrypted with the password from
    /// --p12-password-file or MACHTIGINGEN_P12_PASSWORD).
    Issue(IssueArgs),
    /// Revoke a certificate: refused at once through the registry, and listed in
    /// a newly written CRL that running servers pick up at their next reload.
    Revoke {
        /// The certificate to revoke (PEM or DER).
        #[arg(long, value_name = "FILE")]
        cert: PathBuf,
        /// Reason recorded with the revocation.
        #[arg(long, default_value = "ingetrokken door beheerder")]
        reason: String,
    },
    /// Rewrite the CRL from the revocations recorded in the database.
    Crl,
    /// Sign a CSR with the platform CA in pki.dir WITHOUT touching the
    /// database: for an offline CA (pki.csr_signing = false on the serving
    /// hosts). Writes PREFIX.pem and prints the `cert register` command that
    /// registers it where the database is.
    Sign(SignArgs),
}

#[derive(Debug, Args)]
pub struct SignArgs {
    /// The certificate signing request (PEM or DER), e.g. as a contact person sent it.
    #[arg(long, value_name = "FILE")]
    csr: PathBuf,
    /// The party: AGB:03123456, UZOVI:3311 or PLATFORM:some-id (its OU).
    #[arg(long, value_name = "PARTY")]
    party: PartyRef,
    /// The party's organisation name (the certificate's O); defaults to the party reference.
    #[arg(long, value_name = "NAME")]
    name: Option<String>,
    #[arg(long, value_name = "KIND", default_value = "systeem")]
    kind: CertKind,
    /// Authorization to grant at registration; repeat for more.
    #[arg(long = "grant", value_name = "AUTHORIZATION")]
    grants: Vec<Scope>,
    /// Common name; defaults to "<name> <kind>".
    #[arg(long, value_name = "NAME")]
    cn: Option<String>,
    /// Validity in days; defaults to pki.cert_validity_days.
    #[arg(long, value_name = "DAYS")]
    days: Option<u32>,
    /// Output prefix: writes PREFIX.pem.
    #[arg(long, value_name = "PREFIX")]
    out: PathBuf,
}

#[derive(Debug, Args)]
pub struct IssueArgs {
    /// The party: AGB:03123456, UZOVI:3311 or PLATFORM:some-id.
    #[arg(long, value_name = "PARTY")]
    party: PartyRef,
    /// persoonlijk (a person) or systeem (software).
    #[arg(long, value_name = "KIND")]
    kind: CertKind,
    /// Authorization to grant; repeat for more (e.g. machtigingen:indienen).
    #[arg(long = "grant", value_name = "AUTHORIZATION")]
    grants: Vec<Scope>,
    /// Allowed source address or CIDR (systeem certificates); repeat for more.
    #[arg(long = "ip", value_name = "CIDR")]
    ips: Vec<String>,
    /// Output prefix: writes PREFIX.pem, PREFIX.key and PREFIX.p12.
    #[arg(long, value_name = "PREFIX")]
    out: PathBuf,
    /// Sign this certificate signing request instead of generating a key.
    #[arg(long, value_name = "FILE")]
    csr: Option<PathBuf>,
    /// Common name; defaults to "<party name> <kind>". For a persoonlijk
    /// certificate: the holder's name, recorded as its holder.
    #[arg(long, value_name = "NAME")]
    cn: Option<String>,
    /// Validity in days; defaults to pki.cert_validity_days.
    #[arg(long, value_name = "DAYS")]
    days: Option<u32>,
    /// File whose first line is the password of PREFIX.p12 (required unless
    /// --csr is given; or set MACHTIGINGEN_P12_PASSWORD). Never empty: Java's
    /// and .NET's key stores read no certificate from a PKCS#12 file without one.
    #[arg(long, value_name = "FILE")]
    p12_password_file: Option<PathBuf>,
}

/// Environment variable with the PKCS#12 password (instead of a file).
pub const P12_PASSWORD_ENV: &str = "MACHTIGINGEN_P12_PASSWORD";

/// The PKCS#12 password: the first line of `file`, else the environment; it
/// is never taken from the command line, where other users can read it.
fn p12_password(file: Option<&std::path::Path>) -> Result<String, String> {
    let password = match file {
        Some(path) => std::fs::read_to_string(path)
            .map_err(|e| format!("{}: {e}", path.display()))?
            .lines()
            .next()
            .unwrap_or("")
            .to_owned(),
        None => std::env::var(P12_PASSWORD_ENV).unwrap_or_default(),
    };
    if password.is_empty() {
        return Err(format!(
            "a password for the PKCS#12 file is required: --p12-password-file FILE or \
             {P12_PASSWORD_ENV} (non-empty), or bring your own key with --csr"
        ));
    }
    Ok(password)
}

pub fn run(cmd: PkiCommand, config: &Config) -> CliResult {
    match cmd {
        PkiCommand::Init { force, dns, ips } => {
            devsetup::init_pki(config, &dns, &ips, force)?;
            println!(
                "Development CA created in {} (NOT FOR PRODUCTION).\nServer certificate: {} (key {})\nCRL: {}",
                config.pki.dir.display(),
                config.tls.cert.display(),
                config.tls.key.display(),
                devsetup::crl_path(config).display()
            );
            Ok(())
        }
        PkiCommand::Issue(args) => issue(args, config),
        PkiCommand::Sign(args) => sign(args, config),
        PkiCommand::Revoke { cert, reason } => revoke(&cert, &reason, config),
        PkiCommand::Crl => {
            let ca = Ca::load(&config.pki.dir)?;
            let db = open_db(config)?;
            let n = admin::publish_crl(&mut *db.conn()?, &ca, &devsetup::crl_path(config), 30)?;
            println!(
                "CRL written to {} ({n} revoked)",
                devsetup::crl_path(config).display()
            );
            Ok(())
        }
    }
}

fn issue(args: IssueArgs, config: &Config) -> CliResult {
    // Before anything is issued: a refused password must not leave a
    // registered certificate without its files.
    let password = match args.csr {
        Some(_) => String::new(),
        None => p12_password(args.p12_password_file.as_deref())?,
    };
    let ca = Ca::load(&config.pki.dir)?;
    let db = open_db(config)?;
    let key = match &args.csr {
        Some(path) => {
            KeySource::Csr(std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?)
        }
        None => KeySource::Generate(config.pki.key_type),
    };
    let issued = admin::issue(
        &mut *db.conn()?,
        &ca,
        IssueRequest {
            party: args.party,
            kind: args.kind,
            scopes: args.grants.into_iter().collect(),
            ip_allowlist: parse_allowlist(&args.ips)?,
            key,
            common_name: args.cn,
            validity: Validity::days_from_now(args.days.unwrap_or(config.pki.cert_validity_days)),
        },
        &Actor::operator(),
    )?;
    let files = pki::write_issued(
        &args.out,
        &issued.cert,
        issued.key.as_deref(),
        &ca.cert,
        &password,
    )?;
    let c = &issued.registered;
    println!(
        "Issued and registered {} certificate for {} ({})",
        c.kind.as_str(),
        c.party.reference,
        c.party.name
    );
    println!("  fingerprint   {}", c.fingerprint);
    println!("  authorizations {}", c.scopes.to_db());
    println!("  valid until   {}", c.not_after);
    println!("  certificate   {}", files.cert.display());
    if let (Some(k), Some(p)) = (files.key, files.p12) {
        println!("  private key   {}", k.display());
        println!("  PKCS#12       {}", p.display());
    }
    Ok(())
}

/// `pki sign`: the CA key and the CSR, nothing else (no database).
fn sign(args: SignArgs, config: &Config) -> CliResult {
    let csr = std::fs::read(&args.csr).map_err(|e| format!("{}: {e}", args.csr.display()))?;
    let ca = Ca::load(&config.pki.dir)?;
    let organization = args.name.unwrap_or_else(|| args.party.to_string());
    let subject = pki::ClientSubject {
        common_name: args
            .cn
            .unwrap_or_else(|| format!("{organization} {}", args.kind.as_str())),
        organization,
        organizational_unit: args.party.to_string(),
    };
    let validity = Validity::days_from_now(args.days.unwrap_or(config.pki.cert_validity_days));
    let cert = ca.sign_csr(&csr, &subject, validity)?;
    let mut path = args.out.into_os_string();
    path.push(".pem");
    let path = PathBuf::from(path);
    pki::write_file(&path, &cert.to_pem()?, false)?;
    println!("Signed {} ({})", path.display(), pki::fingerprint(&cert)?);
    let mut register = format!(
        "machtigingen cert register --cert {} --party {} --kind {}",
        path.display(),
        args.party,
        args.kind.as_str()
    );
    for g in &args.grants {
        register.push_str(&format!(" --grant {g}"));
    }
    println!("Register it where the database is:\n  {register}");
    Ok(())
}

fn revoke(path: &std::path::Path, reason: &str, config: &Config) -> CliResult {
    let cert = pki::read_cert(path)?;
    let fingerprint = pki::fingerprint(&cert)?;
    let ca = Ca::load(&config.pki.dir)?;
    let db = open_db(config)?;
    let mut conn = db.conn()?;
    let registered = store::certificate_by_fingerprint(&mut conn, &fingerprint)?
        .ok_or_else(|| format!("certificate {fingerprint} is not registered"))?;
    if admin::revoke(
        &mut conn,
        Some(&ca),
        &registered,
        reason,
        &Actor::operator(),
    )? {
        let n = admin::publish_crl(&mut conn, &ca, &devsetup::crl_path(config), 30)?;
        println!(
            "Revoked {fingerprint}; CRL {} now lists {n} certificate(s).",
            devsetup::crl_path(config).display()
        );
    } else {
        println!("Revoked {fingerprint} in the registry (issued by another CA: not on our CRL).");
    }
    Ok(())
}
