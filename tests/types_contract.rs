//! Pins the JSON shape of every StreamEvent, ConversationBlock and protocol message.
//!
//! Each type has one example in `aisys::types::examples`; its JSON is checked in under
//! `docs/schema/examples/`. A change of shape shows up here as a failing test and in review as a
//! diff of those files.

use std::collections::BTreeSet;
use std::path::Path;

use aisys::cli::generate::{example_files, variant_docs};
use aisys::types::{
    ClientFrame, ConversationBlock, PermissionDecision, ServerFrame, ServerMessage, SessionState,
    StreamEvent, TurnStatus, examples,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

fn examples_dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/schema/examples"))
}

fn round_trip<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(items: &[T]) {
    for item in items {
        let json = serde_json::to_string(item).unwrap();
        let back: T = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{json}: {e}"));
        assert_eq!(&back, item, "round trip of {json}");
    }
}

#[test]
fn every_example_round_trips() {
    round_trip(&examples::stream_events());
    round_trip(&examples::conversation_blocks());
    round_trip(&examples::client_frames());
    round_trip(&examples::server_frames());
}

#[test]
fn the_clients_frame_reader_reads_what_the_derived_one_reads() {
    // Every example frame, and an event frame (with and without a request id) for every
    // example event: the fast path for `event` frames must not differ from the derived reader.
    let mut frames = examples::server_frames();
    for (i, event) in examples::stream_events().into_iter().enumerate() {
        frames.push(ServerFrame {
            id: (i % 2 == 0).then(|| format!("r{i}")),
            message: aisys::types::ServerMessage::Event {
                session_id: "s_1".into(),
                seq: i as u64 + 1,
                event,
            },
        });
    }
    for frame in &frames {
        let json = serde_json::to_string(frame).unwrap();
        let fast = ServerFrame::from_json(&json).unwrap_or_else(|e| panic!("{json}: {e}"));
        assert_eq!(&fast, frame, "{json}");
    }
    // What the derived reader refuses, this one refuses too.
    for bad in [
        r#"{"type":"event","session_id":"s_1","event":{"type":"stderr","line":"x"}}"#,
        r#"{"type":"event","session_id":"s_1","seq":1,"event":{"type":"no_such_event"}}"#,
        r#"{"type":"no_such_frame"}"#,
        r#"["event"]"#,
        "not json",
    ] {
        assert!(serde_json::from_str::<ServerFrame>(bad).is_err(), "{bad}");
        assert!(ServerFrame::from_json(bad).is_err(), "{bad}");
    }
}

#[test]
fn checked_in_examples_match_the_types() {
    for (name, value) in example_files().unwrap() {
        let path = examples_dir().join(&name);
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e}; run `cargo run -- generate schema`",
                path.display()
            )
        });
        let committed: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            committed, value,
            "{name} changed shape; if that is intended run `cargo run -- generate schema` and \
             review the diff"
        );
        // The committed JSON must also decode into the type it documents.
        let group = name.split('.').next().unwrap();
        match group {
            "event" => drop(serde_json::from_value::<StreamEvent>(committed).unwrap()),
            "block" => drop(serde_json::from_value::<ConversationBlock>(committed).unwrap()),
            "client" => drop(serde_json::from_value::<ClientFrame>(committed).unwrap()),
            "server" => drop(serde_json::from_value::<ServerFrame>(committed).unwrap()),
            other => panic!("unexpected example group {other}"),
        }
    }
}

