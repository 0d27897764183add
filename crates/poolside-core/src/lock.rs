//! Locking a `std` mutex whose holder may have panicked: the data is still what the
//! holder left, and every use here keeps it consistent at each step, so the poison is
//! ignored rather than spread as a second panic.

use std::sync::{Mutex, MutexGuard, PoisonError};

/// Locks `mutex`, poisoned or not.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
