//! OpenCode `run --format json` lines through the reader and the assembler.
#![no_main]
use aisys::converters::{Assembler, OpencodeRunReader};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut reader = OpencodeRunReader::new();
    let events: Vec<_> = text.lines().flat_map(|l| reader.read_line(l)).collect();
    Assembler::assemble(events);
});
