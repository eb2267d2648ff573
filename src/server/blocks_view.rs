//! The blocks view of a session (`session.attach` with `view: "blocks"`): instead of events, a
//! client gets the conversation as the converters' assembler builds it, every block at once in
//! a `blocks` frame, then a `block` frame whenever a later event adds a block or changes one.
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
use crate::types::ServerMessage;

/// Stored events read per query while a client's assembler catches up.
const READ_PAGE: usize = 1_000;

/// Sends `attached`, every block of the session, then each block an event adds or changes (all
/// of them again, then on the new owner's, if this server loses the session's lease).
pub async fn forward(
    handle: SessionHandle,
    request_id: Option<String>,
    out: Outbox,
    state: Arc<AppState>,
) {
    let Ok(mut live) = subscribe_and_answer(handle, request_id, &out).await else {
        return;
    };
    let Ok((mut assembler, mut last)) = catch_up(&live.handle, &out, &state).await else {
        return;
    };
    loop {
        let got = match live.next(&state).await {
            Some(Next::Event(got)) => got,
            Some(Next::Moved) => {
                match catch_up(&live.handle, &out, &state).await {
                    Ok((a, l)) => (assembler, last) = (a, l),
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
                        Ok((a, l)) => (assembler, last) = (a, l),
                        Err(()) => return,
                    }
                    if seq <= last {
                        continue;
                    }
                }
                let changed = assembler.push(event.event().clone());
                if send_blocks(&handle.id, seq, &assembler, changed, &out)
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
                    Ok((a, l)) => (assembler, last) = (a, l),
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

async fn send_blocks(
    session_id: &str,
    seq: u64,
    assembler: &Assembler,
    indexes: Vec<usize>,
    out: &Outbox,
) -> Result<(), ()> {
    for i in indexes {
        let Some(block) = assembler.blocks().get(i) else {
            continue;
        };
        let m = ServerMessage::Block {
            session_id: session_id.into(),
            seq,
            index: u32::try_from(i).map_err(|_| ())?,
            block: block.clone(),
        };
        send_frame(out, None, m).await?;
    }
    Ok(())
}
