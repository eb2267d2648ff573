//! Property tests of the converters: the assembler's invariants on any event sequence, and
//! readers that never panic on any input (mutated recordings and arbitrary JSON in the formats'
//! own vocabulary). The cargo-fuzz targets in `fuzz/` drive the same readers for longer runs.

mod fixtures;

use std::collections::{HashMap, HashSet};

use aisys::converters::{
    Assembler, BadLine, ClaudeStreamReader, OpencodeRunReader, Sink, SubagentFiles,
    TranscriptReader, export_events,
};
use aisys::types::{BlockKind, ConversationBlock, StreamEvent, ToolResultContent, TurnStatus};
use proptest::prelude::*;
use serde_json::{Value, json};

// ---------------------------------------------------------------- assembler invariants

#[derive(Debug, Clone)]
enum Ev {
    User,
    Text(u8, Option<u8>),
    Call(u8, bool, Option<u8>),
    Result(u8, bool),
    End,
}

fn ev_strategy() -> impl Strategy<Value = Ev> {
    let id = 0u8..6;
    prop_oneof![
        Just(Ev::User),
        (0u8..200, proptest::option::of(0u8..6)).prop_map(|(t, p)| Ev::Text(t, p)),
        (id.clone(), any::<bool>(), proptest::option::of(0u8..6))
            .prop_map(|(i, task, p)| Ev::Call(i, task, p)),
        (id, any::<bool>()).prop_map(|(i, e)| Ev::Result(i, e)),
        Just(Ev::End),
    ]
}

fn to_event(e: &Ev, user_seq: &mut u32) -> StreamEvent {
    let tid = |i: u8| format!("t{i}");
    match e {
        Ev::User => {
            *user_seq += 1;
            StreamEvent::UserMessage {
                id: Some(format!("u{user_seq}")),
                text: format!("prompt {user_seq}"),
                images: vec![],
                compact_summary: false,
                parent_tool_use_id: None,
                timestamp: None,
            }
        }
        Ev::Text(t, p) => StreamEvent::Text {
            message_id: None,
            text: format!("text {t}"),
            parent_tool_use_id: p.map(tid),
            timestamp: None,
        },
        Ev::Call(i, task, p) => StreamEvent::ToolCall {
            id: tid(*i),
            name: if *task { "Task" } else { "Bash" }.into(),
            input: json!({}),
            message_id: None,
            parent_tool_use_id: p.map(tid),
            timestamp: None,
        },
        Ev::Result(i, err) => StreamEvent::ToolResult {
            tool_use_id: tid(*i),
            content: ToolResultContent::Text("out".into()),
            is_error: *err,
            parent_tool_use_id: None,
            timestamp: None,
        },
        Ev::End => StreamEvent::turn_ended(TurnStatus::Interrupted, None),
    }
}

/// Every block, depth first.
fn walk<'a>(blocks: &'a [ConversationBlock], out: &mut Vec<&'a ConversationBlock>) {
    for b in blocks {
        out.push(b);
        if let BlockKind::SubagentRun { blocks, .. } = &b.kind {
            walk(blocks, out);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn the_assembler_loses_nothing_keeps_order_and_pairs_each_result_once(
        evs in proptest::collection::vec(ev_strategy(), 0..60)
    ) {
        let mut seq = 0;
        let events: Vec<StreamEvent> = evs.iter().map(|e| to_event(e, &mut seq)).collect();
        let blocks = Assembler::assemble(events.clone());
        let mut all = Vec::new();
        walk(&blocks, &mut all);

        // No block lost: one call block per distinct call id, one text block per text event,
        // one user block per prompt.
        let call_ids: HashSet<String> = events.iter().filter_map(|e| match e {
            StreamEvent::ToolCall { id, .. } => Some(id.clone()), _ => None }).collect();
        let mut call_blocks: HashMap<String, usize> = HashMap::new();
        for b in &all {
            if let BlockKind::ToolCall { call_id, .. } | BlockKind::SubagentRun { call_id, .. } = &b.kind {
                *call_blocks.entry(call_id.clone()).or_default() += 1;
            }
        }
        prop_assert_eq!(call_blocks.len(), call_ids.len());
        prop_assert!(call_blocks.values().all(|&n| n == 1), "a call shown twice: {:?}", call_blocks);
        let texts = events.iter().filter(|e| matches!(e, StreamEvent::Text { .. })).count();
        prop_assert_eq!(all.iter().filter(|b| matches!(b.kind, BlockKind::AssistantText { .. })).count(), texts);

        // Order kept: prompts (always top level) appear in the order they were sent.
        let prompts: Vec<&str> = blocks.iter().filter_map(|b| match &b.kind {
            BlockKind::UserMessage { .. } => Some(b.id.as_str()), _ => None }).collect();
        let sent: Vec<String> = (1..=seq).map(|i| format!("u{i}")).collect();
        prop_assert_eq!(prompts, sent.iter().map(String::as_str).collect::<Vec<_>>());

        // Each result goes to at most one call: a call that was seen before it, else it is
        // kept as an orphan block; a second result for the same call is not attached again.
        let mut seen_calls = HashSet::new();
        let mut paired = HashSet::new();
        let mut orphans = 0;
        for e in &events {
            match e {
                StreamEvent::ToolCall { id, .. } => { seen_calls.insert(id.clone()); }
                StreamEvent::ToolResult { tool_use_id, .. } => {
                    if seen_calls.contains(tool_use_id) { paired.insert(tool_use_id.clone()); } else { orphans += 1; }
                }
                _ => {}
            }
        }
        let with_result = all.iter().filter(|b| matches!(&b.kind,
            BlockKind::ToolCall { result: Some(_), .. } | BlockKind::SubagentRun { result: Some(_), .. })).count();
        prop_assert_eq!(with_result, paired.len());
        let orphan_blocks = all.iter().filter(|b| matches!(&b.kind,
            BlockKind::Raw { source: Some(s), .. } if s == "orphan_tool_result")).count();
        prop_assert_eq!(orphan_blocks, orphans);

        // Block ids are unique.
        let ids: HashSet<&str> = all.iter().map(|b| b.id.as_str()).collect();
        prop_assert_eq!(ids.len(), all.len());
    }
}

// ---------------------------------------------------------------- readers never panic

/// Keys and values of the formats, so that arbitrary documents reach deep into the readers.
fn vocab_value() -> impl Strategy<Value = Value> {
    let key = prop::sample::select(vec![
        "type",
        "subtype",
        "message",
        "content",
        "id",
        "uuid",
        "parentUuid",
        "logicalParentUuid",
        "isSidechain",
        "agentId",
        "sessionId",
        "sessionID",
        "part",
        "state",
        "status",
        "input",
        "output",
        "tool_use_id",
        "name",
        "text",
        "thinking",
        "usage",
        "model",
        "timestamp",
        "toolUseResult",
        "isCompactSummary",
        "isMeta",
        "info",
        "messages",
        "parts",
        "role",
        "tokens",
        "cache",
        "time",
        "created",
        "callID",
        "tool",
        "error",
        "event",
        "delta",
        "parent_tool_use_id",
        "result",
        "is_error",
        "source",
        "data",
        "summary",
    ]);
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        prop::sample::select(vec![
            "user",
            "assistant",
            "system",
            "result",
            "summary",
            "tool_use",
            "tool_result",
            "text",
            "thinking",
            "redacted_thinking",
            "image",
            "document",
            "init",
            "compact_boundary",
            "api_error",
            "step_start",
            "step_finish",
            "tool",
            "step-finish",
            "reasoning",
            "completed",
            "error",
            "stream_event",
            "content_block_delta",
            "text_delta",
            "Task",
            "Agent",
            "base64",
            "u1",
            "u2",
            "toolu_1",
            "",
            "\u{0}<script>",
        ])
        .prop_map(|s| Value::String(s.into())),
        ".{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(5, 64, 8, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            proptest::collection::vec((key.clone(), inner), 0..8).prop_map(|kv| Value::Object(
                kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
            )),
        ]
    })
}

