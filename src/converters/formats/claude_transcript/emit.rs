//! The second pass: each line re-read by its offset, in order, and turned into events through the
//! stream-json reader, with subagents nested under their calls.
//!
//! Must not decide the order: it follows the steps it is given.

use super::*;

/// The second pass: lines in order, into events.
pub(super) struct Emitter<'a> {
    pub(super) name: &'a str,
    pub(super) lines: &'a Lines,
    pub(super) index: &'a Index,
    pub(super) reader: ClaudeStreamReader,
    pub(super) buf: Vec<u8>,
    pub(super) files: &'a HashMap<String, Vec<PathBuf>>,
    pub(super) inline: HashMap<String, Vec<Vec<Step>>>,
    pub(super) no_sidechains: bool,
    pub(super) depth: usize,
    pub(super) emitted_files: HashSet<PathBuf>,
}

impl Emitter<'_> {
    pub(super) fn emit_all(
        &mut self,
        steps: &[Step],
        parent: Option<&str>,
        sink: &mut Sink<'_>,
    ) -> Result<(), ReadError> {
        for &step in steps {
            match step {
                Step::Rewind(_) => sink.event(StreamEvent::Notice {
                    kind: "rewind".into(),
                    text: "rewound: the conversation goes on from an earlier message; the messages above were abandoned".into(),
                    timestamp: None,
                })?,
                Step::Line(i) => self.emit_line(i, parent, sink)?,
            }
        }
        Ok(())
    }

    pub(super) fn emit_line(
        &mut self,
        i: usize,
        parent: Option<&str>,
        sink: &mut Sink<'_>,
    ) -> Result<(), ReadError> {
        let info = &self.index.lines[i];
        if info.bad || info.quiet {
            return Ok(());
        }
        let parsed = self
            .lines
            .text(info, &mut self.buf)
            .and_then(|t| message_line(t).map_err(|e| format!("not JSON: {e}")));
        let value = match parsed {
            Ok(v) => v,
            // The file changed between the passes.
            Err(what) => return sink.bad(BadLine::new(self.name, info.number, what)),
        };
        let timestamp = value["timestamp"].as_str().map(str::to_string);
        let events = line_events(&mut self.reader, value);
        let mut tasks = Vec::new();
        for mut ev in events {
            if let StreamEvent::ToolCall { id, name, .. } = &ev
                && SUBAGENT_TOOLS.contains(&name.as_str())
            {
                tasks.push(id.clone());
            }
            if let Some(p) = parent
                && let Some(slot) = ev.parent_tool_use_id_mut()
                && slot.is_none()
            {
                *slot = Some(p.to_string());
            }
            if let Some(slot) = ev.timestamp_mut()
                && slot.is_none()
            {
                slot.clone_from(&timestamp);
            }
            sink.event(ev)?;
        }
        if self.no_sidechains || self.depth >= MAX_SUBAGENT_DEPTH {
            return Ok(());
        }
        for task in tasks {
            self.emit_subagents(&task, sink)?;
        }
        Ok(())
    }

    pub(super) fn emit_subagents(
        &mut self,
        task: &str,
        sink: &mut Sink<'_>,
    ) -> Result<(), ReadError> {
        let mut sources: Vec<SubagentSource> = self
            .inline
            .remove(task)
            .unwrap_or_default()
            .into_iter()
            .map(|steps| {
                SubagentSource::Inline(
                    steps
                        .into_iter()
                        .filter_map(|s| match s {
                            Step::Line(i) => Some(i),
                            Step::Rewind(_) => None,
                        })
                        .collect(),
                )
            })
            .collect();
        for f in self.files.get(task).map(Vec::as_slice).unwrap_or(&[]) {
            sources.push(SubagentSource::File(f.clone()));
        }
        self.depth += 1;
        for source in sources {
            match source {
                SubagentSource::Inline(lines) => {
                    let steps: Vec<Step> = lines.into_iter().map(Step::Line).collect();
                    self.emit_all(&steps, Some(task), sink)?;
                }
                SubagentSource::File(path) => {
                    if !self.emitted_files.insert(path.clone()) {
                        continue;
                    }
                    self.emit_file(&path, task, sink)?;
                }
            }
        }
        self.depth -= 1;
        Ok(())
    }

    /// A subagent's own transcript, every event under `task`.
    pub(super) fn emit_file(
        &mut self,
        path: &Path,
        task: &str,
        sink: &mut Sink<'_>,
    ) -> Result<(), ReadError> {
        let name = path.display().to_string();
        let file = File::open(path).map_err(|e| ReadError::Io {
            input: name.clone(),
            source: e,
        })?;
        let index = build_index(&name, &file, sink)?;
        let lines = Lines::File(file);
        // A subagent file is all sidechain: order it as one tree.
        let all: Vec<usize> = (0..index.lines.len()).collect();
        let steps = tree_order(&index.lines, &all);
        let mut inner = Emitter {
            name: &name,
            lines: &lines,
            index: &index,
            reader: ClaudeStreamReader::new(),
            buf: Vec::new(),
            files: self.files,
            inline: HashMap::new(),
            no_sidechains: self.no_sidechains,
            depth: self.depth,
            emitted_files: std::mem::take(&mut self.emitted_files),
        };
        let result = inner.emit_all(&steps, Some(task), sink);
        self.emitted_files = inner.emitted_files;
        result
    }
}

