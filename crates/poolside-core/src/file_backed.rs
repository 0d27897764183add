//! [`FileBacked`]: a value read from files (a CA bundle; a client certificate and its
//! key), read again when one of them changes, so that files rotated in place (a
//! mounted secret updated) apply to new connections with no restart.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use parking_lot::Mutex;

/// How the value is read from the files; the error says what is wrong with them.
type Read<T> = Box<dyn Fn(&[PathBuf]) -> Result<Arc<T>, String> + Send + Sync>;

/// A value read from `files`, and read again when one of them has changed since. A
/// change that cannot be read (a certificate written before its key, a file
/// half-written) keeps the value read last, with a warning; the next change is read
/// again. With no files, the value is read once.
pub(crate) struct FileBacked<T> {
    files: Vec<PathBuf>,
    /// What the files are, as the URL names them, for the log ("sslrootcert").
    what: &'static str,
    read: Read<T>,
    /// The value last read, and the files' stamps then.
    current: Mutex<(Vec<Option<FileStamp>>, Arc<T>)>,
    /// How many times the value was read again after a change.
    generation: AtomicU64,
}

/// What tells a changed file: its modification time and length.
type FileStamp = (SystemTime, u64);

fn stamp(path: &Path) -> Option<FileStamp> {
    let metadata = std::fs::metadata(path).ok()?;
    Some((metadata.modified().ok()?, metadata.len()))
}

impl<T> FileBacked<T> {
    /// The value of `files` as they are now, read by `read`; its error when they
    /// cannot be used.
    pub(crate) fn new(
        files: Vec<PathBuf>,
        what: &'static str,
        read: impl Fn(&[PathBuf]) -> Result<Arc<T>, String> + Send + Sync + 'static,
    ) -> Result<Self, String> {
        Self::stamped(files, what, Box::new(read), |files, read| read(files))
    }

    /// As [`new`](Self::new), with `first` reading the value at start (its error the
    /// caller's own type, for an error at start that says more than a log line) and
    /// `read` reading it again after a change. (For the Redis cluster's clients.)
    #[cfg(feature = "redis")]
    pub(crate) fn new_with<E>(
        files: Vec<PathBuf>,
        what: &'static str,
        first: impl FnOnce() -> Result<Arc<T>, E>,
        read: impl Fn(&[PathBuf]) -> Result<Arc<T>, String> + Send + Sync + 'static,
    ) -> Result<Self, E> {
        Self::stamped(files, what, Box::new(read), |_, _| first())
    }

    /// The files' stamps, then the value `first` reads (so that a change while it
    /// reads is seen as one).
    fn stamped<E>(
        files: Vec<PathBuf>,
        what: &'static str,
        read: Read<T>,
        first: impl FnOnce(&[PathBuf], &Read<T>) -> Result<Arc<T>, E>,
    ) -> Result<Self, E> {
        let stamps = files.iter().map(|file| stamp(file)).collect();
        let value = first(&files, &read)?;
        Ok(Self {
            files,
            what,
            read,
            current: Mutex::new((stamps, value)),
            generation: AtomicU64::new(0),
        })
    }

    /// The value of now: the files read again if one changed since.
    pub(crate) fn get(&self) -> Arc<T> {
        let mut current = self.current.lock();
        if self.files.is_empty() {
            return Arc::clone(&current.1);
        }
        let now: Vec<_> = self.files.iter().map(|file| stamp(file)).collect();
        // A file missing for now (being replaced) is no change yet.
        if now.iter().all(Option::is_some) && now != current.0 {
            match (self.read)(&self.files) {
                Ok(value) => {
                    tracing::info!(
                        target: "poolside::tls",
                        files = ?self.files,
                        "{} changed: new connections use the files as they are now",
                        self.what
                    );
                    *current = (now, value);
                    self.generation.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => {
                    tracing::warn!(
                        target: "poolside::tls",
                        error = %e,
                        "{} changed but cannot be used: new connections keep what was read before",
                        self.what
                    );
                    current.0 = now;
                }
            }
        }
        Arc::clone(&current.1)
    }

    /// How many times the value has been read again after a change, the files looked
    /// at first: what was built from an older count holds an older value. (For the
    /// Redis cluster's clients.)
    #[cfg(feature = "redis")]
    pub(crate) fn generation(&self) -> u64 {
        drop(self.get());
        self.generation.load(Ordering::Relaxed)
    }
}

impl<T> std::fmt::Debug for FileBacked<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileBacked")
            .field("what", &self.what)
            .field("files", &self.files)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_is_read_and_an_unreadable_one_keeps_the_last_value() {
        let dir = std::env::temp_dir().join(format!("poolside-file-backed-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a temp dir");
        let file = dir.join("value");
        std::fs::write(&file, "1").expect("write");
        let backed = FileBacked::new(vec![file.clone()], "value", |files| {
            let text = std::fs::read_to_string(&files[0]).map_err(|e| e.to_string())?;
            text.trim()
                .parse::<u32>()
                .map(Arc::new)
                .map_err(|e| e.to_string())
        })
        .expect("reads");
        assert_eq!((*backed.get(), backed.generation()), (1, 0));
        std::fs::write(&file, "22").expect("write");
        assert_eq!(*backed.get(), 22, "a change is read");
        assert_eq!(backed.generation(), 1, "once");
        std::fs::write(&file, "not a number").expect("write");
        assert_eq!(
            *backed.get(),
            22,
            "an unreadable change keeps the last value"
        );
        std::fs::remove_file(&file).expect("remove");
        assert_eq!(*backed.get(), 22, "a missing file is no change");
        std::fs::write(&file, "333").expect("write");
        assert_eq!(*backed.get(), 333, "the next change is read");
        assert_eq!(
            backed.generation(),
            2,
            "a change that was not read is not counted"
        );
        std::fs::remove_dir_all(&dir).expect("remove the temp dir");
    }
}
