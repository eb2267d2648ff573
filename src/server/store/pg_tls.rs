//! TLS to PostgreSQL. `sslmode=require` (or `verify-ca` / `verify-full`, which mean the same
//! here) in the store's URL encrypts every connection with rustls and verifies the server's
//! certificate and host name against the system's trusted roots, plus the PEM file that
//! `sslrootcert=` names (a private CA, as managed databases use). Without it (`disable`, or the
//! default `prefer`) connections are plain TCP.
//!
//! Unlike libpq, `require` does not skip verification: an encrypted connection to a server that
//! nobody vouched for protects nothing, so aisys never makes one.
//!
//! Must not read files while parsing a URL: the root file is read when the store opens.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use tokio_postgres::config::SslMode;
use tokio_postgres_rustls::MakeRustlsConnect;

/// A store URL read into the driver's settings and what its TLS needs.
#[derive(Debug, Clone)]
pub(crate) struct PgUrl {
    pub config: tokio_postgres::Config,
    /// Whether connections must be encrypted.
    pub tls: bool,
    /// The extra trusted roots, from `sslrootcert=`.
    pub root_file: Option<PathBuf>,
}

/// Reads `url`; the error says what is wrong with it.
pub(crate) fn parse(url: &str) -> Result<PgUrl, String> {
    // The driver knows neither `sslrootcert` nor the verify modes: take them out first.
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut kept = Vec::new();
    let mut root_file = None;
    let mut verify = false;
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match (key, value) {
            ("sslrootcert", v) if !v.is_empty() => root_file = Some(PathBuf::from(decode(v)?)),
            ("sslrootcert", _) => return Err("sslrootcert= names no file".into()),
            ("sslmode", "verify-ca" | "verify-full") => verify = true,
            _ => kept.push(pair),
        }
    }
    let rest = if verify {
        kept.push("sslmode=require");
        kept.join("&")
    } else {
        kept.join("&")
    };
    let url = if rest.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{rest}")
    };
    let mut config: tokio_postgres::Config =
        url.parse().map_err(|e| super::postgres::pg_text(&e))?;
    let tls = config.get_ssl_mode() == SslMode::Require;
    if !tls {
        // Plain, as without a TLS connector: `prefer` would otherwise try TLS.
        config.ssl_mode(SslMode::Disable);
    }
    if root_file.is_some() && !tls {
        return Err(
            "sslrootcert is given but sslmode is not require (or verify-ca, verify-full): add sslmode=require"
                .into(),
        );
    }
    Ok(PgUrl {
        config,
        tls,
        root_file,
    })
}

/// A URL's query value with its `%XX` escapes decoded.
fn decode(v: &str) -> Result<String, String> {
    percent_encoding::percent_decode_str(v)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| format!("{v:?} is not UTF-8 once decoded"))
}

/// The connector every connection of the store uses: encrypting and verifying when `url`
/// asks for TLS (with the system's roots and `root_file`'s); when it does not, the same
/// connector is never asked to encrypt (the settings say `disable`).
pub(crate) fn connector(url: &PgUrl) -> Result<MakeRustlsConnect, String> {
    let mut roots = rustls::RootCertStore::empty();
    if url.tls {
        // Unreadable system certificates are skipped, as every TLS client does.
        let native = rustls_native_certs::load_native_certs();
        for cert in native.certs {
            let _ = roots.add(cert);
        }
        if let Some(file) = &url.root_file {
            let added = add_roots(&mut roots, file)?;
            if added == 0 {
                return Err(format!(
                    "sslrootcert {}: no certificate in it",
                    file.display()
                ));
            }
        }
        if roots.is_empty() {
            return Err(
                "sslmode=require, but this machine trusts no root certificate: install ca-certificates or give sslrootcert=FILE"
                    .into(),
            );
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}

/// Adds the certificates of the PEM file `file`; returns how many.
fn add_roots(roots: &mut rustls::RootCertStore, file: &Path) -> Result<usize, String> {
    let shown = file.display();
    let certs = CertificateDer::pem_file_iter(file)
        .map_err(|e| format!("sslrootcert {shown}: {e}"))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("sslrootcert {shown}: {e}"))?;
    let mut n = 0;
    for cert in certs {
        roots
            .add(cert)
            .map_err(|e| format!("sslrootcert {shown}: {e}"))?;
        n += 1;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tls_settings_are_read_out_of_the_url() {
        let plain = parse("postgres://u@db/x").unwrap();
        assert!(!plain.tls);
        assert_eq!(plain.config.get_ssl_mode(), SslMode::Disable);
        let prefer = parse("postgres://u@db/x?sslmode=prefer&application_name=a").unwrap();
        assert!(!prefer.tls, "prefer stays plain");
        assert_eq!(prefer.config.get_application_name(), Some("a"));
        let req = parse("postgres://u@db/x?sslmode=require&sslrootcert=%2Fetc%2Fca.pem").unwrap();
        assert!(req.tls);
        assert_eq!(req.root_file.as_deref(), Some(Path::new("/etc/ca.pem")));
        for mode in ["verify-ca", "verify-full"] {
            let v = parse(&format!("postgresql://u@db/x?sslmode={mode}")).unwrap();
            assert!(v.tls, "{mode}");
            assert_eq!(v.config.get_ssl_mode(), SslMode::Require);
        }
        let err = parse("postgres://u@db/x?sslrootcert=/ca.pem").unwrap_err();
        assert!(err.contains("sslmode=require"), "{err}");
        assert!(parse("postgres://u@db/x?sslrootcert=").is_err());
        assert!(parse("postgres://u@db/x?sslmode=sometimes").is_err());
    }

    #[test]
    fn a_root_file_without_certificates_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("ca.pem");
        std::fs::write(&file, "not a certificate\n").unwrap();
        let url = parse(&format!(
            "postgres://u@db/x?sslmode=require&sslrootcert={}",
            file.display()
        ))
        .unwrap();
        let err = connector(&url).err().unwrap();
        assert!(
            err.contains("ca.pem") && err.contains("no certificate"),
            "{err}"
        );
        let missing =
            parse("postgres://u@db/x?sslmode=require&sslrootcert=/nonexistent.pem").unwrap();
        let err = connector(&missing).err().unwrap();
        assert!(err.contains("/nonexistent.pem"), "{err}");
    }
}
