//! The Markdown pages of a docs folder: the list of them with their titles, one page's text, and
//! a search over titles and text.
//!
//! Every path a client names is relative to the folder and read without following a link
//! anywhere on the way ([`crate::runtime::env::beneath`]): `..`, absolute paths and links that
//! lead out are refused. The walk lists neither links nor hidden folders nor build output.
//!
//! Must not render Markdown: the browser does, with a maintained library.

use std::path::{Component, Path, PathBuf};

use serde::Serialize;

use crate::runtime::env::beneath;

/// Most pages listed: a docs folder has tens or hundreds; past this it is not a docs folder
/// (the walk stops, and the answer says it was cut).
pub const MAX_PAGES: usize = 5_000;
/// Most folders walked, for the same reason; each is also watched for changes.
pub const MAX_DIRS: usize = 2_000;
/// Deepest folder level walked below the docs folder.
pub const MAX_DEPTH: usize = 12;
/// Largest page served: a long document is well under this; a bigger "page" is data.
pub const MAX_PAGE_BYTES: u64 = 2 * 1024 * 1024;
/// Largest image a page may show: screenshots and diagrams are well under this.
pub const MAX_IMAGE_BYTES: u64 = 16 * 1024 * 1024;
/// Bytes of a page's start read for its title.
const TITLE_READ_BYTES: u64 = 8 * 1024;
/// Most search hits answered: a reader scans a screenful, not thousands.
pub const MAX_HITS: usize = 100;
/// Characters of a hit's line shown on each side of the match.
const SNIPPET_CONTEXT: usize = 60;
/// Folders never walked: dependencies and build output hold other projects' Markdown.
const SKIPPED_DIRS: &[&str] = &["node_modules", "target", "dist", "build", "vendor"];

#[derive(Debug, thiserror::Error)]
pub enum PageError {
    #[error("{path:?}: {why}; give a path relative to the docs folder, such as guide/intro.md")]
    BadPath { path: String, why: &'static str },
    #[error("{path:?}: no such page in the docs folder")]
    NotFound { path: String },
    #[error(
        "{path:?} is {size} bytes, over the limit of {MAX_PAGE_BYTES} bytes for a page and {MAX_IMAGE_BYTES} for an image"
    )]
    TooLarge { path: String, size: u64 },
    #[error("{path:?}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// One page in the list.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Page {
    /// Relative to the docs folder, with `/` between folders.
    pub path: String,
    /// Its first heading, else its file name.
    pub title: String,
}

/// Every page of a docs folder, and the folders the walk went through.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Tree {
    pub pages: Vec<Page>,
    /// Whether a limit cut the walk short.
    pub truncated: bool,
    #[serde(skip)]
    pub dirs: Vec<PathBuf>,
}

/// One page's text.
#[derive(Debug, Clone, Serialize)]
pub struct PageText {
    pub path: String,
    pub title: String,
    pub text: String,
}

/// A page that matches a search, and where.
#[derive(Debug, Clone, Serialize)]
pub struct Hit {
    pub path: String,
    pub title: String,
    /// 1-based line of the first match in the text; none when only the title matched.
    pub line: Option<usize>,
    pub snippet: String,
}

/// Whether a file name is a Markdown page.
pub fn is_markdown(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.ends_with(".md") || lower.ends_with(".markdown")
}

/// Walks `root` for Markdown pages, sorted by path.
pub fn walk(root: &Path) -> Tree {
    let mut tree = Tree::default();
    let mut stack = vec![(root.to_path_buf(), 0usize)];
    while let Some((dir, depth)) = stack.pop() {
        if tree.dirs.len() >= MAX_DIRS {
            tree.truncated = true;
            break;
        }
        tree.dirs.push(dir.clone());
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut entries: Vec<_> = rd.flatten().collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let name = e.file_name().to_string_lossy().into_owned();
            // The entry's own type: a link is neither followed nor listed.
            let Ok(ft) = e.file_type() else { continue };
            if ft.is_dir() {
                if name.starts_with('.') || SKIPPED_DIRS.contains(&name.as_str()) {
                    continue;
                }
                if depth + 1 > MAX_DEPTH {
                    tree.truncated = true;
                    continue;
                }
                stack.push((e.path(), depth + 1));
            } else if ft.is_file() && is_markdown(&name) {
                if tree.pages.len() >= MAX_PAGES {
                    tree.truncated = true;
                    continue;
                }
                let rel = relative(root, &e.path());
                let title = read_head(root, &rel)
                    .map(|t| title_of(&t, &name))
                    .unwrap_or_else(|| stem(&name));
                tree.pages.push(Page { path: rel, title });
            }
        }
    }
    tree.pages.sort_by(|a, b| a.path.cmp(&b.path));
    tree
}