/// The fields of a message line that its events are made from. The rest, above all
/// `toolUseResult` (which repeats a tool's output, often a whole file), is skipped unread.
#[derive(Deserialize)]
pub(super) struct MessageLine {
    #[serde(rename = "type")]
    pub(super) kind: Option<Value>,
    pub(super) message: Option<Value>,
    pub(super) uuid: Option<Value>,
    pub(super) timestamp: Option<Value>,
    pub(super) parent_tool_use_id: Option<Value>,
    #[serde(rename = "isCompactSummary")]
    pub(super) is_compact_summary: Option<Value>,
    #[serde(rename = "isMeta")]
    pub(super) is_meta: Option<Value>,
    pub(super) error: Option<Value>,
    #[serde(rename = "isApiErrorMessage")]
    pub(super) is_api_error_message: Option<Value>,
    #[serde(rename = "apiErrorStatus")]
    pub(super) api_error_status: Option<Value>,
}

/// A line as the reader needs it: a `user` or `assistant` line with only the fields its events
/// use, any other line whole (an unknown one is kept as it is).
pub(super) fn message_line(text: &str) -> Result<Value, serde_json::Error> {
    let is_message =
        |t: &str| t.contains("\"type\":\"user\"") || t.contains("\"type\":\"assistant\"");
    if !is_message(text) {
        return serde_json::from_str(text);
    }
    let l: MessageLine = serde_json::from_str(text)?;
    if !matches!(
        l.kind.as_ref().and_then(Value::as_str),
        Some("user" | "assistant")
    ) {
        // `"type":"user"` was inside the line, not its own type.
        return serde_json::from_str(text);
    }
    let mut m = serde_json::Map::new();
    for (k, v) in [
        ("type", l.kind),
        ("message", l.message),
        ("uuid", l.uuid),
        ("timestamp", l.timestamp),
        ("parent_tool_use_id", l.parent_tool_use_id),
        ("isCompactSummary", l.is_compact_summary),
        ("isMeta", l.is_meta),
        ("error", l.error),
        ("isApiErrorMessage", l.is_api_error_message),
        ("apiErrorStatus", l.api_error_status),
    ] {
        if let Some(v) = v {
            m.insert(k.to_string(), v);
        }
    }
    Ok(Value::Object(m))
}

/// The events of one transcript line. Message lines share stream-json's shape; the line types
/// of transcripts alone are read here.
pub(crate) fn line_events(reader: &mut ClaudeStreamReader, v: Value) -> Vec<StreamEvent> {
    let kind = v["type"].as_str().unwrap_or("");
    if BOOKKEEPING_TYPES.contains(&kind) {
        return vec![];
    }
    use crate::converters::formats::claude_stream::text_of;
    match kind {
        "summary" => vec![StreamEvent::Notice {
            kind: "summary".into(),
            text: v["summary"].as_str().unwrap_or("").to_string(),
            timestamp: None,
        }],
        // Text the app put in the conversation for the model (a skill's instructions, command
        // caveats, reminders).
        "user" if v["isMeta"].as_bool() == Some(true) => {
            vec![reader.injected(text_of(&v["message"]["content"]), None)]
        }
        "system" => match v["subtype"].as_str() {
            Some("compact_boundary") => {
                let m = &v["compactMetadata"];
                let mut text = String::from("conversation compacted");
                if let Some(t) = m["trigger"].as_str() {
                    text.push_str(&format!(" ({t}"));
                    if let Some(n) = m["preTokens"].as_u64() {
                        text.push_str(&format!(", {n} tokens before"));
                    }
                    text.push(')');
                }
                vec![StreamEvent::Notice {
                    kind: "compact_boundary".into(),
                    text,
                    timestamp: None,
                }]
            }
            Some("api_error") => vec![StreamEvent::Error {
                message: v["error"]["message"]
                    .as_str()
                    .or(v["content"].as_str())
                    .map(str::to_string)
                    .unwrap_or_else(|| v["error"].to_string()),
                code: Some("api_error".into()),
                timestamp: None,
            }],
            // Timing bookkeeping of the app.
            Some("turn_duration") => vec![],
            Some(sub) if v["content"].is_string() => vec![StreamEvent::Notice {
                kind: sub.to_string(),
                text: text_of(&v["content"]),
                timestamp: None,
            }],
            _ => vec![StreamEvent::Raw {
                source: Some(SOURCE.into()),
                json: v,
            }],
        },
        "user" | "assistant" | "result" => reader.read_value(v),
        _ => vec![StreamEvent::Raw {
            source: Some(SOURCE.into()),
            json: v,
        }],
    }
}
