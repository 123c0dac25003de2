//! SHA-256-crypt and SHA-512-crypt (`$5$…`, `$6$rounds=N$salt$checksum`), read as glibc
//! reads them.

use super::{HashError, MAX_ROUNDS, backend, random_bytes, too_costly};

/// SHA-512-crypt rounds for new hashes (passlib 1.6.2's default).
const SHA512_CRYPT_ROUNDS: u32 = 100_000;
/// Rounds for new sha256_crypt hashes (passlib 1.6.2's default).
const SHA256_CRYPT_ROUNDS: u32 = 110_000;
/// The prefixes that identify the two variants' stored strings.
pub(super) const SHA256_CRYPT_PREFIX: &str = "$5$";
pub(super) const SHA512_CRYPT_PREFIX: &str = "$6$";

pub(super) fn hash_sha256_crypt(secret: &[u8]) -> Result<String, HashError> {
    use sha_crypt::PasswordHasher as _;
    let salt = random_bytes::<12>()?;
    let params = sha_crypt::Params::new(SHA256_CRYPT_ROUNDS).map_err(backend)?;
    sha_crypt::ShaCrypt::new(sha_crypt::Algorithm::Sha256Crypt, params)
        .hash_password_with_salt(secret, &salt)
        .map(|hash| hash.to_string())
        .map_err(backend)
}

pub(super) fn hash_sha512_crypt(secret: &[u8]) -> Result<String, HashError> {
    use sha_crypt::PasswordHasher as _;
    // 12 random bytes are the 16 salt characters glibc and passlib use (longer would be cut).
    let salt = random_bytes::<12>()?;
    let params = sha_crypt::Params::new(SHA512_CRYPT_ROUNDS).map_err(backend)?;
    sha_crypt::ShaCrypt::new(sha_crypt::Algorithm::Sha512Crypt, params)
        .hash_password_with_salt(secret, &salt)
        .map(|hash| hash.to_string())
        .map_err(backend)
}

/// Verifies glibc SHA-crypt, normalising the stored string as glibc reads it first: an absent
/// `rounds=` is 5000, rounds are clamped to 1000..=999999999, the salt is cut at 16 characters.
pub(super) fn verify_sha_crypt(
    secret: &[u8],
    stored: &str,
    algorithm: sha_crypt::Algorithm,
) -> bool {
    use sha_crypt::PasswordVerifier as _;
    // "$5$" or "$6$"
    let prefix = format!("${}$", algorithm.to_str());
    let normalise = || {
        let rest = stored.strip_prefix(prefix.as_str())?;
        let (rounds, rest) = match rest.strip_prefix("rounds=") {
            Some(rest) => {
                let (rounds, rest) = rest.split_once('$')?;
                let rounds = rounds.parse::<u64>().ok()?.clamp(1_000, 999_999_999);
                if rounds > MAX_ROUNDS {
                    too_costly(algorithm.to_str(), "rounds", rounds);
                    return None;
                }
                (rounds, rest)
            }
            None => (5_000, rest),
        };
        let (salt, checksum) = rest.split_once('$')?;
        let salt = salt.get(..salt.len().min(16))?;
        Some(format!("{prefix}rounds={rounds}${salt}${checksum}"))
    };
    let Some(normalised) = normalise() else {
        return false;
    };
    sha_crypt::ShaCrypt::from(algorithm)
        .verify_password(secret, normalised.as_str())
        .is_ok()
}
