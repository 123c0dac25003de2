//! bcrypt, written as `$2a$<cost>$…` as passlib 1.6.2 writes and reads it; every bcrypt ident
//! verifies, and the legacy `$2$` and `$2x$` ones are replaced at the next login.

use super::{HashError, backend, too_costly};

/// bcrypt cost for new hashes (passlib 1.6.2's default).
pub(super) const BCRYPT_COST: u32 = 12;
/// Highest bcrypt cost verified (2^15 rounds, about 1.6 s).
pub(super) const MAX_BCRYPT_COST: u32 = 15;

/// bcrypt reads at most 72 bytes of key (so only 72 of the 88 HMAC characters count, as with
/// 1.7.4's py-bcrypt). The crate truncates too; doing it here keeps that visible.
fn bcrypt_key(secret: &[u8]) -> &[u8] {
    &secret[..secret.len().min(72)]
}

pub(super) fn hash_bcrypt(secret: &[u8], cost: u32) -> Result<String, HashError> {
    let parts = bcrypt::hash_with_result(bcrypt_key(secret), cost).map_err(backend)?;
    // `$2a$`: the ident passlib 1.6.2 writes and reads (it takes `$2b$` for plaintext).
    Ok(parts.format_for_version(bcrypt::Version::TwoA))
}

pub(super) fn verify_bcrypt(secret: &[u8], stored: &str) -> bool {
    // `$2?$NN$…`: the cost follows the ident.
    let cost = stored.split('$').nth(2).and_then(|c| c.parse::<u32>().ok());
    match cost {
        Some(cost) if cost > MAX_BCRYPT_COST => return too_costly("bcrypt", "cost", cost.into()),
        Some(_) => {}
        None => return false,
    }
    if let Some(rest) = stored.strip_prefix("$2$") {
        // The original `$2$` bcrypt does not append a NUL to the key. Blowfish's key schedule
        // reads exactly 72 bytes of the key repeated cyclically, so that key is equivalent to
        // its first 72 cyclic bytes, which the `$2a$` code uses as they are (no NUL at 72).
        let key: Vec<u8> = if secret.is_empty() {
            vec![0; 72]
        } else {
            secret.iter().copied().cycle().take(72).collect()
        };
        return bcrypt::verify(&key, &format!("$2a${rest}")).unwrap_or(false);
    }
    // `$2a$`, `$2b$`, `$2x$` and `$2y$` compute the same for the ASCII HMAC secret.
    bcrypt::verify(bcrypt_key(secret), stored).unwrap_or(false)
}

pub(super) fn bcrypt_needs_update(stored: &str, cost: u32) -> bool {
    // `$2$` and `$2x$` are legacy/buggy variants: move them to `$2a$`.
    let Some(rest) = ["$2a$", "$2b$", "$2y$"]
        .iter()
        .find_map(|p| stored.strip_prefix(p))
    else {
        return true;
    };
    rest.get(..2).and_then(|c| c.parse::<u32>().ok()) != Some(cost)
}
