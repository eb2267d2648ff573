//! Whole Claude Code transcripts: ordering by parentUuid, sidechains, then the assembler.
#![no_main]
use aisys::converters::{Assembler, BadLine, Sink, SubagentFiles, TranscriptReader};
use aisys::types::StreamEvent;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut events = Vec::new();
    let mut on_event = |e: StreamEvent| -> std::io::Result<()> {
        events.push(e);
        Ok(())
    };
    let mut on_bad = |_b: &BadLine| {};
    let mut sink = Sink::new(false, &mut on_event, &mut on_bad);
    let mut subagents = SubagentFiles::new();
    let mut reader = TranscriptReader { no_sidechains: false, subagents: &mut subagents };
    reader.read("-", None, Some(data.to_vec()), &mut sink).unwrap();
    Assembler::assemble(events);
});
