//! OpenCode `export` documents: each message's own tokens and cost.
//!
//! Must not read Claude Code's formats: those are `claude`'s.

use super::*;

/// `opencode export <session>`: one document, `info` for the session and each message's own
/// `tokens` and `cost`.
#[derive(Deserialize)]
pub(super) struct Export {
    pub(super) info: ExportInfo,
    pub(super) messages: Vec<ExportMessage>,
}

#[derive(Deserialize)]
pub(super) struct ExportInfo {
    pub(super) id: String,
    #[serde(default)]
    pub(super) directory: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct ExportMessage {
    pub(super) info: ExportMessageInfo,
}

#[derive(Deserialize)]
pub(super) struct ExportMessageInfo {
    #[serde(default)]
    pub(super) id: Option<String>,
    #[serde(default)]
    pub(super) role: Option<String>,
    #[serde(default, rename = "modelID")]
    pub(super) model_id: Option<String>,
    #[serde(default)]
    pub(super) time: Option<ExportTime>,
    #[serde(default)]
    pub(super) tokens: Option<ExportTokens>,
    #[serde(default)]
    pub(super) cost: Option<f64>,
}

#[derive(Deserialize)]
pub(super) struct ExportTime {
    #[serde(default)]
    pub(super) created: Option<i64>,
}

#[derive(Deserialize)]
pub(super) struct ExportTokens {
    #[serde(default, deserialize_with = "null_is_zero")]
    pub(super) input: u64,
    #[serde(default, deserialize_with = "null_is_zero")]
    pub(super) output: u64,
    /// Thinking tokens, billed as output.
    #[serde(default, deserialize_with = "null_is_zero")]
    pub(super) reasoning: u64,
    #[serde(default)]
    pub(super) cache: Option<ExportCache>,
}

impl ExportTokens {
    /// OpenCode's counters as accounting's: reasoning is billed as output.
    pub(super) fn tokens(&self) -> TokenUsage {
        let (read, write) = self.cache.as_ref().map_or((0, 0), |c| (c.read, c.write));
        TokenUsage {
            input_tokens: self.input,
            output_tokens: self.output.saturating_add(self.reasoning),
            cache_creation_tokens: write,
            cache_read_tokens: read,
        }
    }
}

#[derive(Deserialize)]
pub(super) struct ExportCache {
    #[serde(default, deserialize_with = "null_is_zero")]
    pub(super) read: u64,
    #[serde(default, deserialize_with = "null_is_zero")]
    pub(super) write: u64,
}

pub(super) fn scan_export(path: &Path, file: std::fs::File) -> Result<FileUsage, UsageError> {
    let err = |what: String| UsageError::Export {
        path: path.to_path_buf(),
        what,
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    if len > MAX_DOCUMENT_BYTES {
        return Err(err(format!(
            "{len} bytes is more than an export can be ({MAX_DOCUMENT_BYTES} bytes)"
        )));
    }
    let export: Export = serde_json::from_reader(std::io::BufReader::new(file)).map_err(|e| {
        err(format!(
            "not an OpenCode export document (line {}, column {}): {e}",
            e.line(),
            e.column()
        ))
    })?;
    let mut models: Vec<String> = Vec::new();
    let mut records = Vec::new();
    for m in export.messages {
        let info = m.info;
        if info.role.as_deref() != Some("assistant") {
            continue;
        }
        let Some(t) = info.tokens else { continue };
        let model = info.model_id.filter(|m| !m.is_empty()).map(|m| {
            match models.iter().position(|x| *x == m) {
                Some(i) => i as u32,
                None => {
                    models.push(m);
                    (models.len() - 1) as u32
                }
            }
        });
        records.push(Record {
            key: info
                .id
                .map(|id| format!("opencode\n{}\n{id}", export.info.id).into_boxed_str()),
            model,
            time_ms: info.time.and_then(|t| t.created),
            tokens: t.tokens(),
            cache_1h: 0,
            sidechain: false,
            recorded_cost: info.cost,
        });
    }
    Ok(FileUsage {
        path: path.to_path_buf(),
        session: export.info.id,
        project: export.info.directory.unwrap_or_default(),
        models,
        records,
        bad: Vec::new(),
    })
}