fn relative(root: &Path, p: &Path) -> String {
    let rel = p.strip_prefix(root).unwrap_or(p);
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

fn stem(name: &str) -> String {
    name.rsplit_once('.').map_or(name, |(s, _)| s).to_string()
}

fn read_head(root: &Path, rel: &str) -> Option<String> {
    let (bytes, _) = beneath::read_capped(root, Path::new(rel), TITLE_READ_BYTES).ok()?;
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

/// The page's first ATX heading (`# Title`, any level), outside front matter and code fences;
/// else its `title:` front matter field; else the file name without its extension.
pub fn title_of(text: &str, file_name: &str) -> String {
    let mut lines = text.lines().peekable();
    let mut front_title = None;
    if lines.peek().is_some_and(|l| l.trim_end() == "---") {
        lines.next();
        for l in lines.by_ref() {
            if l.trim_end() == "---" {
                break;
            }
            if let Some(t) = l.strip_prefix("title:") {
                front_title = Some(t.trim().trim_matches(['"', '\'']).to_string());
            }
        }
    }
    let mut fence: Option<&str> = None;
    for l in lines {
        let t = l.trim_start();
        if let Some(f) = fence {
            if t.starts_with(f) {
                fence = None;
            }
            continue;
        }
        if t.starts_with("```") {
            fence = Some("```");
            continue;
        }
        if t.starts_with("~~~") {
            fence = Some("~~~");
            continue;
        }
        let hashes = t.chars().take_while(|c| *c == '#').count();
        if (1..=6).contains(&hashes) && t[hashes..].starts_with(' ') {
            let title = t[hashes..].trim().trim_end_matches('#').trim();
            if !title.is_empty() {
                return title.to_string();
            }
        }
    }
    front_title
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| stem(file_name))
}

/// Checks a path a client names: relative, plain names only.
pub fn check_rel(path: &str) -> Result<PathBuf, PageError> {
    let bad = |why| PageError::BadPath {
        path: path.to_string(),
        why,
    };
    if path.is_empty() {
        return Err(bad("an empty path names no page"));
    }
    if path.contains('\0') || path.contains('\\') {
        return Err(bad("the path holds a NUL byte or a backslash"));
    }
    let p = Path::new(path);
    for c in p.components() {
        match c {
            Component::Normal(_) => {}
            Component::CurDir => {}
            Component::ParentDir => return Err(bad("`..` would leave the docs folder")),
            Component::RootDir | Component::Prefix(_) => {
                return Err(bad("an absolute path would leave the docs folder"));
            }
        }
    }
    Ok(p.to_path_buf())
}

/// Checks a client's page path: [`check_rel`], and a Markdown file.
pub fn check_path(path: &str) -> Result<PathBuf, PageError> {
    let rel = check_rel(path)?;
    if !is_markdown(path) {
        return Err(PageError::BadPath {
            path: path.to_string(),
            why: "only Markdown pages (.md, .markdown) are served",
        });
    }
    Ok(rel)
}

/// The content type of an image a page may show, by its extension; other files are not served.
pub fn image_type(path: &str) -> Option<&'static str> {
    let ext = path.rsplit_once('.')?.1.to_ascii_lowercase();
    Some(match ext.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "avif" => "image/avif",
        "svg" => "image/svg+xml",
        _ => return None,
    })
}

/// Reads an image of `root` that a page shows, refusing anything that leaves it; returns its
/// bytes and content type.
pub fn read_image(root: &Path, path: &str) -> Result<(Vec<u8>, &'static str), PageError> {
    let rel = check_rel(path)?;
    let Some(kind) = image_type(path) else {
        return Err(PageError::BadPath {
            path: path.to_string(),
            why: "only images (png, jpg, gif, webp, avif, svg) are served besides pages",
        });
    };
    Ok((read_file(root, &rel, path, MAX_IMAGE_BYTES)?, kind))
}

/// The bytes of `rel` (asked for as `path`) below `root`, at most `max` of them: a larger file is
/// refused, not cut.
fn read_file(root: &Path, rel: &Path, path: &str, max: u64) -> Result<Vec<u8>, PageError> {
    let (bytes, size) = beneath::read_capped(root, rel, max).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            PageError::NotFound {
                path: path.to_string(),
            }
        } else {
            PageError::Io {
                path: path.to_string(),
                source: e,
            }
        }
    })?;
    if size > max {
        return Err(PageError::TooLarge {
            path: path.to_string(),
            size,
        });
    }
    Ok(bytes)
}

/// Reads one page of `root`, refusing anything that leaves it.
pub fn read(root: &Path, path: &str) -> Result<PageText, PageError> {
    let rel = check_path(path)?;
    let bytes = read_file(root, &rel, path, MAX_PAGE_BYTES)?;
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let name = path.rsplit('/').next().unwrap_or(path);
    Ok(PageText {
        path: path.to_string(),
        title: title_of(&text, name),
        text,
    })
}

