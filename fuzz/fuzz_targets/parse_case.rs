//! Fuzzes the case parser: any bytes give a case or an error, never a panic; a parsed case
//! survives a round trip through its own JSON.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(case) = pathways_core::parse_case(data) {
        let again = serde_json::to_vec(&case).expect("a case serialises");
        let reparsed = pathways_core::parse_case(&again).expect("its own JSON parses");
        assert_eq!(case, reparsed);
    }
});
