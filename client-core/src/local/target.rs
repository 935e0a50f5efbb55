//! Which URLs name a local database, and what they name: `file:path` (relative or absolute),
//! `file:///absolute/path`, and `:memory:` or `file::memory:`.

use std::path::{Path, PathBuf};

use super::pool::Target;

/// `Ok(None)` when `url` is not a local URL; `Err` with the reason when it is one but invalid.
pub(crate) fn parse(url: &str) -> Result<Option<Target>, String> {
    if url == ":memory:" {
        return Ok(Some(Target::Memory));
    }
    let Some(rest) = url.strip_prefix("file:") else {
        return Ok(None);
    };
    if rest == ":memory:" {
        return Ok(Some(Target::Memory));
    }
    if rest.contains('?') || rest.contains('#') {
        return Err(format!(
            "local URLs take no parameters or fragments: {url:?}"
        ));
    }
    let path = match rest.strip_prefix("//") {
        None => rest,
        Some(authority_and_path) => match authority_and_path.find('/') {
            Some(0) => authority_and_path,
            Some(i) if &authority_and_path[..i] == "localhost" => &authority_and_path[i..],
            _ => {
                return Err(format!(
                    "a file URL must name a local path (file:path or file:///path): {url:?}"
                ))
            }
        },
    };
    file(Path::new(path)).map(Some)
}

/// A file path given to `Builder::local` (`:memory:` names an in-memory database).
pub(crate) fn file(path: &Path) -> Result<Target, String> {
    let bytes = path.as_os_str().as_encoded_bytes();
    if bytes == b":memory:" {
        return Ok(Target::Memory);
    }
    if bytes.is_empty() {
        return Err("the database path is empty".into());
    }
    if bytes.contains(&0) {
        return Err("the database path contains a NUL byte".into());
    }
    if bytes.ends_with(b"/") || bytes.ends_with(b"\\") {
        return Err(format!("the database path names a directory: {path:?}"));
    }
    Ok(Target::File(PathBuf::from(path)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_urls_are_recognised() {
        let file = |p: &str| Ok(Some(Target::File(PathBuf::from(p))));
        assert_eq!(parse("file:data/app.db"), file("data/app.db"));
        assert_eq!(parse("file:/var/app.db"), file("/var/app.db"));
        assert_eq!(parse("file:///var/app.db"), file("/var/app.db"));
        assert_eq!(parse("file://localhost/var/app.db"), file("/var/app.db"));
        assert_eq!(parse(":memory:"), Ok(Some(Target::Memory)));
        assert_eq!(parse("file::memory:"), Ok(Some(Target::Memory)));
        assert_eq!(parse("http://h"), Ok(None));
        for bad in [
            "file:",
            "file:a.db?mode=ro",
            "file://host/a.db",
            "file:dir/",
            "file:a\0b",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }
}
