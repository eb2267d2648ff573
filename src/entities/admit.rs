//! What aisys takes in from a marketplace: a `marketplace.json` is read and checked before a
//! marketplace is added, updated or installed from, and a plugin before it is installed, with the
//! checks of `entities validate` (`validate`). An error refuses it, naming the file and field;
//! warnings do not.
//!
//! Reads only; must not write (the caller refuses before its first write).

use std::path::Path;

use serde_json::{Map, Value};

use super::validate::{self, Report};
use super::{EntityError, file, store};

/// Reads `<dir>/.claude-plugin/marketplace.json`, checks its fields, and returns its name and
/// document. A missing file is [`EntityError::NotFound`]; an empty, unreadable or wrong one is
/// bad input.
pub fn read_marketplace(dir: &Path) -> Result<(String, Map<String, Value>), EntityError> {
    let path = dir.join(".claude-plugin/marketplace.json");
    if !path.exists() {
        return Err(EntityError::NotFound(format!(
            "{}: missing; a marketplace needs .claude-plugin/marketplace.json with a name, an \
             owner and plugins",
            path.display()
        )));
    }
    let doc = match store::read_for_update(&path, Value::Null, file::MAX_ENTITY_FILE)? {
        Value::Null => {
            return Err(EntityError::Invalid(format!(
                "{}: empty; write a JSON object with a name, an owner and plugins, e.g. \
                 {{\"name\": \"my-marketplace\", \"owner\": {{\"name\": \"You\"}}, \"plugins\": []}}",
                path.display()
            )));
        }
        Value::Object(m) => m,
        other => {
            return Err(EntityError::Invalid(format!(
                "{}: must be a JSON object, found {}",
                path.display(),
                super::frontmatter::json_type(&other)
            )));
        }
    };
    let fix = format!(
        "correct the fields named above (`aisys entities validate {}` checks them again), or \
         ask the marketplace's author to",
        dir.display()
    );
    let name = check_marketplace(&path, &doc, &dir.display().to_string(), &fix)?;
    Ok((name, doc))
}

/// Checks the fields of the marketplace document at `path` (`what` names the marketplace: its
/// folder or URL; `fix` says how to mend it) and returns its name.
pub fn check_marketplace(
    path: &Path,
    doc: &Map<String, Value>,
    what: &str,
    fix: &str,
) -> Result<String, EntityError> {
    let mut report = Report::default();
    validate::marketplace_fields(path, doc, &mut report);
    report.refuse(&format!("marketplace {what}"), fix)?;
    // Checked above: a valid name is text.
    Ok(doc
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string())
}

/// Refuses to install plugin `id` from the folder `src` when `entities validate` finds an error
/// in it: Claude Code would load it half, or not at all.
pub fn check_plugin(id: &str, src: &Path) -> Result<(), EntityError> {
    validate::plugin(src).refuse(
        &format!("plugin `{id}` ({})", src.display()),
        &format!(
            "correct the plugin (`aisys entities validate {}` checks it again), or ask its \
             author to; nothing was installed",
            src.display()
        ),
    )
}
