//! Any bytes as a SOAP request to the machtigingen service (both versions):
//! the envelope reader, the operation dispatch, XSD and mapping must answer
//! with a result or a coded refusal — never panic, hang or touch the network.
#![no_main]

use libfuzzer_sys::fuzz_target;
use machtigingen::soap::{Version, inspect};

fuzz_target!(|data: &[u8]| {
    let _ = inspect(data, Version::Soap11);
    let _ = inspect(data, Version::Soap12);
});
