//! Values as JSON: what the cache writes and reads back.

use poolside_core::{ErrorKind, RedisError};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// `value` as JSON bytes.
pub(crate) fn encode<T: Serialize + ?Sized>(key: &str, value: &T) -> Result<Vec<u8>, RedisError> {
    serde_json::to_vec(value).map_err(|e| {
        RedisError::new(
            ErrorKind::Query,
            format!("the value for {key:?} cannot be written as JSON: {e}"),
        )
    })
}

/// `bytes`, read as the JSON of a `T`.
pub(crate) fn decode<T: DeserializeOwned>(key: &str, bytes: &[u8]) -> Result<T, RedisError> {
    serde_json::from_slice(bytes).map_err(|e| {
        RedisError::new(
            ErrorKind::Query,
            format!("the value at {key:?} is not the JSON of the type asked for ({e}): delete the key or read it as bytes"),
        )
    })
}
