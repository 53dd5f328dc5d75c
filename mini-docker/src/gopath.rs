//! Go's `filepath.Clean`, which Docker applies to mount targets and to the
//! paths of a build context: mini-docker must clean them the same way to
//! accept, refuse and match the same paths.

/// Cleans a slash-separated path to its parts: no empty, `.` or `..` part
/// (a `..` takes the part before it away, and none at the top).
fn parts(path: &str) -> Vec<&str> {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    parts
}

/// A context-relative path, cleaned (`a/./b/../c` is `a/c`; `..` at the
/// top stays inside: `../x` is `x`).
pub fn clean_relative(path: &str) -> String {
    parts(path).join("/")
}

/// An absolute path, cleaned (`/..` is `/`; `/a/../b` is `/b`).
pub fn clean_absolute(path: &str) -> String {
    format!("/{}", parts(path).join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleans_as_go_does() {
        assert_eq!(clean_relative("a/./b/../c/"), "a/c");
        assert_eq!(clean_relative("../x"), "x");
        assert_eq!(clean_absolute("/.."), "/");
        assert_eq!(clean_absolute("//a/../b/."), "/b");
    }
}
