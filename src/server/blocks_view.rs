//! The blocks view of a session (`session.attach` with `view: "blocks"`): instead of events, a
//! client gets the conversation as the converters' assembler builds it, every block at once in
//! a `blocks` frame, then a `block` frame whenever a later event adds a block or changes one.
//! When a block's only change is text added at its end (an answer or thinking streamed as
//! deltas), a client of protocol 2 gets just that text in a `block.append` frame: a streamed
//! answer then costs its length once, not once per delta. Each client's view keeps the blocks
//! as it last sent them to tell which change is which.
//!
//! Each attached client has its own assembler, fed from the store on attach and then from the
//! session's broadcast. A client that falls behind is sent the whole conversation again, so
//! it ends up with the same blocks as everyone else; the events stay the record.
//!
//! Must not know how sessions run, and must not assemble blocks any other way than through
//! [`Assembler`].

use std::sync::Arc;

use tokio::sync::broadcast;

use super::AppState;
use super::connection::{send_frame, subscribe_and_answer};
use super::live::Next;
use super::outbox::Outbox;
use super::session::SessionHandle;
use crate::converters::Assembler;
use crate::types::{BlockKind, ConversationBlock, ServerMessage};

/// Stored events read per query while a client's assembler catches up.
const READ_PAGE: usize = 1_000;

/// Sends `attached`, every block of the session, then each block an event adds or changes (all
/// of them again, then on the new owner's, if this server loses the session's lease).
pub async fn forward(
    handle: SessionHandle,
    request_id: Option<String>,
    out: Outbox,
    state: Arc<AppState>,
    appends: bool,
) {
    let Ok(mut live) = subscribe_and_answer(handle, request_id, &out).await else {
        return;
    };
    let Ok((mut assembler, mut last)) = catch_up(&live.handle, &out, &state).await else {
        return;
    };
    // The blocks as this client last got them: what a `block.append` adds to.
    let mut sent = Sent {
        appends,
        blocks: vec![],
    };
    sent.reset(&assembler);
    loop {
        let got = match live.next(&state).await {
            Some(Next::Event(got)) => got,
            Some(Next::Moved) => {
                match catch_up(&live.handle, &out, &state).await {
                    Ok((a, l)) => {
                        sent.reset(&a);
                        (assembler, last) = (a, l);
                    }
                    Err(()) => return,
                }
                continue;
            }
            None => return,
        };
        let handle = &live.handle;
        match got {
            Ok((seq, event)) => {
                if seq <= last {
                    continue;
                }
                if seq > last + 1 {
                    // A gap should not happen; the store has what is missing.
                    match catch_up(handle, &out, &state).await {
                        Ok((a, l)) => {
                            sent.reset(&a);
                            (assembler, last) = (a, l);
                        }
                        Err(()) => return,
                    }
                    if seq <= last {
                        continue;
                    }
                }
                let changed = assembler.push(event.event().clone());
                if send_blocks(&handle.id, seq, &assembler, changed, &mut sent, &out)
                    .await
                    .is_err()
                {
                    return;
                }
                if let Some((state, reason)) = event.state_change() {
                    let m = ServerMessage::State {
                        session_id: handle.id.clone(),
                        state,
                        reason: reason.cloned(),
                    };
                    if send_frame(&out, None, m).await.is_err() {
                        return;
                    }
                }
                last = seq;
            }
            Err(broadcast::error::RecvError::Lagged(_)) => {
                state.metrics.resync();
                match catch_up(handle, &out, &state).await {
                    Ok((a, l)) => {
                        sent.reset(&a);
                        (assembler, last) = (a, l);
                    }
                    Err(()) => return,
                }
            }
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}

/// Assembles the session from its stored events and sends every block; returns the assembler
/// and the seq of the last event it holds.
async fn catch_up(
    handle: &SessionHandle,
    out: &Outbox,
    state: &AppState,
) -> Result<(Assembler, u64), ()> {
    let mut assembler = Assembler::new();
    let mut last = 0;
    loop {
        let page = state
            .manager
            .store()
            .events_after(&handle.id, last, READ_PAGE)
            .await
            .map_err(|e| tracing::error!("blocks of {}: {e}", handle.id))?;
        let n = page.len();
        for (seq, event) in page {
            assembler.push(event.into_event());
            last = seq;
        }
        if n < READ_PAGE {
            break;
        }
    }
    // One frame for the whole conversation: a long session's first load is one message to
    // parse and one update to draw, not one per block.
    let whole = ServerMessage::Blocks {
        session_id: handle.id.clone(),
        seq: last,
        blocks: assembler.blocks().to_vec(),
    };
    send_frame(out, None, whole).await?;
    Ok((assembler, last))
}

/// What one client was sent of each top-level block, and whether it reads `block.append`.
struct Sent {
    appends: bool,
    /// By top-level index; `None` for one not sent yet.
    blocks: Vec<Option<ConversationBlock>>,
}

impl Sent {
    /// After a `blocks` frame: the client has every block the assembler holds.
    fn reset(&mut self, assembler: &Assembler) {
        self.blocks = assembler.blocks().iter().cloned().map(Some).collect();
    }
}

/// The text added at the end of `old` to make `new`, when that is the only difference between
/// them and both are blocks whose text grows (assistant text, thinking). `None` for any other
/// change, and for none at all.
fn appended<'a>(old: &ConversationBlock, new: &'a ConversationBlock) -> Option<&'a str> {
    if old.id != new.id || old.timestamp != new.timestamp {
        return None;
    }
    let (was, is) = match (&old.kind, &new.kind) {
        (BlockKind::AssistantText { text: was }, BlockKind::AssistantText { text: is }) => {
            (was, is)
        }
        (
            BlockKind::Thinking {
                text: was,
                redacted: r1,
            },
            BlockKind::Thinking {
                text: is,
                redacted: r2,
            },
        ) if r1 == r2 => (was, is),
        _ => return None,
    };
    is.strip_prefix(was.as_str()).filter(|a| !a.is_empty())
}

