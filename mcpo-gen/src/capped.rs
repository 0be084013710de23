//! Bounded reads of files mcpo-gen finds on disk (a crate folder's files,
//! manifests, a lock in git): a wrong path to a device, or a huge or sparse
//! file, is an error or a cut, never unbounded memory growth. Lock and config
//! files are read, capped, by `mcpo_runtime` (`lock`, `config`).

use std::io::{self, Read as _};
use std::path::Path;

/// More than any `mcp.lock.json` (the committed examples' are under 60 kB;
/// one of a thousand large tools is a few MB).
pub const MAX_LOCK_BYTES: u64 = 64 << 20;

/// More than any `Cargo.toml` mcpo-gen reads to find a workspace or its mark.
pub const MAX_MANIFEST_BYTES: u64 = 1 << 20;

/// At most `limit` bytes of the file, and whether it holds more.
pub fn read_prefix(path: &Path, limit: u64) -> io::Result<(Vec<u8>, bool)> {
    let file = std::fs::File::open(path)?;
    let mut bytes = Vec::new();
    file.take(limit.saturating_add(1)).read_to_end(&mut bytes)?;
    let cut = bytes.len() as u64 > limit;
    if cut {
        bytes.truncate(limit as usize);
    }
    Ok((bytes, cut))
}

/// The whole file as text, or an error naming `limit` when it is larger.
pub fn read_to_string(path: &Path, limit: u64) -> io::Result<String> {
    let (bytes, cut) = read_prefix(path, limit)?;
    if cut {
        return Err(too_large(limit));
    }
    String::from_utf8(bytes).map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "not UTF-8"))
}

/// The error of a file over `limit` bytes.
pub fn too_large(limit: u64) -> io::Error {
    io::Error::new(
        io::ErrorKind::FileTooLarge,
        format!(
            "larger than {limit} bytes, more than any file of this kind: is it the right file?"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_stop_at_the_limit_even_on_an_endless_file() {
        let dir = tempfile::tempdir().unwrap();
        let small = dir.path().join("small");
        std::fs::write(&small, "12345").unwrap();
        assert_eq!(read_prefix(&small, 5).unwrap(), (b"12345".to_vec(), false));
        assert_eq!(read_prefix(&small, 3).unwrap(), (b"123".to_vec(), true));
        assert_eq!(read_to_string(&small, 5).unwrap(), "12345");
        let error = read_to_string(&small, 4).unwrap_err();
        assert!(error.to_string().contains("larger than 4 bytes"), "{error}");
        // /dev/zero never ends.
        let (bytes, cut) = read_prefix(Path::new("/dev/zero"), 1 << 20).unwrap();
        assert_eq!((bytes.len(), cut), (1 << 20, true));
        assert!(read_to_string(Path::new("/dev/zero"), 1 << 20).is_err());
    }
}
