//! Cryptographic primitives: Flask's cookie and token encodings (`cookie_codec`), and keeping
//! secrets out of logs (`redact`).

pub mod cookie_codec;
pub(crate) mod memo;
pub(crate) mod redact;
