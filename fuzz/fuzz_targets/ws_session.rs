#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tidepool_fuzz::targets::ws_session(data));
