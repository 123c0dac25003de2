//! Argon2id, the default scheme for new hashes (PHC strings, `$argon2id$v=19$m=…,t=…,p=…$…`).
//! Stored Argon2i and Argon2d strings verify too, and are replaced by Argon2id at the next
//! login, as are hashes of other costs than the configured ones.

use super::{HashError, backend, random_bytes, too_costly};

/// Argon2id parameters for new hashes (OWASP: 19 MiB, 2 passes, 1 lane).
const ARGON2_M_COST: u32 = 19_456;
const ARGON2_T_COST: u32 = 2;
const ARGON2_P_COST: u32 = 1;
/// Most Argon2 memory verified, in KiB (256 MiB), and most passes and lanes.
const MAX_ARGON2_M_KIB: u32 = 256 * 1024;
const MAX_ARGON2_T: u32 = 16;
const MAX_ARGON2_P: u32 = 16;

pub(super) fn default_argon2_params() -> argon2::Params {
    argon2::Params::new(ARGON2_M_COST, ARGON2_T_COST, ARGON2_P_COST, None)
        .expect("the OWASP argon2 parameters are valid")
}

fn argon2_context(params: &argon2::Params) -> argon2::Argon2<'static> {
    argon2::Argon2::new(
        argon2::Algorithm::Argon2id,
        argon2::Version::V0x13,
        params.clone(),
    )
}

pub(super) fn hash_argon2(secret: &[u8], params: &argon2::Params) -> Result<String, HashError> {
    use argon2::PasswordHasher as _;
    let salt = random_bytes::<16>()?;
    argon2_context(params)
        .hash_password_with_salt(secret, &salt)
        .map(|hash| hash.to_string())
        .map_err(backend)
}

pub(super) fn verify_argon2(secret: &[u8], stored: &str) -> bool {
    use argon2::PasswordVerifier as _;
    let Some(params) = argon2::PasswordHash::new(stored)
        .ok()
        .and_then(|hash| argon2::Params::try_from(&hash).ok())
    else {
        return false;
    };
    if params.m_cost() > MAX_ARGON2_M_KIB {
        return too_costly("argon2", "m", params.m_cost().into());
    }
    if params.t_cost() > MAX_ARGON2_T || params.p_cost() > MAX_ARGON2_P {
        return too_costly("argon2", "t,p", params.t_cost().max(params.p_cost()).into());
    }
    // The algorithm, version and parameters come from the stored string.
    argon2::Argon2::default()
        .verify_password(secret, stored)
        .is_ok()
}

pub(super) fn argon2_needs_update(stored: &str, params: &argon2::Params) -> bool {
    let Ok(hash) = argon2::PasswordHash::new(stored) else {
        return true;
    };
    let Ok(stored_params) = argon2::Params::try_from(&hash) else {
        return true;
    };
    hash.algorithm.as_str() != argon2::ARGON2ID_IDENT.as_str()
        || hash.version != Some(argon2::Version::V0x13.into())
        || stored_params.m_cost() != params.m_cost()
        || stored_params.t_cost() != params.t_cost()
        || stored_params.p_cost() != params.p_cost()
}