/// The pages of `tree` whose title or text holds every word of `query` (ignoring case), titles
/// first, at most [`MAX_HITS`].
pub fn search(root: &Path, tree: &Tree, query: &str) -> Vec<Hit> {
    let words: Vec<String> = query.split_whitespace().map(str::to_lowercase).collect();
    if words.is_empty() {
        return Vec::new();
    }
    let mut by_title = Vec::new();
    let mut by_text = Vec::new();
    for page in &tree.pages {
        if by_title.len() + by_text.len() >= MAX_HITS {
            break;
        }
        let Ok(text) = read(root, &page.path) else {
            continue;
        };
        let title = page.title.to_lowercase();
        let lower = text.text.to_lowercase();
        if !words
            .iter()
            .all(|w| title.contains(w.as_str()) || lower.contains(w.as_str()))
        {
            continue;
        }
        let first = &words[0];
        let hit_line = text
            .text
            .lines()
            .enumerate()
            .find(|(_, l)| l.to_lowercase().contains(first.as_str()));
        let in_title = words.iter().all(|w| title.contains(w.as_str()));
        let hit = Hit {
            path: page.path.clone(),
            title: page.title.clone(),
            line: hit_line.map(|(n, _)| n + 1),
            snippet: hit_line.map(|(_, l)| snippet(l, first)).unwrap_or_default(),
        };
        if in_title {
            by_title.push(hit);
        } else {
            by_text.push(hit);
        }
    }
    by_title.extend(by_text);
    by_title.truncate(MAX_HITS);
    by_title
}

/// The part of `line` around the first match of `word` (lowercase).
fn snippet(line: &str, word: &str) -> String {
    let chars: Vec<char> = line.trim().chars().collect();
    let lower: Vec<char> = chars.iter().flat_map(|c| c.to_lowercase()).collect();
    // Lowercasing may change the length of some characters: fall back to the line's start.
    let at = if lower.len() == chars.len() {
        let w: Vec<char> = word.chars().collect();
        lower
            .windows(w.len().max(1))
            .position(|win| win == w.as_slice())
            .unwrap_or(0)
    } else {
        0
    };
    let start = at.saturating_sub(SNIPPET_CONTEXT);
    let end = (at + word.chars().count() + SNIPPET_CONTEXT).min(chars.len());
    let mut s: String = chars[start..end].iter().collect();
    if start > 0 {
        s.insert(0, '…');
    }
    if end < chars.len() {
        s.push('…');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_come_from_the_first_heading_outside_code() {
        assert_eq!(
            title_of("intro\n\n## Getting started\n", "a.md"),
            "Getting started"
        );
        assert_eq!(title_of("```\n# not this\n```\n# This\n", "a.md"), "This");
        assert_eq!(
            title_of("---\ntitle: \"Front\"\n---\nbody\n", "a.md"),
            "Front"
        );
        assert_eq!(title_of("no heading\n#hashtag\n", "notes.md"), "notes");
    }

    #[test]
    fn paths_that_leave_the_folder_are_refused() {
        for bad in [
            "../x.md",
            "/etc/passwd.md",
            "a/../../x.md",
            "x.txt",
            "",
            "a\\b.md",
        ] {
            assert!(check_path(bad).is_err(), "{bad}");
        }
        assert!(check_path("guide/intro.md").is_ok());
        assert!(read_image(Path::new("/"), "../x.png").is_err());
        assert!(read_image(Path::new("/"), "etc/passwd").is_err());
    }

    #[test]
    fn links_are_neither_listed_nor_read() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret.md"), "# Secret\n").unwrap();
        let root = tempfile::tempdir().unwrap();
        std::fs::write(root.path().join("index.md"), "# Home\nsee [x](sub/b.md)\n").unwrap();
        std::fs::create_dir(root.path().join("sub")).unwrap();
        std::fs::write(root.path().join("sub/b.md"), "# B page\nalpha beta\n").unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret.md"), root.path().join("s.md"))
            .unwrap();
        std::os::unix::fs::symlink(outside.path(), root.path().join("out")).unwrap();
        let tree = walk(root.path());
        let paths: Vec<_> = tree.pages.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(paths, ["index.md", "sub/b.md"]);
        assert_eq!(tree.pages[1].title, "B page");
        assert!(read(root.path(), "s.md").is_err());
        assert!(read(root.path(), "out/secret.md").is_err());
        assert!(matches!(
            read(root.path(), "nope.md"),
            Err(PageError::NotFound { .. })
        ));
        let hits = search(root.path(), &tree, "BETA alpha");
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].path, "sub/b.md");
        assert_eq!(hits[0].line, Some(2));
        assert_eq!(search(root.path(), &tree, "home")[0].path, "index.md");
    }
}
