//! Signed tokens: the itsdangerous format and clock (`serializer`).

pub mod serializer;
