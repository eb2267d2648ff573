//! Claude Code transcript and stream-json lines: which carry usage, and the fields read from them,
//! borrowed from the line; bad lines named with what was wrong.
//!
//! Must not price or add up: it turns lines into records for the parent to aggregate.

use super::*;

/// The state of reading one Claude Code file.
pub(super) struct ClaudeScan<'p> {
    pub(super) path: &'p Path,
    pub(super) session: Option<String>,
    pub(super) project: String,
    pub(super) models: Vec<String>,
    pub(super) records: Vec<Record>,
    /// Response key -> index in `records`, to merge the lines of one response in this file.
    pub(super) index: HashMap<Box<str>, usize>,
    /// Where the records of the current stream-json turn begin.
    pub(super) turn_start: usize,
    pub(super) bad: Vec<BadLine>,
}

/// The fields of a transcript line that accounting reads; everything else is skipped unparsed.
/// Fields that other line types use with other shapes are kept raw and read only when needed.
#[derive(Deserialize)]
pub(super) struct LineFields<'a> {
    #[serde(borrow, default)]
    pub(super) message: MessageSlot<'a>,
    #[serde(borrow, default)]
    pub(super) data: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub(super) timestamp: Option<&'a RawValue>,
    #[serde(borrow, default, rename = "requestId")]
    pub(super) request_id: Option<&'a RawValue>,
    #[serde(borrow, default, rename = "isSidechain")]
    pub(super) is_sidechain: Option<&'a RawValue>,
    #[serde(borrow, default, rename = "sessionId")]
    pub(super) session_id: Option<&'a RawValue>,
    /// stream-json's spelling.
    #[serde(borrow, default, rename = "session_id")]
    pub(super) session_id_snake: Option<&'a RawValue>,
    #[serde(borrow, default, rename = "costUSD")]
    pub(super) cost_usd: Option<&'a RawValue>,
    #[serde(borrow, default, rename = "type")]
    pub(super) kind: Option<&'a RawValue>,
    /// A stream-json `result` line's totals of its turn, per model.
    #[serde(borrow, default, rename = "modelUsage")]
    pub(super) model_usage: Option<&'a RawValue>,
}

/// An OpenCode `run --format json` line, as far as accounting reads it.
#[derive(Deserialize)]
pub(super) struct RunStepLine<'a> {
    #[serde(borrow, default, rename = "type")]
    pub(super) kind: Option<&'a RawValue>,
    /// Milliseconds since the epoch.
    #[serde(borrow, default)]
    pub(super) timestamp: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub(super) part: Option<&'a RawValue>,
}

#[derive(Deserialize)]
pub(super) struct RunStepPart {
    #[serde(default)]
    pub(super) id: Option<String>,
    #[serde(default, rename = "messageID")]
    pub(super) message_id: Option<String>,
    #[serde(default)]
    pub(super) tokens: Option<ExportTokens>,
    #[serde(default)]
    pub(super) cost: Option<f64>,
}

/// One model's totals in a `result` line's `modelUsage`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ModelTotals {
    #[serde(default)]
    pub(super) input_tokens: u64,
    #[serde(default)]
    pub(super) output_tokens: u64,
    #[serde(default)]
    pub(super) cache_read_input_tokens: u64,
    #[serde(default)]
    pub(super) cache_creation_input_tokens: u64,
}

/// A progress line of a running subagent (Claude Code 2.0.x), carrying its response: its
/// `message` is the subagent's own transcript line, read as one.
#[derive(Deserialize)]
pub(super) struct ProgressData<'a> {
    #[serde(borrow, default)]
    pub(super) message: Option<LineFields<'a>>,
}

/// A line's `message`: read in the same pass as the line when it is an object, skipped when it
/// is anything else (some line types put a string there; those carry no usage).
#[derive(Default)]
pub(super) struct MessageSlot<'a>(Option<MessageFields<'a>>);

impl<'de: 'a, 'a> Deserialize<'de> for MessageSlot<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Slot<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for Slot<'a> {
            type Value = MessageSlot<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a message")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<Self::Value, A::Error> {
                MessageFields::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(|m| MessageSlot(Some(m)))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Self::Value, A::Error> {
                while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
                Ok(MessageSlot(None))
            }
            fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
                Ok(MessageSlot(None))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
                Ok(MessageSlot(None))
            }
            fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
                Ok(MessageSlot(None))
            }
            fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
                Ok(MessageSlot(None))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
                Ok(MessageSlot(None))
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(MessageSlot(None))
            }
            fn visit_none<E>(self) -> Result<Self::Value, E> {
                Ok(MessageSlot(None))
            }
        }
        d.deserialize_any(Slot(std::marker::PhantomData))
    }
}

