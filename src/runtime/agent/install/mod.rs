//! Installing an agent CLI from the npm registry without npm: read the main package's metadata,
//! pick the native package for this machine from its `optionalDependencies`, download that
//! tarball, check its `dist.integrity` (SHA-512) before anything is unpacked, unpack it into a
//! staging folder, and switch the agent's `current` symlink to it.
//!
//! On disk, per agent (`<data>/agents/<agent>/`): one folder per installed version
//! (`<version>-<hash>`, each with the record `.aisys-install.json` of where it came from),
//! `current` naming the one in use, and `.stage-*` folders while an install runs. The symlink is
//! replaced with one `rename`, so an install that is interrupted or fails at any step leaves the
//! previous version in use; the version before the current one is kept, older ones are removed.
//! One install per agent at a time (a lock file). Must not run the agent for anything but
//! `--version`, nor write outside the agent's folder.

pub mod registry;
mod unpack;

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha512};

use super::binary::{CURRENT_LINK, Platform, agent_dir, agent_package, binary_version};
use crate::http::{Http, HttpError};
use crate::types::AgentKind;
pub use registry::{DEFAULT_REGISTRY, Registry};
pub use unpack::UnpackError;

/// Largest tarball downloaded: the biggest native agent package is under 100 MB compressed.
pub const MAX_TARBALL_BYTES: u64 = 1024 * 1024 * 1024;
/// Name prefix of the staging folders inside an agent's folder (the same filesystem as the
/// versions, so the final rename is atomic).
const STAGE_PREFIX: &str = ".stage-";
/// The record in each installed version's folder.
pub const RECORD_FILE: &str = ".aisys-install.json";
/// The lock file that keeps two installs of one agent from interleaving.
const LOCK_FILE: &str = ".lock";
/// Hex digits of the tarball's SHA-512 in a version folder's name: enough to tell two builds of
/// one version apart.
const HASH_IN_NAME: usize = 12;

/// Why an install failed. Every message says what the installed version is now: unchanged.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    #[error(
        "cannot reach the npm registry {registry} (chosen by {from}): {detail}\n  fix: check the network connection; behind a proxy set HTTPS_PROXY (and NO_PROXY for hosts reached directly); or point npm_config_registry (or registry= in ~/.npmrc) at a registry this machine reaches"
    )]
    Offline {
        registry: String,
        from: String,
        detail: String,
    },
    #[error("the registry {registry} has no package `{package}`")]
    NoSuchPackage { package: String, registry: String },
    #[error(
        "the registry {registry} has no version `{version}` of {package} (its latest is {latest})\n  fix: give a published version, or leave the version out for the one aisys is tested with"
    )]
    NoSuchVersion {
        package: String,
        version: String,
        registry: String,
        latest: String,
    },
    #[error("{url}: the registry's metadata is not usable: {detail}")]
    BadMetadata { url: String, detail: String },
    #[error(
        "{package}@{version} has no native package for this machine ({platform}); it has: {available}"
    )]
    NoPlatformPackage {
        package: String,
        version: String,
        platform: String,
        available: String,
    },
    #[error(
        "{url}: integrity check failed: {detail}; nothing was unpacked and the installed version is unchanged\n  fix: run the install again; if it fails the same way, the registry (or a proxy on the way) serves a different file than it describes"
    )]
    Integrity { url: String, detail: String },
    #[error("downloading {package}: {source}; the installed version is unchanged")]
    Download {
        package: String,
        #[source]
        source: Box<HttpError>,
    },
    #[error("{0}; the installed version is unchanged")]
    Unpack(#[from] UnpackError),
    #[error(
        "{package}@{version} was downloaded but its binary does not run: {detail}; the installed version is unchanged"
    )]
    BrokenBinary {
        package: String,
        version: String,
        detail: String,
    },
    #[error(transparent)]
    Http(Box<HttpError>),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> InstallError + '_ {
    move |source| InstallError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Where an installed version came from: written next to it, shown by `aisys agents list`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstallRecord {
    pub agent: AgentKind,
    /// The main package and version asked for (`@anthropic-ai/claude-code`, `2.1.197`).
    pub package: String,
    pub version: String,
    /// The native package that was unpacked.
    pub native_package: String,
    pub registry: String,
    pub tarball: String,
    pub integrity: String,
    /// When it was installed (UTC, RFC 3339).
    pub installed_at: String,
}

/// What an install did.
#[derive(Debug, Clone)]
pub struct Installed {
    /// The binary, through the `current` link.
    pub binary: PathBuf,
    /// What the binary says its version is.
    pub reported_version: String,
    pub record: InstallRecord,
    /// The same package was installed already, so nothing was downloaded.
    pub unchanged: bool,
}