fn tags<T: Serialize>(items: &[T]) -> BTreeSet<String> {
    items
        .iter()
        .map(|i| {
            serde_json::to_value(i).unwrap()["type"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

fn schema_tags(schema: schemars::Schema) -> BTreeSet<String> {
    variant_docs(&schema).into_iter().map(|(t, _)| t).collect()
}

#[test]
fn every_type_has_an_example() {
    assert_eq!(
        tags(&examples::stream_events()),
        schema_tags(schemars::schema_for!(StreamEvent))
    );
    assert_eq!(
        tags(&examples::conversation_blocks()),
        schema_tags(schemars::schema_for!(ConversationBlock))
    );
    assert_eq!(
        tags(&examples::client_frames()),
        schema_tags(schemars::schema_for!(ClientFrame))
    );
    assert_eq!(
        tags(&examples::server_frames()),
        schema_tags(schemars::schema_for!(ServerFrame))
    );
}

#[test]
fn stream_event_wire_names_are_the_documented_ones() {
    let expected = [
        "session_started",
        "user_message",
        "text_delta",
        "text",
        "thinking",
        "tool_call",
        "tool_result",
        "permission_request",
        "permission_decision",
        "usage",
        "result",
        "error",
        "notice",
        "stderr",
        "state_changed",
        "raw",
    ];
    assert_eq!(
        tags(&examples::stream_events()),
        expected.iter().map(|s| s.to_string()).collect()
    );
}

#[test]
fn protocol_fields_have_their_wire_names() {
    let frame: ClientFrame = serde_json::from_str(
        r#"{"type":"session.permission","id":"9","session_id":"s1","request_id":"r1","decision":"deny","message":"no","unknown_field":1}"#,
    )
    .expect("unknown fields are ignored");
    assert_eq!(frame.id.as_deref(), Some("9"));
    let v = serde_json::to_value(&frame).unwrap();
    assert_eq!(v["decision"], "deny");
    assert_eq!(v["request_id"], "r1");

    let create: ClientFrame = serde_json::from_str(
        r#"{"type":"session.create","agent":"opencode","sandbox":"host","permission_mode":"acceptEdits","title":"t"}"#,
    )
    .unwrap();
    let v = serde_json::to_value(&create).unwrap();
    assert_eq!(v["agent"], "opencode");
    assert_eq!(v["permission_mode"], "acceptEdits");

    let err = serde_json::from_str::<ClientFrame>(r#"{"type":"session.explode"}"#).unwrap_err();
    assert!(err.to_string().contains("session.explode"), "{err}");
    let err = serde_json::from_str::<ClientFrame>(r#"{"type":"session.message","text":"x"}"#)
        .unwrap_err();
    assert!(err.to_string().contains("session_id"), "{err}");
}

#[test]
fn a_welcome_without_profiles_is_read_and_written_as_before() {
    // What a server older than the field sends.
    let old: ServerFrame = serde_json::from_str(
        r#"{"type":"welcome","id":"1","protocol_version":1,"server_version":"0.1.0"}"#,
    )
    .unwrap();
    let ServerMessage::Welcome { profiles, .. } = &old.message else {
        panic!("{old:?}")
    };
    assert!(profiles.is_empty());
    let v = serde_json::to_value(&old).unwrap();
    assert!(
        v.get("profiles").is_none(),
        "an empty list is left out: {v}"
    );
}

#[test]
fn unknown_json_is_kept_whole_in_raw_events() {
    let original =
        serde_json::json!({"type": "queue-operation", "operation": "enqueue", "n": [1, 2]});
    let ev = StreamEvent::Raw {
        source: Some("claude-transcript".into()),
        json: original.clone(),
    };
    let back: StreamEvent = serde_json::from_str(&serde_json::to_string(&ev).unwrap()).unwrap();
    match back {
        StreamEvent::Raw { json, .. } => assert_eq!(json, original),
        other => panic!("expected raw, got {other:?}"),
    }
}

#[test]
fn state_machine_rules() {
    use SessionState::*;
    let allowed = [
        (Provisioning, Idle),
        (Idle, Running),
        (Running, AwaitingPermission),
        (AwaitingPermission, Running),
        (Running, Interrupting),
        (Interrupting, Idle),
        (Running, Idle),
        (Idle, Stopped),
        (Running, Failed),
        (Stopped, Provisioning),
        (Failed, Provisioning),
    ];
    for (from, to) in allowed {
        assert!(from.can_transition_to(to), "{from} -> {to} must be allowed");
    }
    let forbidden = [
        (Idle, Interrupting),
        (Idle, AwaitingPermission),
        (Stopped, Running),
        (Stopped, Stopped),
        (Provisioning, Running),
        (Interrupting, Running),
    ];
    for (from, to) in forbidden {
        let err = from.transition(to).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("a session cannot go from {from} to {to}")
        );
    }
}

#[test]
fn shown_names_are_the_serde_names() {
    let serde_name = |v: serde_json::Value| v.as_str().unwrap().to_string();
    for s in [
        TurnStatus::Success,
        TurnStatus::Error,
        TurnStatus::Interrupted,
        TurnStatus::MaxTurns,
        TurnStatus::Timeout,
    ] {
        assert_eq!(s.to_string(), serde_name(serde_json::to_value(s).unwrap()));
    }
    for d in [PermissionDecision::Allow, PermissionDecision::Deny] {
        assert_eq!(d.to_string(), serde_name(serde_json::to_value(d).unwrap()));
    }
}