#[derive(Deserialize)]
pub(super) struct MessageFields<'a> {
    #[serde(borrow, default)]
    pub(super) id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub(super) model: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub(super) usage: Option<UsageFields<'a>>,
}

/// Anthropic's `usage` object. Counters may be null in some captures: null reads as 0.
#[derive(Deserialize)]
pub(super) struct UsageFields<'a> {
    #[serde(default, deserialize_with = "null_is_zero")]
    pub(super) input_tokens: u64,
    #[serde(default, deserialize_with = "null_is_zero")]
    pub(super) output_tokens: u64,
    #[serde(default, deserialize_with = "null_is_zero")]
    pub(super) cache_creation_input_tokens: u64,
    #[serde(default, deserialize_with = "null_is_zero")]
    pub(super) cache_read_input_tokens: u64,
    #[serde(default)]
    pub(super) cache_creation: Option<CacheCreation>,
    /// Per-step usage of a response that ran server-side tools. The advisor tool's steps ran on
    /// another model and are not in the counters above: each is counted on its own.
    #[serde(borrow, default)]
    pub(super) iterations: Option<Vec<Iteration<'a>>>,
}

/// The `type` of an iteration that ran on the advisor's model.
pub(super) const ADVISOR_ITERATION: &str = "advisor_message";

#[derive(Deserialize)]
pub(super) struct Iteration<'a> {
    #[serde(borrow, default, rename = "type")]
    pub(super) kind: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub(super) model: Option<Cow<'a, str>>,
    #[serde(default, deserialize_with = "null_is_zero")]
    pub(super) input_tokens: u64,
    #[serde(default, deserialize_with = "null_is_zero")]
    pub(super) output_tokens: u64,
    #[serde(default, deserialize_with = "null_is_zero")]
    pub(super) cache_creation_input_tokens: u64,
    #[serde(default, deserialize_with = "null_is_zero")]
    pub(super) cache_read_input_tokens: u64,
}

#[derive(Deserialize)]
pub(super) struct CacheCreation {
    #[serde(default, deserialize_with = "null_is_zero")]
    pub(super) ephemeral_1h_input_tokens: u64,
}

pub(super) fn null_is_zero<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    Ok(Option::<u64>::deserialize(d)?.unwrap_or(0))
}

/// The string in a raw JSON value, if it is one.
pub(crate) fn raw_str(v: Option<&RawValue>) -> Option<Cow<'_, str>> {
    serde_json::from_str::<Cow<'_, str>>(v?.get()).ok()
}

/// Where a JSON error is, for a message that names the field: serde_json's own text already
/// says the type it wanted and got.
pub(super) fn json_what(field: &str, e: &serde_json::Error) -> String {
    let text = e.to_string();
    // serde_json ends with " at line 1 column N": the column is in the field's text, not the
    // file's line, so it would mislead.
    let text = text.split(" at line ").next().unwrap_or(&text);
    format!("{field}: {text}")
}

/// What is wrong in a line that is JSON but did not read: not an object, or a field of its
/// `message` (or a progress line's `data.message.message`) of the wrong type.
pub(super) fn wrong_line(line: &[u8], e: &serde_json::Error) -> String {
    let v: serde_json::Value = match serde_json::from_slice(line) {
        Ok(v) => v,
        Err(e) => return format!("not JSON: {e}"),
    };
    if !v.is_object() {
        return "not a JSON object".into();
    }
    for (prefix, m) in [
        ("message", v.get("message")),
        ("data.message.message", v.pointer("/data/message/message")),
    ] {
        if let Some(m) = m.filter(|m| m.is_object()) {
            let what = wrong_field(prefix, &m.to_string(), e);
            if !what.starts_with(&format!("{prefix}: ")) {
                return what;
            }
        }
    }
    json_what("line", e)
}

/// What is wrong in a `message` that did not read: the usage counter at fault if there is one
/// (worked out only on this error path), else serde's own words.
pub(super) fn wrong_field(prefix: &str, message: &str, e: &serde_json::Error) -> String {
    let v: serde_json::Value = serde_json::from_str(message).unwrap_or_default();
    let counters = [
        "input_tokens",
        "output_tokens",
        "cache_creation_input_tokens",
        "cache_read_input_tokens",
    ];
    if let Some(usage) = v.get("usage") {
        if !usage.is_object() {
            return format!("{prefix}.usage: expected an object, found {usage}");
        }
        for c in counters {
            if let Some(n) = usage.get(c)
                && !n.is_null()
                && !n.is_u64()
            {
                return format!(
                    "{prefix}.usage.{c}: expected a token count (a whole number 0 or more), found {n}"
                );
            }
        }
    }
    for f in ["id", "model"] {
        if let Some(x) = v.get(f)
            && !x.is_null()
            && !x.is_string()
        {
            return format!("{prefix}.{f}: expected a string, found {x}");
        }
    }
    json_what(prefix, e)
}

