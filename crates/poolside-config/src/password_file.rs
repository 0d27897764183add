//! [`read_password_file`]: the password in `postgres.password_file`, read the same way
//! by validation (once, at load) and by the pool (at every new connection).

use std::io::{self, Read as _};
use std::path::Path;

/// The longest password file read: past it, the file is not a password.
const MAX_LEN: u64 = 4096;

/// The password in `path`, without its trailing line break. Fails when `path` is not
/// a regular file (a FIFO or a device would block or never end), is over 4 KiB, or
/// holds no password. Blocking: a secret's file is small and local.
///
/// ```
/// let path = std::env::temp_dir().join(format!("doc-password-{}", std::process::id()));
/// std::fs::write(&path, "s3cret\n").unwrap();
/// assert_eq!(poolside_config::password_file::read_password_file(&path).unwrap(), b"s3cret");
/// # std::fs::remove_file(&path).unwrap();
/// ```
pub fn read_password_file(path: &Path) -> io::Result<Vec<u8>> {
    // Checked before opening: opening a FIFO blocks until a writer comes.
    if !std::fs::metadata(path)?.is_file() {
        return Err(io::Error::other("not a regular file"));
    }
    let mut password = Vec::new();
    std::fs::File::open(path)?
        .take(MAX_LEN + 1)
        .read_to_end(&mut password)?;
    if password.len() as u64 > MAX_LEN {
        return Err(io::Error::other(format!("longer than {MAX_LEN} bytes")));
    }
    while password.last().is_some_and(|b| matches!(b, b'\n' | b'\r')) {
        password.pop();
    }
    if password.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "empty: it must hold the password",
        ));
    }
    Ok(password)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_regular_file_holding_a_password_is_read() {
        let path = std::env::temp_dir().join(format!("poolside-pw-{}", std::process::id()));
        for (content, read) in [
            ("first\n", Some(&b"first"[..])),
            ("second\r\n", Some(b"second")),
            ("\n", None),
        ] {
            std::fs::write(&path, content).expect("writes");
            assert_eq!(
                read_password_file(&path).ok().as_deref(),
                read,
                "{content:?}"
            );
        }
        std::fs::write(&path, vec![b'x'; 5000]).expect("writes");
        assert!(read_password_file(&path).is_err(), "too long");
        std::fs::remove_file(&path).expect("removes");
        assert!(read_password_file(&path).is_err(), "missing");
        let device = read_password_file(Path::new("/dev/zero")).expect_err("a device");
        assert!(
            device.to_string().contains("not a regular file"),
            "{device}"
        );
    }
}
