//! The requests aisys sends the Modal bridge and the lines it reads back, as types: each
//! request is one JSON line `{"id": N, "op": "<op>", ...fields}`; each line back is a reply, an
//! exec's output or exit, or an event ([`Incoming`]), and a reply's `ok` object is decoded into
//! the struct of its op (see `bridge.py` for the other side).
//!
//! Must not decide anything: which image, tags, environment and limits a sandbox gets is
//! chosen by the backend ([`super`]); this only says how it travels.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::super::EnvError;

/// One request, tagged by its `op` as the bridge's `op_<name>` methods expect.
#[derive(Debug, Serialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum BridgeRequest<'a> {
    /// Starts a sandbox; answered with [`CreateReply`].
    Create {
        app: &'a str,
        image: ImageSpec,
        /// Seconds the sandbox may live.
        timeout: u64,
        /// Seconds without an exec before Modal stops it.
        idle_timeout: Option<u64>,
        cpu: Option<f64>,
        /// MiB.
        memory_limit: Option<u64>,
        workdir: &'a str,
        tags: &'a BTreeMap<String, String>,
        env: BTreeMap<&'a str, &'a str>,
        /// Passed as a Modal Secret: it holds the model API key, never an image layer.
        secret_env: &'a BTreeMap<String, String>,
        /// Mount point -> volume name.
        volumes: BTreeMap<&'a str, String>,
        terminate_on_disconnect: bool,
        verbose: bool,
    },
    /// Finds a live sandbox by id; answered with [`AttachReply`].
    Attach {
        sandbox_id: &'a str,
    },
    /// The app's sandboxes carrying all of `tags`; answered with [`ListReply`].
    List {
        app: &'a str,
        tags: &'a BTreeMap<String, String>,
    },
    Terminate {
        sandbox_id: &'a str,
    },
    /// Starts a process whose output comes back as exec events named by `exec_id`.
    Exec {
        sandbox_id: &'a str,
        exec_id: &'a str,
        argv: Vec<&'a str>,
        workdir: &'a str,
        env: &'a BTreeMap<String, String>,
    },
    /// `data` is base64 ([`encode`]).
    WriteFile {
        sandbox_id: &'a str,
        path: &'a str,
        data: String,
    },
    /// Answered with [`ReadFileReply`].
    ReadFile {
        sandbox_id: &'a str,
        path: &'a str,
    },
    /// A chunk of a process's stdin, base64 ([`encode`]).
    Stdin {
        exec_id: &'a str,
        data: String,
    },
    CloseStdin {
        exec_id: &'a str,
    },
    Kill {
        exec_id: &'a str,
        signal: KillSignal,
    },
}

impl BridgeRequest<'_> {
    /// The op's name, for messages.
    pub fn op(&self) -> &'static str {
        match self {
            BridgeRequest::Create { .. } => "create",
            BridgeRequest::Attach { .. } => "attach",
            BridgeRequest::List { .. } => "list",
            BridgeRequest::Terminate { .. } => "terminate",
            BridgeRequest::Exec { .. } => "exec",
            BridgeRequest::WriteFile { .. } => "write_file",
            BridgeRequest::ReadFile { .. } => "read_file",
            BridgeRequest::Stdin { .. } => "stdin",
            BridgeRequest::CloseStdin { .. } => "close_stdin",
            BridgeRequest::Kill { .. } => "kill",
        }
    }
}

/// A request as it goes on the wire: with the id its reply will carry.
#[derive(Serialize)]
pub struct Envelope<'r, 'a> {
    pub id: u64,
    #[serde(flatten)]
    pub request: &'r BridgeRequest<'a>,
}

/// The image of a new sandbox: a registry image as it is, or Debian slim with what is listed.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum ImageSpec {
    Registry {
        registry: String,
    },
    Built {
        apt: Vec<&'static str>,
        commands: Vec<String>,
    },
}

/// The signal `kill` sends to a process's group.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum KillSignal {
    Term,
    Kill,
}

#[derive(Debug, Deserialize)]
pub struct CreateReply {
    pub sandbox_id: String,
}