impl ClaudeScan<'_> {
    pub(super) fn bad(&mut self, line: usize, what: String) {
        self.bad
            .push(BadLine::new(&self.path.display().to_string(), line, what));
    }

    pub(super) fn line(&mut self, number: usize, line: &[u8]) {
        let line = line.trim_ascii();
        if line.is_empty() {
            return;
        }
        // Only lines that mention usage can carry it (or, in OpenCode's `run --format json`, a
        // `step_finish`). The others are only checked to be JSON objects, by a validator that
        if memchr::memmem::find(line, b"\"usage\"").is_none() {
            // serde_json's check without building anything is as fast as a hand-written one
            // (docs/benchmarks.md, "JSON lines without usage").
            let checked = serde_json::from_slice::<serde::de::IgnoredAny>(line);
            if line[0] != b'{' || checked.is_err() {
                let what = match checked {
                    Err(e) => format!("not JSON: {e}"),
                    Ok(_) => "not a JSON object".to_string(),
                };
                self.bad(number, what);
            } else {
                if memchr::memmem::find(line, b"\"step_finish\"").is_some() {
                    self.opencode_step(number, line);
                }
                if self.session.is_some() {
                    return;
                }
                self.session = [&b"\"sessionId\""[..], b"\"session_id\"", b"\"sessionID\""]
                    .iter()
                    .find_map(|k| {
                        let i = memchr::memmem::find(line, k)?;
                        sniff_string(&line[i + k.len()..])
                    });
            }
            return;
        }
        let fields: LineFields = match serde_json::from_slice(line) {
            Ok(f) => f,
            Err(e) if e.is_data() => return self.bad(number, wrong_line(line, &e)),
            Err(e) => return self.bad(number, format!("not JSON: {e}")),
        };
        if self.session.is_none()
            && let Some(s) = raw_str(fields.session_id.or(fields.session_id_snake))
        {
            self.session = Some(s.into_owned());
        }
        if raw_str(fields.kind).as_deref() == Some("result") {
            if let Some(totals) = fields.model_usage {
                self.turn_totals(number, totals);
            }
            return;
        }
        let (msg, timestamp, request_id, sidechain) = match fields.message.0 {
            Some(m) => (m, fields.timestamp, fields.request_id, fields.is_sidechain),
            None => {
                // A subagent's response inside a progress line: `data.message.message`.
                let Some(data) = fields.data else { return };
                let n = match serde_json::from_str::<ProgressData>(data.get()) {
                    Ok(ProgressData { message: Some(n) }) => n,
                    Ok(_) => return,
                    Err(e) if e.is_data() => {
                        return self.bad(number, wrong_line(line, &e));
                    }
                    Err(e) => return self.bad(number, json_what("data", &e)),
                };
                let Some(m) = n.message.0 else { return };
                (m, n.timestamp, n.request_id, n.is_sidechain)
            }
        };
        let Some(usage) = msg.usage else { return };
        let time_ms = match raw_str(timestamp) {
            Some(t) => match t.parse::<Timestamp>() {
                Ok(t) => Some(t.as_millisecond()),
                Err(e) => {
                    return self.bad(number, format!("timestamp: {t:?} is not a time: {e}"));
                }
            },
            None => None,
        };
        let model = msg
            .model
            .as_deref()
            .filter(|m| !m.is_empty() && *m != SYNTHETIC_MODEL)
            .map(|m| self.model_index(m));
        let req = raw_str(request_id);
        let key_of = |suffix: &str| {
            msg.id.as_deref().map(|id| {
                let req = req.as_deref().unwrap_or("");
                format!("{id}{suffix}\n{req}").into_boxed_str()
            })
        };
        let key = key_of("");
        let sidechain = matches!(sidechain.map(|s| s.get()), Some("true"));
        let advisors: Vec<Record> = usage
            .iterations
            .iter()
            .flatten()
            .filter(|it| it.kind.as_deref() == Some(ADVISOR_ITERATION))
            .filter_map(|it| Some((it.model.as_deref().filter(|m| !m.is_empty())?, it)))
            .enumerate()
            .map(|(i, (m, it))| Record {
                key: key_of(&format!(":advisor:{i}")),
                model: Some(self.model_index(m)),
                time_ms,
                tokens: TokenUsage {
                    input_tokens: it.input_tokens,
                    output_tokens: it.output_tokens,
                    cache_creation_tokens: it.cache_creation_input_tokens,
                    cache_read_tokens: it.cache_read_input_tokens,
                },
                cache_1h: 0,
                sidechain,
                recorded_cost: None,
            })
            .collect();
        let cache_1h = usage
            .cache_creation
            .as_ref()
            .map_or(0, |c| c.ephemeral_1h_input_tokens)
            .min(usage.cache_creation_input_tokens);
        let record = Record {
            key,
            model,
            time_ms,
            tokens: TokenUsage {
                input_tokens: usage.input_tokens,
                output_tokens: usage.output_tokens,
                cache_creation_tokens: usage.cache_creation_input_tokens,
                cache_read_tokens: usage.cache_read_input_tokens,
            },
            cache_1h,
            sidechain,
            recorded_cost: fields
                .cost_usd
                .and_then(|c| serde_json::from_str::<f64>(c.get()).ok()),
        };
        self.keep(record);
        for a in advisors {
            self.keep(a);
        }
    }

    /// An OpenCode `run --format json` line that ends a step with its tokens and cost. The
    /// lines name no model: the cost OpenCode recorded is the one counted.
    pub(super) fn opencode_step(&mut self, number: usize, line: &[u8]) {
        // Any line may mention `step_finish` in its text: only the kind is read before it is
        // known to be one, so that other lines are never called bad for it.
        let Ok(step) = serde_json::from_slice::<RunStepLine>(line) else {
            return;
        };
        if raw_str(step.kind).as_deref() != Some("step_finish") {
            return;
        }
        let timestamp = match step.timestamp.map(|t| serde_json::from_str::<i64>(t.get())) {
            None => None,
            Some(Ok(t)) => Some(t),
            Some(Err(e)) => return self.bad(number, json_what("timestamp", &e)),
        };
        let Some(part) = step.part else { return };
        let part: RunStepPart = match serde_json::from_str(part.get()) {
            Ok(p) => p,
            Err(e) => return self.bad(number, json_what("part", &e)),
        };
        let Some(t) = part.tokens else { return };
        self.keep(Record {
            key: part
                .message_id
                .or(part.id)
                .map(|id| format!("opencode\n{id}").into_boxed_str()),
            model: None,
            time_ms: timestamp,
            tokens: t.tokens(),
            cache_1h: 0,
            sidechain: false,
            recorded_cost: part.cost,
        });
    }

    /// A stream-json `result` line: its per-model totals count the whole turn, subagents
    /// included, and replace what the turn's `assistant` lines said (stream-json writes each
    /// message's usage as it starts, with an output count of 1 or so).
    pub(super) fn turn_totals(&mut self, number: usize, totals: &RawValue) {
        let per_model: BTreeMap<String, ModelTotals> = match serde_json::from_str(totals.get()) {
            Ok(m) => m,
            Err(e) => return self.bad(number, json_what("modelUsage", &e)),
        };
        let turn: Vec<Record> = self.records.drain(self.turn_start..).collect();
        for key in turn.iter().filter_map(|r| r.key.as_ref()) {
            self.index.remove(key);
        }
        let time_ms = turn.iter().filter_map(|r| r.time_ms).max();
        for (model, t) in per_model {
            // `claude-opus-4-8[1m]`: the context-size tag is not part of the model's name.
            let name = model.strip_suffix("[1m]").unwrap_or(&model);
            let model = Some(self.model_index(name));
            self.records.push(Record {
                key: None,
                model,
                time_ms,
                tokens: TokenUsage {
                    input_tokens: t.input_tokens,
                    output_tokens: t.output_tokens,
                    cache_creation_tokens: t.cache_creation_input_tokens,
                    cache_read_tokens: t.cache_read_input_tokens,
                },
                cache_1h: 0,
                sidechain: false,
                recorded_cost: None,
            });
        }
        self.turn_start = self.records.len();
    }

    /// Keeps a record, merged with an earlier line of the same response in this file.
    pub(super) fn keep(&mut self, record: Record) {
        match &record.key {
            Some(k) => match self.index.get(k) {
                Some(&i) => {
                    if record.beats(&self.records[i]) {
                        self.records[i] = record;
                    }
                }
                None => {
                    self.index.insert(k.clone(), self.records.len());
                    self.records.push(record);
                }
            },
            None => self.records.push(record),
        }
    }

    pub(super) fn model_index(&mut self, m: &str) -> u32 {
        match self.models.iter().position(|x| x == m) {
            Some(i) => i as u32,
            None => {
                self.models.push(m.to_string());
                (self.models.len() - 1) as u32
            }
        }
    }
}

/// The JSON string at the start of `rest` (after a key: `: "value"`), if it has no escapes.
pub(super) fn sniff_string(rest: &[u8]) -> Option<String> {
    let rest = rest
        .trim_ascii_start()
        .strip_prefix(b":")?
        .trim_ascii_start();
    let rest = rest.strip_prefix(b"\"")?;
    let end = memchr::memchr2(b'"', b'\\', rest)?;
    if rest[end] != b'"' {
        return None;
    }
    std::str::from_utf8(&rest[..end]).ok().map(str::to_string)
}
