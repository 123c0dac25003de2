//! What a signed value (a session cookie, an authentication token) was verified to hold,
//! remembered by the value's exact text: a client sends the same cookie or token on every
//! request, and its signature check and decoding are then done once, not per request.
//! Verifying and decoding are pure functions of the value and the secret key, so a remembered
//! answer is the answer; what the value grants (its age, the account it names) is still checked
//! on every request by the caller.
//!
//! The map hashes with the standard library's randomly keyed SipHash and compares keys in
//! constant time, so that a probe with a forged value learns nothing from timing about the
//! values held. Only a value's last [`HASHED_SUFFIX`] bytes are hashed: they hold its signature
//! (a MAC, which no one without the key can choose), so the values held still spread over the
//! map, and a hash over the whole session cookie was the largest part of a cached request.
//! Only values whose signature checked out are kept, so a flood of forged ones cannot evict
//! them. Bounded: past its capacity, the least recently used goes. Written over
//! `hashlink` (already used by the identity cache) rather than a cache crate, for the
//! constant-time key.

use std::hash::{BuildHasher, Hash, Hasher, RandomState};
use std::sync::{Arc, Mutex, MutexGuard};

use hashlink::LruCache;

/// Signed values already verified, with what they hold (`V`).
pub(crate) struct Verified<V> {
    entries: Mutex<LruCache<SecretKey, Arc<V>, RandomState>>,
    /// The map's hasher, to look a value up by its text without copying it into a key.
    hasher: RandomState,
}

/// A signed value as a map key, compared in constant time.
struct SecretKey(Box<str>);

impl PartialEq for SecretKey {
    fn eq(&self, other: &Self) -> bool {
        crate::crypto::cookie_codec::constant_time_eq(self.0.as_bytes(), other.0.as_bytes())
    }
}

impl Eq for SecretKey {}

impl Hash for SecretKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        hashed_part(&self.0).hash(state);
    }
}

/// How many bytes at the end of a value are hashed: a base64 SHA-1 signature is 27, a
/// SHA-256 one 43; with the separator and the timestamp before it, 32 covers every format.
const HASHED_SUFFIX: usize = 32;

/// The part of `value` that is hashed: its end, where the signature is.
fn hashed_part(value: &str) -> &[u8] {
    let bytes = value.as_bytes();
    &bytes[bytes.len().saturating_sub(HASHED_SUFFIX)..]
}

impl<V> Verified<V> {
    /// A memo of at most `capacity` values.
    pub(crate) fn new(capacity: usize) -> Self {
        let hasher = RandomState::new();
        Verified {
            entries: Mutex::new(LruCache::with_hasher(capacity, hasher.clone())),
            hasher,
        }
    }

    /// What `value` holds: remembered, or `verify(value)` now (remembered when `Some`).
    pub(crate) fn get_or_verify(
        &self,
        value: &str,
        verify: impl FnOnce(&str) -> Option<V>,
    ) -> Option<Arc<V>> {
        // The hash of `SecretKey(value)`, without allocating one.
        let hash = self.hasher.hash_one(hashed_part(value));
        if let hashlink::linked_hash_map::RawEntryMut::Occupied(mut hit) =
            self.lock().raw_entry_mut().from_hash(hash, |key| {
                crate::crypto::cookie_codec::constant_time_eq(key.0.as_bytes(), value.as_bytes())
            })
        {
            hit.to_back();
            return Some(Arc::clone(hit.get()));
        }
        let verified = Arc::new(verify(value)?);
        self.lock()
            .insert(SecretKey(value.into()), Arc::clone(&verified));
        Some(verified)
    }

    fn lock(&self) -> MutexGuard<'_, LruCache<SecretKey, Arc<V>, RandomState>> {
        // A poisoned lock only means a panic elsewhere; the map is plain data.
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[test]
    fn a_value_is_verified_once_and_a_refused_one_every_time() {
        let memo = Verified::<String>::new(2);
        let calls = Cell::new(0);
        let verify = |v: &str| {
            calls.set(calls.get() + 1);
            v.starts_with("good").then(|| v.to_uppercase())
        };
        assert_eq!(
            memo.get_or_verify("good-1", verify)
                .as_deref()
                .map(String::as_str),
            Some("GOOD-1")
        );
        assert_eq!(
            memo.get_or_verify("good-1", verify)
                .as_deref()
                .map(String::as_str),
            Some("GOOD-1")
        );
        assert_eq!(calls.get(), 1);
        assert!(memo.get_or_verify("forged", verify).is_none());
        assert!(memo.get_or_verify("forged", verify).is_none());
        assert_eq!(calls.get(), 3, "a refused value is not remembered");
    }

    #[test]
    fn a_value_that_ends_as_a_held_one_is_not_taken_for_it() {
        // Only the end is hashed: a forged payload before a copied signature lands in the
        // held value's bucket, and must still be verified on its own.
        let memo = Verified::<String>::new(4);
        let signature = ".t1.0123456789abcdefghijklmnopqrstuvwxyz";
        let good = format!("good-payload{signature}");
        let forged = format!("forged-payload{signature}");
        let verify = |v: &str| v.starts_with("good").then(|| v.to_owned());
        assert_eq!(memo.get_or_verify(&good, verify).as_deref(), Some(&good));
        assert!(memo.get_or_verify(&forged, verify).is_none());
        let short = "good";
        assert_eq!(
            memo.get_or_verify(short, verify)
                .as_deref()
                .map(String::as_str),
            Some(short)
        );
    }

    #[test]
    fn the_least_recently_used_value_goes_past_the_capacity() {
        let memo = Verified::<usize>::new(2);
        let calls = Cell::new(0);
        let verify = |v: &str| {
            calls.set(calls.get() + 1);
            Some(v.len())
        };
        for value in ["a", "bb", "a", "ccc", "a", "bb"] {
            memo.get_or_verify(value, verify);
        }
        // a, bb, (a hit), ccc evicts bb, (a hit), bb again.
        assert_eq!(calls.get(), 4);
    }
}
