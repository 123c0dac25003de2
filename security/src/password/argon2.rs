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

/// The most Argon2 memory a hashing thread keeps between hashes, in blocks of 1 KiB (32 MiB).
/// Larger buffers are allocated per hash: glibc serves those from `mmap` and gives them back
/// to the system when they are freed, which it does not do for the default 19 MiB once its
/// dynamic threshold has risen.
const KEPT_BLOCKS_MAX: usize = 32 * 1024;

thread_local! {
    /// Whether this thread keeps its Argon2 memory between hashes: only the hashing threads
    /// (one per permit), so the process holds at most permits × one memory cost, whatever
    /// the allocator does.
    static KEEP_MEMORY: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// This thread's Argon2 memory. Every block is written before it is read, so a reused
    /// buffer needs no clearing for correctness.
    static BLOCKS: std::cell::RefCell<Vec<argon2::Block>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Makes the calling thread keep one Argon2 buffer between hashes (a hashing thread).
pub(super) fn keep_memory_on_this_thread() {
    KEEP_MEMORY.set(true);
}

/// Argon2 of `secret` and `salt` into `out`, in this thread's kept memory when it keeps one.
fn argon2_into(
    context: &argon2::Argon2<'_>,
    secret: &[u8],
    salt: &[u8],
    out: &mut [u8],
) -> Result<(), argon2::Error> {
    let blocks = context.params().block_count();
    if !KEEP_MEMORY.get() || blocks > KEPT_BLOCKS_MAX {
        return context.hash_password_into(secret, salt, out);
    }
    BLOCKS.with_borrow_mut(|kept| {
        if kept.len() < blocks {
            kept.resize_with(blocks, argon2::Block::default);
        }
        context.hash_password_into_with_memory(secret, salt, out, &mut kept[..blocks])
    })
}

pub(super) fn hash_argon2(secret: &[u8], params: &argon2::Params) -> Result<String, HashError> {
    use argon2::password_hash::phc;
    let salt = random_bytes::<16>()?;
    let mut out = [0u8; argon2::Params::DEFAULT_OUTPUT_LEN];
    argon2_into(&argon2_context(params), secret, &salt, &mut out).map_err(backend)?;
    let hash = phc::PasswordHash {
        algorithm: argon2::Algorithm::Argon2id.ident(),
        version: Some(argon2::Version::V0x13.into()),
        params: phc::ParamsString::try_from(params).map_err(backend)?,
        salt: Some(phc::Salt::new(&salt).map_err(backend)?),
        hash: Some(phc::Output::new(&out).map_err(backend)?),
    };
    Ok(hash.to_string())
}

pub(super) fn verify_argon2(secret: &[u8], stored: &str) -> bool {
    use subtle::ConstantTimeEq as _;
    let Ok(hash) = argon2::PasswordHash::new(stored) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (&hash.salt, &hash.hash) else {
        return false;
    };
    let Ok(params) = argon2::Params::try_from(&hash) else {
        return false;
    };
    if params.m_cost() > MAX_ARGON2_M_KIB {
        return too_costly("argon2", "m", params.m_cost().into());
    }
    if params.t_cost() > MAX_ARGON2_T || params.p_cost() > MAX_ARGON2_P {
        return too_costly("argon2", "t,p", params.t_cost().max(params.p_cost()).into());
    }
    // The algorithm, version and parameters come from the stored string.
    let Ok(algorithm) = argon2::Algorithm::try_from(hash.algorithm.as_str()) else {
        return false;
    };
    let version = match hash.version.map(argon2::Version::try_from).transpose() {
        Ok(version) => version.unwrap_or_default(),
        Err(_) => return false,
    };
    let expected = expected.as_bytes();
    let mut buffer = [0u8; argon2::password_hash::phc::Output::MAX_LENGTH];
    let Some(out) = buffer.get_mut(..expected.len()) else {
        return false;
    };
    let context = argon2::Argon2::new(algorithm, version, params);
    argon2_into(&context, secret, salt, out).is_ok() && bool::from(out.ct_eq(expected))
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
