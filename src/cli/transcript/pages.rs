//! `aisys transcript parse -o DIR`: a folder of HTML pages, one per session, and an index that
//! lists them (title, start, first prompt, tokens, cost) with a search over their text.
//!
//! The pages are written into a folder beside DIR and moved into it only when every session was
//! converted, so a failed run leaves DIR as it was. Holds no rendering: the pages and the index
//! come from the converters.

use std::path::{Path, PathBuf};

use super::parse::one_session;
use super::read_error;
use crate::cli::output::to_stderr;
use crate::cli::{CommandError, Context, EXIT_BAD_INPUT, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, Exit};
use crate::converters::{
    ConvertOptions, INDEX_FILE, IndexRow, Input, SEARCH_SCRIPT, SEARCH_SCRIPT_FILE, ViewOptions,
    conversation_title, convert_all, html_folder_page, html_index, html_session,
    session_index::SessionEntry,
};
use crate::entities::names::segment_chars;

/// Whether `-o PATH` names a folder of pages: an existing folder, or a name ending in `/`.
pub fn is_folder(path: &Path) -> bool {
    path.is_dir() || path.as_os_str().to_string_lossy().ends_with('/')
}

/// A page's file name from its input's: letters, digits, `-`, `_` and `.` kept, the rest `_`.
fn page_name(input: &Input, taken: &mut std::collections::HashSet<String>) -> String {
    let stem = input
        .path
        .as_deref()
        .and_then(Path::file_stem)
        .map_or_else(|| "stdin".to_string(), |s| s.to_string_lossy().into_owned());
    let mut base = segment_chars(&stem);
    if base.is_empty() || base.starts_with('.') || base == "index" || base == "search" {
        base.insert(0, 's');
    }
    let mut name = format!("{base}.html");
    let mut n = 2;
    while !taken.insert(name.clone()) {
        name = format!("{base}-{n}.html");
        n += 1;
    }
    name
}

/// Writes a page per input session and the index into `dir`.
pub fn write(
    ctx: &Context,
    dir: &Path,
    inputs: &[Input],
    mut options: ConvertOptions,
    view: &ViewOptions,
    threads: usize,
) -> anyhow::Result<Exit> {
    options.session_header = true;
    options.session_entry = true;
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let fail = |what: String| CommandError::new(EXIT_FAILURE, what);
    let convert = |options: &ConvertOptions| -> anyhow::Result<Staged> {
        // Made as `mkdir` would make DIR (0777 less the umask), which it becomes when new.
        let staging = tempfile::Builder::new()
            .prefix(".aisys-pages-")
            .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o777))
            .tempdir_in(&parent)
            .map_err(|e| {
                CommandError::new(
                    EXIT_USAGE,
                    format!(
                        "-o {}: cannot write in {}: {e}",
                        dir.display(),
                        parent.display()
                    ),
                )
            })?;
        let mut staged = Staged {
            dir: staging,
            pages: Vec::new(),
            bad: 0,
            matched: Default::default(),
        };
        let mut failure: Option<anyhow::Error> = None;
        let mut taken = std::collections::HashSet::new();
        let render = |blocks: &[crate::types::ConversationBlock],
                      header: &crate::converters::SessionHeader,
                      out: &mut Vec<u8>| {
            let title = conversation_title(blocks).unwrap_or_else(|| "transcript".into());
            let page = html_folder_page(&title, &html_session(blocks, Some(header), view));
            out.extend_from_slice(page.as_bytes());
            Ok(())
        };
        convert_all(inputs, options, threads, &render, |input, mut c| {
            for b in &c.bad_lines {
                to_stderr(b);
            }
            staged.bad += c.bad_lines.len();
            staged.matched.append(&mut c.sessions);
            if let Some(e) = c.error {
                failure = Some(read_error(e));
                return false;
            }
            // An input the filters left empty gets no page.
            let Some(entry) = c.entry else { return true };
            let name = page_name(input, &mut taken);
            if let Err(e) = std::fs::write(staged.dir.path().join(&name), &c.output) {
                failure =
                    Some(fail(format!("{}: {e}", staged.dir.path().join(&name).display())).into());
                return false;
            }
            staged.pages.push((entry, name));
            true
        });
        match failure {
            Some(e) => Err(e),
            None => Ok(staged),
        }
    };
    let mut staged = convert(&options)?;
    if let Some(want) = options.filter.session.clone()
        && one_session(&want, &staged.matched, "the inputs")?
    {
        options.filter.session_exact = true;
        staged = convert(&options)?;
    }
    // Newest first; sessions without a time last, in input order.
    staged
        .pages
        .sort_by_key(|(e, _)| std::cmp::Reverse(e.header.start()));
    let rows: Vec<IndexRow<'_>> = staged
        .pages
        .iter()
        .map(|(entry, file)| IndexRow { entry, file })
        .collect();
    let index = html_index(&rows, &view.clock);
    for (name, text) in [
        (INDEX_FILE, index.as_str()),
        (SEARCH_SCRIPT_FILE, SEARCH_SCRIPT),
    ] {
        let path = staged.dir.path().join(name);
        std::fs::write(&path, text).map_err(|e| fail(format!("{}: {e}", path.display())))?;
    }
    let pages = staged.pages.len();
    move_into(staged.dir, dir)?;
    if !ctx.out.quiet {
        to_stderr(format!(
            "wrote {pages} session page(s) and {}",
            dir.join(INDEX_FILE).display()
        ));
    }
    if staged.bad > 0 {
        return Err(CommandError::new(
            EXIT_BAD_INPUT,
            format!(
                "{} bad line(s), reported above; the rest was converted",
                staged.bad
            ),
        )
        .into());
    }
    Ok(EXIT_OK)
}

/// The pages written so far, in a folder of their own.
struct Staged {
    dir: tempfile::TempDir,
    pages: Vec<(SessionEntry, String)>,
    bad: usize,
    matched: std::collections::BTreeSet<String>,
}

/// Moves the staged files into `dir`: the whole folder at once when `dir` does not exist yet,
/// else file by file (replacing pages of the same name, leaving other files alone).
fn move_into(staging: tempfile::TempDir, dir: &Path) -> anyhow::Result<()> {
    let fail =
        |e: std::io::Error| CommandError::new(EXIT_FAILURE, format!("{}: {e}", dir.display()));
    if !dir.exists() {
        let kept = staging.keep();
        return std::fs::rename(&kept, dir).map_err(|e| {
            let _ = std::fs::remove_dir_all(&kept);
            fail(e).into()
        });
    }
    for entry in std::fs::read_dir(staging.path()).map_err(fail)? {
        let entry = entry.map_err(fail)?;
        std::fs::rename(entry.path(), dir.join(entry.file_name())).map_err(fail)?;
    }
    Ok(())
}