async fn send_blocks(
    session_id: &str,
    seq: u64,
    assembler: &Assembler,
    indexes: Vec<usize>,
    sent: &mut Sent,
    out: &Outbox,
) -> Result<(), ()> {
    for i in indexes {
        let Some(block) = assembler.blocks().get(i) else {
            continue;
        };
        let index = u32::try_from(i).map_err(|_| ())?;
        let before = sent.blocks.get(i).and_then(Option::as_ref);
        if before == Some(block) {
            // The client has it as it is.
            continue;
        }
        let m = match before.and_then(|b| appended(b, block)) {
            Some(append) if sent.appends => ServerMessage::BlockAppend {
                session_id: session_id.into(),
                seq,
                index,
                append: append.to_string(),
            },
            _ => ServerMessage::Block {
                session_id: session_id.into(),
                seq,
                index,
                block: block.clone(),
            },
        };
        send_frame(out, None, m).await?;
        if sent.blocks.len() <= i {
            sent.blocks.resize(i + 1, None);
        }
        sent.blocks[i] = Some(block.clone());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(id: &str, kind: BlockKind) -> ConversationBlock {
        ConversationBlock {
            id: id.into(),
            timestamp: None,
            kind,
        }
    }

    fn text(t: &str) -> BlockKind {
        BlockKind::AssistantText { text: t.into() }
    }

    #[test]
    fn only_text_added_at_the_end_is_an_append() {
        let old = block("a", text("Hello"));
        assert_eq!(
            appended(&old, &block("a", text("Hello, world"))),
            Some(", world")
        );
        let thinking = |t: &str| BlockKind::Thinking {
            text: t.into(),
            redacted: false,
        };
        assert_eq!(
            appended(&block("t", thinking("Hm")), &block("t", thinking("Hmm."))),
            Some("m.")
        );
        // Nothing added: no append (and no frame at all, in send_blocks).
        assert_eq!(appended(&old, &old.clone()), None);
        // Text changed in the middle, or shorter: the whole block.
        assert_eq!(appended(&old, &block("a", text("Help, world"))), None);
        assert_eq!(appended(&old, &block("a", text("Hell"))), None);
        // Another field changed: the whole block.
        assert_eq!(appended(&old, &block("b", text("Hello, world"))), None);
        let mut stamped = block("a", text("Hello, world"));
        stamped.timestamp = Some("2026-01-01T00:00:00Z".into());
        assert_eq!(appended(&old, &stamped), None);
        let redacted = BlockKind::Thinking {
            text: "Hmm.".into(),
            redacted: true,
        };
        assert_eq!(
            appended(&block("t", thinking("Hm")), &block("t", redacted)),
            None
        );
        // Another kind: the whole block.
        assert_eq!(appended(&old, &block("a", thinking("Hello, world"))), None);
        let notice = |t: &str| BlockKind::SystemNotice {
            kind: "k".into(),
            text: t.into(),
        };
        assert_eq!(
            appended(&block("n", notice("a")), &block("n", notice("ab"))),
            None
        );
    }
}
