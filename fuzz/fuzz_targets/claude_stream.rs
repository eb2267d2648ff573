//! Claude Code stream-json lines, one per input line, through the reader and the assembler.
#![no_main]
use aisys::converters::{Assembler, ClaudeStreamReader};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut reader = ClaudeStreamReader::new();
    let events: Vec<_> = text.lines().flat_map(|l| reader.read_line(l)).collect();
    Assembler::assemble(events);
});
