//! The requests aisys sends the Modal bridge and the replies it reads back, as types: each
//! request is one JSON line `{"id": N, "op": "<op>", ...fields}` and each reply's `ok` object
//! is decoded into the struct of its op (see `bridge.py` for the other side).
//!
//! Must not decide anything: which image, tags, environment and limits a sandbox gets is
//! chosen by the backend ([`super`]); this only says how it travels.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};

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
}