/// Steps of an install, for a progress display.
#[derive(Debug, Clone)]
pub enum Progress {
    Resolving {
        package: String,
    },
    /// A download (re)starts; `total` is its announced length.
    Download {
        package: String,
        total: Option<u64>,
    },
    /// This many more bytes arrived.
    Bytes(u64),
    Unpacking,
    Done,
}

/// The record of the version in use, if it was installed this way.
pub fn installed_record(kind: AgentKind, data_dir: &Path) -> Option<InstallRecord> {
    let text = std::fs::read_to_string(
        agent_dir(kind, data_dir)
            .join(CURRENT_LINK)
            .join(RECORD_FILE),
    )
    .ok()?;
    serde_json::from_str(&text).ok()
}

/// Installs `version` (a version or a dist-tag) of `kind` from `registry` into `data_dir`.
pub async fn install(
    http: &Http,
    registry: &Registry,
    kind: AgentKind,
    version: &str,
    data_dir: &Path,
    progress: &(dyn Fn(Progress) + Send + Sync),
) -> Result<Installed, InstallError> {
    let platform = Platform::current();
    let pkg = agent_package(kind, &platform);
    progress(Progress::Resolving {
        package: format!("{}@{version}", pkg.main),
    });
    let main = registry.version(http, pkg.main, version).await?;
    let Some((native_name, native_version)) = pkg
        .candidates
        .iter()
        .find_map(|c| main.optional.get(c).map(|v| (c.clone(), v.clone())))
    else {
        return Err(InstallError::NoPlatformPackage {
            package: main.name,
            version: main.version,
            platform: platform.key(),
            available: main.optional.keys().cloned().collect::<Vec<_>>().join(", "),
        });
    };
    let native = registry
        .version(http, &native_name, &native_version)
        .await?;
    let fits = |list: &[String], mine: &str| list.is_empty() || list.iter().any(|x| x == mine);
    if !fits(&native.os, platform.os)
        || !fits(&native.cpu, platform.cpu)
        || (platform.os == "linux" && !fits(&native.libc, platform.libc()))
    {
        return Err(InstallError::NoPlatformPackage {
            package: main.name,
            version: main.version,
            platform: platform.key(),
            available: format!(
                "{native_name}, which is for os {:?}, cpu {:?}, libc {:?}",
                native.os, native.cpu, native.libc
            ),
        });
    }

    let root = agent_dir(kind, data_dir);
    std::fs::create_dir_all(&root).map_err(io(&root))?;
    let _lock = lock(&root).await?;
    remove_stages(&root);

    let record = InstallRecord {
        agent: kind,
        package: main.name.clone(),
        version: main.version.clone(),
        native_package: native_name.clone(),
        registry: registry.url.clone(),
        tarball: native.tarball.clone(),
        integrity: native.integrity.clone(),
        installed_at: crate::types::rfc3339(crate::types::now()),
    };
    let current_bin = root.join(CURRENT_LINK).join(pkg.binary);
    if let Some(old) = installed_record(kind, data_dir)
        && old.native_package == record.native_package
        && old.version == record.version
        && old.integrity == record.integrity
        && let Ok(v) = binary_version(&current_bin)
    {
        progress(Progress::Done);
        return Ok(Installed {
            binary: current_bin,
            reported_version: v,
            record: old,
            unchanged: true,
        });
    }

    let stage = tempfile::Builder::new()
        .prefix(STAGE_PREFIX)
        .tempdir_in(&root)
        .map_err(io(&root))?;
    let tgz = stage.path().join("package.tgz");
    let digest = download(http, registry, &native, &tgz, progress).await?;
    registry::verify_integrity(&native.integrity, &digest).map_err(|detail| {
        InstallError::Integrity {
            url: native.tarball.clone(),
            detail,
        }
    })?;

    progress(Progress::Unpacking);
    let unpacked = stage.path().join("package");
    std::fs::create_dir(&unpacked).map_err(io(&unpacked))?;
    let job = {
        let (tgz, unpacked) = (tgz.clone(), unpacked.clone());
        tokio::task::spawn_blocking(move || unpack::unpack(&tgz, &unpacked))
    };
    job.await.map_err(|e| InstallError::Io {
        path: tgz.clone(),
        source: std::io::Error::other(e.to_string()),
    })??;
    let _ = std::fs::remove_file(&tgz);
    let bin = unpacked.join(pkg.binary);
    let reported_version = {
        let bin = bin.clone();
        tokio::task::spawn_blocking(move || binary_version(&bin))
            .await
            .unwrap_or_else(|e| Err(e.to_string()))
    }
    .map_err(|detail| InstallError::BrokenBinary {
        package: native_name.clone(),
        version: native.version.clone(),
        detail,
    })?;
    let record_path = unpacked.join(RECORD_FILE);
    std::fs::write(
        &record_path,
        serde_json::to_vec_pretty(&record).unwrap_or_default(),
    )
    .map_err(io(&record_path))?;

    let hex: String = digest
        .iter()
        .take(HASH_IN_NAME / 2)
        .map(|b| format!("{b:02x}"))
        .collect();
    let name = format!("{}-{hex}", record.version);
    let dest = root.join(&name);
    let previous = std::fs::read_link(root.join(CURRENT_LINK)).ok();
    if dest.exists() && previous.as_deref() != Some(Path::new(&name)) {
        std::fs::remove_dir_all(&dest).map_err(io(&dest))?;
    } else if dest.exists() {
        // The same build is current but its record differs (another registry): keep the
        // folder in use and write the new record into it.
        std::fs::rename(&record_path, dest.join(RECORD_FILE)).map_err(io(&dest))?;
    }
    if !dest.exists() {
        std::fs::rename(&unpacked, &dest).map_err(io(&dest))?;
    }
    switch_current(&root, &name)?;
    prune(&root, &name, previous.as_deref());
    progress(Progress::Done);
    Ok(Installed {
        binary: current_bin,
        reported_version,
        record,
        unchanged: false,
    })
}