#[derive(Debug, Deserialize)]
pub struct AttachReply {
    pub running: bool,
}

#[derive(Debug, Deserialize)]
pub struct ListReply {
    pub sandboxes: Vec<ListedSandbox>,
}

#[derive(Debug, Deserialize)]
pub struct ListedSandbox {
    pub sandbox_id: String,
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
pub struct ReadFileReply {
    /// The file's bytes, base64.
    data: String,
}

impl ReadFileReply {
    pub fn bytes(&self) -> Result<Vec<u8>, EnvError> {
        B64.decode(&self.data)
            .map_err(|_| EnvError::Backend("the Modal bridge's read_file reply has no data".into()))
    }
}

/// The reply of an op that answers only that it is done (what else it says is not needed).
#[derive(Debug, Deserialize)]
pub struct Done {}

/// An error as the bridge reports it: Modal's (or Python's) exception class and its message.
#[derive(Debug, Default, Deserialize)]
pub struct ErrorBody {
    #[serde(default)]
    pub class: String,
    #[serde(default)]
    pub message: String,
}

/// One line from the bridge, by what it is.
#[derive(Debug)]
pub enum Incoming {
    /// The first line of a bridge that started.
    Ready {
        protocol: Option<u64>,
        modal_version: Option<String>,
    },
    /// The first line of a bridge that cannot run (no SDK, no credentials).
    Fatal(ErrorBody),
    /// The answer to request `id`: its `ok` object, kept as text for the request to decode.
    Reply {
        id: u64,
        result: Result<Box<RawValue>, ErrorBody>,
    },
    /// A chunk of an exec's stdout (`fd` 1) or stderr (2), decoded.
    Output {
        exec: String,
        fd: u64,
        data: Vec<u8>,
    },
    /// An exec ended with `code` (negative: killed by signal `-code`).
    Exit { exec: String, code: i64 },
    /// An exec's stream broke.
    ExecFailed { exec: String, error: ErrorBody },
    /// Something the bridge wants logged.
    Log { message: String },
}

/// Every field a line may carry; which are present says which [`Incoming`] it is.
#[derive(Deserialize)]
struct Line {
    id: Option<u64>,
    ok: Option<Box<RawValue>>,
    error: Option<ErrorBody>,
    exec: Option<String>,
    fd: Option<u64>,
    data: Option<String>,
    exit: Option<i64>,
    event: Option<String>,
    class: Option<String>,
    message: Option<String>,
    protocol: Option<u64>,
    modal_version: Option<String>,
}

impl Incoming {
    /// Reads a line; `Err` says what is wrong with it.
    pub fn parse(line: &str) -> Result<Incoming, String> {
        let l: Line = serde_json::from_str(line).map_err(|e| e.to_string())?;
        if let Some(id) = l.id {
            let result = match (l.ok, l.error) {
                (Some(ok), _) => Ok(ok),
                (None, Some(error)) => Err(error),
                (None, None) => return Err("reply without ok or error".into()),
            };
            return Ok(Incoming::Reply { id, result });
        }
        if let Some(exec) = l.exec {
            return Ok(if let Some(data) = l.data {
                let data = B64.decode(data).map_err(|_| "data is not base64")?;
                match l.fd {
                    Some(fd @ (1 | 2)) => Incoming::Output { exec, fd, data },
                    _ => return Err("fd is not 1 or 2".into()),
                }
            } else if let Some(code) = l.exit {
                Incoming::Exit { exec, code }
            } else if let Some(error) = l.error {
                Incoming::ExecFailed { exec, error }
            } else {
                return Err("exec event without data, exit or error".into());
            });
        }
        match l.event.as_deref() {
            Some("ready") => Ok(Incoming::Ready {
                protocol: l.protocol,
                modal_version: l.modal_version,
            }),
            Some("fatal") => Ok(Incoming::Fatal(ErrorBody {
                class: l.class.unwrap_or_default(),
                message: l.message.unwrap_or_default(),
            })),
            Some("log") => Ok(Incoming::Log {
                message: l.message.unwrap_or_default(),
            }),
            _ => Err("neither a reply nor an event".into()),
        }
    }
}

/// Encodes bytes for a request.
pub fn encode(data: &[u8]) -> String {
    B64.encode(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_is_its_fields_with_its_id_and_op() {
        let tags = BTreeMap::from([("aisys.managed".to_string(), "true".to_string())]);
        let req = BridgeRequest::List {
            app: "aisys",
            tags: &tags,
        };
        let line = serde_json::to_value(Envelope {
            id: 7,
            request: &req,
        })
        .unwrap();
        assert_eq!(
            line,
            serde_json::json!({"id": 7, "op": "list", "app": "aisys", "tags": {"aisys.managed": "true"}})
        );
        let kill = BridgeRequest::Kill {
            exec_id: "x",
            signal: KillSignal::Term,
        };
        let line = serde_json::to_value(Envelope {
            id: 1,
            request: &kill,
        })
        .unwrap();
        assert_eq!(
            line,
            serde_json::json!({"id": 1, "op": "kill", "exec_id": "x", "signal": "TERM"})
        );
        assert_eq!(kill.op(), "kill");
    }

    #[test]
    fn images_are_a_registry_ref_or_what_to_install() {
        let r = ImageSpec::Registry {
            registry: "node:22".into(),
        };
        assert_eq!(
            serde_json::to_value(r).unwrap(),
            serde_json::json!({"registry": "node:22"})
        );
        let b = ImageSpec::Built {
            apt: vec!["git"],
            commands: vec!["npm i".into()],
        };
        assert_eq!(
            serde_json::to_value(b).unwrap(),
            serde_json::json!({"apt": ["git"], "commands": ["npm i"]})
        );
    }

    #[test]
    fn each_kind_of_line_is_read_as_what_it_is() {
        let reply = Incoming::parse(r#"{"id":3,"ok":{"sandbox_id":"sb-1"}}"#).unwrap();
        let Incoming::Reply {
            id: 3,
            result: Ok(ok),
        } = reply
        else {
            panic!("{reply:?}")
        };
        let created: CreateReply = serde_json::from_str(ok.get()).unwrap();
        assert_eq!(created.sandbox_id, "sb-1");
        assert!(matches!(
            Incoming::parse(r#"{"id":4,"error":{"class":"NotFoundError","message":"gone"}}"#),
            Ok(Incoming::Reply { id: 4, result: Err(ErrorBody { class, .. }) }) if class == "NotFoundError"
        ));
        assert!(matches!(
            Incoming::parse(r#"{"exec":"x","fd":2,"data":"aGk="}"#),
            Ok(Incoming::Output { fd: 2, data, .. }) if data == b"hi"
        ));
        assert!(matches!(
            Incoming::parse(r#"{"exec":"x","exit":-9}"#),
            Ok(Incoming::Exit { code: -9, .. })
        ));
        assert!(matches!(
            Incoming::parse(r#"{"event":"ready","protocol":1,"modal_version":"1.6.0"}"#),
            Ok(Incoming::Ready {
                protocol: Some(1),
                ..
            })
        ));
        assert!(matches!(
            Incoming::parse(r#"{"event":"fatal","class":"NoCredentials","message":"m"}"#),
            Ok(Incoming::Fatal(ErrorBody { class, .. })) if class == "NoCredentials"
        ));
        for (line, why) in [
            (r#"{"id":1}"#, "reply without ok or error"),
            (r#"{"exec":"x","fd":3,"data":"aGk="}"#, "fd is not 1 or 2"),
            (r#"{"exec":"x","fd":1,"data":"!"}"#, "data is not base64"),
            (r#"{"exec":"x"}"#, "exec event without data, exit or error"),
            (r#"{"hello":1}"#, "neither a reply nor an event"),
        ] {
            assert_eq!(Incoming::parse(line).unwrap_err(), why, "{line}");
        }
        assert!(Incoming::parse(r#"{"id":"a","ok":{}}"#).is_err());
    }
}