fn read_transcript_bytes(bytes: Vec<u8>) -> usize {
    let mut n = 0usize;
    let mut on_event = |_e: StreamEvent| -> std::io::Result<()> {
        n += 1;
        Ok(())
    };
    let mut on_bad = |_b: &BadLine| {};
    let mut sink = Sink::new(false, &mut on_event, &mut on_bad);
    let mut subagents = SubagentFiles::new();
    let mut reader = TranscriptReader {
        no_sidechains: false,
        subagents: &mut subagents,
    };
    reader
        .read("-", None, Some(bytes), &mut sink)
        .expect("in-memory reads cannot fail");
    n
}

fn recorded_lines() -> Vec<String> {
    let mut lines = Vec::new();
    for f in [
        "claude-code-2.1.197/transcript-tool-run.jsonl",
        "claude-code-2.1.197/stream-json-stdin-control.jsonl",
        "opencode-1.18.33/run-format-json-tool-run.jsonl",
        "handwritten/sidechain-1.0.jsonl",
        "handwritten/rewind-compact.jsonl",
    ] {
        let text = std::fs::read_to_string(fixtures::fixture(f)).unwrap();
        lines.extend(text.lines().map(str::to_string));
    }
    lines
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn readers_take_any_document_of_their_vocabulary(docs in proptest::collection::vec(vocab_value(), 1..12)) {
        let mut claude = ClaudeStreamReader::new();
        let mut opencode = OpencodeRunReader::new();
        let mut text = Vec::new();
        for d in &docs {
            let _ = claude.read_value(d.clone());
            let _ = opencode.read_value(d.clone());
            let _ = export_events(d.clone());
            text.extend_from_slice(d.to_string().as_bytes());
            text.push(b'\n');
        }
        let events = read_transcript_bytes(text);
        // One session start, at least, for any transcript.
        prop_assert!(events >= 1);
    }

    #[test]
    fn readers_take_mutated_recordings(
        picks in proptest::collection::vec((any::<prop::sample::Index>(), any::<prop::sample::Index>(), 0usize..4, any::<u8>()), 1..30)
    ) {
        let lines = recorded_lines();
        let mut out = Vec::new();
        for (line, at, how, byte) in picks {
            let mut l = lines[line.index(lines.len())].clone().into_bytes();
            let i = at.index(l.len().max(1)).min(l.len());
            match how {
                0 => l.truncate(i),
                1 => l.insert(i, byte),
                2 => { if i < l.len() { l[i] = byte; } }
                _ => { l.drain(i..(i + 8).min(l.len())); }
            }
            let s = String::from_utf8_lossy(&l).to_string();
            let mut claude = ClaudeStreamReader::new();
            let _ = claude.read_line(&s);
            let _ = OpencodeRunReader::new().read_line(&s);
            out.extend_from_slice(&l);
            out.push(b'\n');
        }
        read_transcript_bytes(out);
    }
}