/// Downloads the tarball into `to`, hashing it on the way; returns its SHA-512.
async fn download(
    http: &Http,
    registry: &Registry,
    native: &registry::PackageVersion,
    to: &Path,
    progress: &(dyn Fn(Progress) + Send + Sync),
) -> Result<Vec<u8>, InstallError> {
    use std::io::{Seek, Write};
    let mut file = std::fs::File::create(to).map_err(io(to))?;
    let hasher = Mutex::new(Sha512::new());
    let failed = |e: std::io::Error| HttpError::Io {
        path: to.display().to_string(),
        source: e,
    };
    let headers = registry.headers_for(&native.tarball);
    let file_cell = Mutex::new(&mut file);
    http.download(
        &native.tarball,
        &headers,
        MAX_TARBALL_BYTES,
        &mut |total| {
            // A retry starts from the first byte again.
            let mut f = file_cell.lock().unwrap_or_else(|p| p.into_inner());
            f.set_len(0).map_err(failed)?;
            f.rewind().map_err(failed)?;
            *hasher.lock().unwrap_or_else(|p| p.into_inner()) = Sha512::new();
            progress(Progress::Download {
                package: native.name.clone(),
                total,
            });
            Ok(())
        },
        &mut |chunk| {
            let mut f = file_cell.lock().unwrap_or_else(|p| p.into_inner());
            f.write_all(chunk).map_err(failed)?;
            hasher
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .update(chunk);
            progress(Progress::Bytes(chunk.len() as u64));
            Ok(())
        },
    )
    .await
    .map_err(|e| match e {
        e @ HttpError::Unreachable { .. } => registry.fetch_error(e),
        source => InstallError::Download {
            package: native.name.clone(),
            source: Box::new(source),
        },
    })?;
    file.sync_all().map_err(io(to))?;
    Ok(hasher
        .into_inner()
        .unwrap_or_else(|p| p.into_inner())
        .finalize()
        .to_vec())
}

/// Takes the agent folder's lock, waiting for another install to finish.
async fn lock(root: &Path) -> Result<std::fs::File, InstallError> {
    let path = root.join(LOCK_FILE);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(io(&path))?;
    tokio::task::spawn_blocking(move || fs4::FileExt::lock(&file).map(|_| file))
        .await
        .map_err(|e| InstallError::Io {
            path: path.clone(),
            source: std::io::Error::other(e.to_string()),
        })?
        .map_err(io(&path))
}

/// Removes staging folders an interrupted install left (the lock is held: none is in use).
fn remove_stages(root: &Path) {
    for e in std::fs::read_dir(root).into_iter().flatten().flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        if name.starts_with(STAGE_PREFIX) || name.starts_with(".current-") {
            let p = e.path();
            let _ = std::fs::remove_dir_all(&p).or_else(|_| std::fs::remove_file(&p));
        }
    }
}

/// Points `current` at `name` with one rename of a new symlink over the old one.
fn switch_current(root: &Path, name: &str) -> Result<(), InstallError> {
    let tmp = root.join(format!(".current-{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(name, &tmp).map_err(io(&tmp))?;
    let link = root.join(CURRENT_LINK);
    std::fs::rename(&tmp, &link).map_err(io(&link))?;
    // The rename is durable once the folder's entry is.
    if let Ok(dir) = std::fs::File::open(root) {
        let _ = dir.sync_all();
    }
    Ok(())
}

/// Removes installed versions other than the current and the previous one.
fn prune(root: &Path, current: &str, previous: Option<&Path>) {
    for e in std::fs::read_dir(root).into_iter().flatten().flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        let keep = name.starts_with('.')
            || name == CURRENT_LINK
            || name == current
            || previous.is_some_and(|p| p == Path::new(&name));
        if !keep && e.file_type().is_ok_and(|t| t.is_dir()) {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}
