//! OpenCode export documents through the reader and the assembler.
#![no_main]
use aisys::converters::{Assembler, export_events};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(doc) = serde_json::from_slice(data) {
        Assembler::assemble(export_events(doc));
    }
});
