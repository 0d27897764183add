//! [`replace_file`]: a file changed as a Kubernetes volume (a Secret, a ConfigMap)
//! changes it, for the tests of what poolside reads again when it changes.

use std::path::Path;

/// Writes `contents` to `path` as a mounted volume updates a file: a new file, then
/// renamed over the old one, so that a reader sees the old or the new, never half.
///
/// ```
/// let path = std::env::temp_dir().join(format!("doc-replace-{}", std::process::id()));
/// poolside_tests::mounted_file::replace_file(&path, b"s3cret\n");
/// assert_eq!(std::fs::read(&path).unwrap(), b"s3cret\n");
/// # std::fs::remove_file(&path).unwrap();
/// ```
///
/// # Panics
///
/// When the file cannot be written or renamed.
pub fn replace_file(path: &Path, contents: &[u8]) {
    let next = path.with_extension("next");
    std::fs::write(&next, contents).unwrap_or_else(|e| panic!("writing {}: {e}", next.display()));
    std::fs::rename(&next, path)
        .unwrap_or_else(|e| panic!("renaming {} into place: {e}", path.display()));
}

/// The first success of `attempt` after a file changed, tried up to 20 times 100 ms
/// apart (a connect held off after an earlier failure waits out its backoff); `None`
/// when every attempt failed.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let mut calls = 0;
/// let served = poolside_tests::mounted_file::first_success(async || {
///     calls += 1;
///     if calls < 3 { Err("not yet") } else { Ok(calls) }
/// })
/// .await;
/// assert_eq!(served, Some(3));
/// # });
/// ```
pub async fn first_success<T, E>(mut attempt: impl AsyncFnMut() -> Result<T, E>) -> Option<T> {
    for _ in 0..20 {
        if let Ok(value) = attempt().await {
            return Some(value);
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    None
}
