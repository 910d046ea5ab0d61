//! Arbitrary bytes as a `.json` document and as `.ndjson` lines: must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(batch) = oncofed_fhir::map_document(data, "fuzz.json") {
        let _ = oncofed_fhir::quality::plausibility_issues(&batch);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let mut all = oncofed_fhir::Batch::default();
        for (i, line) in text.lines().enumerate() {
            if let Ok(batch) = oncofed_fhir::map_ndjson_line(line, "fuzz.ndjson", i + 1) {
                all.merge(batch);
            }
        }
        let _ = oncofed_fhir::quality::plausibility_issues(&all);
    }
});
