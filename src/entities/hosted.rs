//! Marketplaces hosted as one `marketplace.json` at an http(s) URL, kept the way Claude Code
//! 2.1.197 keeps them: the record's source is `{"source": "url", "url": ...}`, and the fetched
//! document is cached as a file (not a folder) at `plugins/marketplaces/<name>`, laid out as
//! `JSON.stringify(doc, null, 2)` lays it out (keys in the server's order, no final newline).
//!
//! `update` asks again with the `ETag` and `Last-Modified` of the last answer, kept in aisys's
//! own `plugins/.aisys-hosted.json` (Claude Code's records have no place for them, and it drops
//! keys it does not know when it rewrites them). A 304 keeps the cached file, unless it no longer
//! is what aisys wrote (Claude Code fetched in between), in which case the file is fetched whole.
//!
//! Must not write outside the Claude home; plugins of a hosted marketplace come from git, as
//! with Claude Code (a relative path has no repository to be relative to).

use std::path::Path;

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::admit;
use super::layout::ClaudeHome;
use super::store::{self, update_json};
use super::{EntityError, file};
use crate::http::{Http, HttpError};

/// The file, under the Claude home's `plugins/`, where aisys keeps each hosted marketplace's
/// HTTP validators.
const VALIDATORS_FILE: &str = ".aisys-hosted.json";

/// What a fetch brought.
pub enum Fetched {
    /// A new or changed document: its name, the text to cache, and the validators to keep.
    Document {
        name: String,
        text: String,
        validators: Value,
    },
    /// The server says the cached copy is current.
    NotModified,
}

/// Fetches and checks the marketplace at `url`; with `validators` from an earlier answer the
/// request is conditional.
pub fn fetch(url: &str, validators: Option<&Value>) -> Result<Fetched, EntityError> {
    let mut headers: Vec<(&str, String)> = vec![("accept", "application/json".into())];
    if let Some(v) = validators {
        if let Some(etag) = v.get("etag").and_then(Value::as_str) {
            headers.push(("if-none-match", etag.to_string()));
        }
        if let Some(lm) = v.get("lastModified").and_then(Value::as_str) {
            headers.push(("if-modified-since", lm.to_string()));
        }
    }
    let answer = crate::http::block_on(async {
        let http = Http::new()?;
        http.get(url, &headers, file::MAX_ENTITY_FILE).await
    })
    .and_then(|r| r)
    .map_err(fetch_error)?;
    if answer.status == reqwest::StatusCode::NOT_MODIFIED {
        return Ok(Fetched::NotModified);
    }
    let text = std::str::from_utf8(&answer.body)
        .map_err(|_| EntityError::Invalid(format!("{url}: the marketplace is not UTF-8 text")))?;
    let doc: Value = serde_json::from_str(text).map_err(|e| {
        EntityError::Invalid(format!(
            "{url}: not JSON ({e}); a hosted marketplace is one marketplace.json file"
        ))
    })?;
    let name = validate(url, &doc)?;
    let header = |k: &str| {
        answer
            .headers
            .get(k)
            .and_then(|v| v.to_str().ok())
            .map(String::from)
    };
    let text = stringify(text);
    Ok(Fetched::Document {
        name,
        validators: json!({
            "url": url,
            "etag": header("etag"),
            "lastModified": header("last-modified"),
            "sha256": sha256(&text),
        }),
        text,
    })
}

fn fetch_error(e: HttpError) -> EntityError {
    let fix = match &e {
        HttpError::Status { status: 404, .. } => {
            "check the URL: there is no marketplace file at it"
        }
        HttpError::Unreachable { .. } => {
            "check the network connection (behind a proxy set HTTPS_PROXY, and NO_PROXY for hosts reached directly)"
        }
        _ => "check the URL and try again",
    };
    EntityError::Fetch(format!("{e}\n  fix: {fix}"))
}

/// The checks Claude Code makes before it keeps a hosted marketplace (an object with a valid
/// `name`, an `owner` and a `plugins` list whose entries have a `name` and a `source`), made by
/// `entities validate`'s marketplace checks; returns its name.
pub fn validate(url: &str, doc: &Value) -> Result<String, EntityError> {
    let obj = doc.as_object().ok_or_else(|| {
        EntityError::Invalid(format!(
            "{url}: the marketplace must be a JSON object; Claude Code refuses such a marketplace too"
        ))
    })?;
    admit::check_marketplace(
        Path::new(url),
        obj,
        url,
        "ask the marketplace's author to correct the fields named above; Claude Code refuses \
         such a marketplace too",
    )
}

/// Caches a fetched document at `dest` and keeps its validators.
pub fn store(
    home: &ClaudeHome,
    name: &str,
    dest: &Path,
    text: &str,
    validators: Value,
) -> Result<(), EntityError> {
    store::write_atomic(dest, text.as_bytes())?;
    update_json(&home.plugins().join(VALIDATORS_FILE), json!({}), |doc| {
        doc.as_object_mut()
            .expect("checked object")
            .insert(name.to_string(), validators);
        Ok(())
    })
}

/// The validators of the last fetch of `name`, when they still describe the cached file at
/// `location` and the URL it came from.
pub fn validators(home: &ClaudeHome, name: &str, url: &str, location: &Path) -> Option<Value> {
    let all = store::read_for_update(
        &home.plugins().join(VALIDATORS_FILE),
        json!({}),
        file::MAX_STATE_FILE,
    )
    .ok()?;
    let v = all.get(name)?.clone();
    let cached = std::fs::read_to_string(location).ok()?;
    (v.get("url").and_then(Value::as_str) == Some(url)
        && v.get("sha256").and_then(Value::as_str) == Some(sha256(&cached).as_str()))
    .then_some(v)
}

/// Forgets a removed marketplace's validators (the file is removed with its record).
pub fn forget(home: &ClaudeHome, name: &str) -> Result<(), EntityError> {
    let path = home.plugins().join(VALIDATORS_FILE);
    if !path.is_file() {
        return Ok(());
    }
    update_json(&path, json!({}), |doc| {
        doc.as_object_mut().expect("checked object").remove(name);
        Ok(())
    })
}

/// Reads a cached hosted marketplace (a file at `location`).
pub fn read_cached(location: &Path) -> Result<(String, Map<String, Value>), EntityError> {
    match store::read_for_update(location, Value::Null, file::MAX_ENTITY_FILE)? {
        Value::Object(m) => {
            let name = m
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            Ok((name, m))
        }
        _ => Err(EntityError::Invalid(format!(
            "{}: not a marketplace; `aisys entities marketplace update` fetches it again",
            location.display()
        ))),
    }
}

fn sha256(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Lays out valid JSON text as `JSON.stringify(value, null, 2)` does, keeping the keys in their
/// order (serde_json's map would sort them): two spaces per level, `": "` after a key, empty
/// objects and arrays as `{}` and `[]`, no final newline. Strings are copied as they are.
pub fn stringify(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 2);
    let mut depth = 0usize;
    let mut chars = text.chars().peekable();
    let newline = |out: &mut String, depth: usize| {
        out.push('\n');
        out.extend(std::iter::repeat_n("  ", depth));
    };
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                out.push('"');
                let mut escaped = false;
                for c in chars.by_ref() {
                    out.push(c);
                    match (escaped, c) {
                        (true, _) => escaped = false,
                        (false, '\\') => escaped = true,
                        (false, '"') => break,
                        _ => {}
                    }
                }
            }
            '{' | '[' => {
                let close = if c == '{' { '}' } else { ']' };
                while chars.peek().is_some_and(|c| c.is_whitespace()) {
                    chars.next();
                }
                if chars.peek() == Some(&close) {
                    chars.next();
                    out.push(c);
                    out.push(close);
                } else {
                    out.push(c);
                    depth += 1;
                    newline(&mut out, depth);
                }
            }
            '}' | ']' => {
                depth = depth.saturating_sub(1);
                newline(&mut out, depth);
                out.push(c);
            }
            ',' => {
                out.push(',');
                newline(&mut out, depth);
            }
            ':' => out.push_str(": "),
            c if c.is_whitespace() => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stringify_matches_javascripts_layout_and_keeps_key_order() {
        let text = r#" {"z":1,"a":{"k":[1, {"x":"a \"b\" {c},"}],"e":{},"f":[ ]}} "#;
        assert_eq!(
            stringify(text),
            "{\n  \"z\": 1,\n  \"a\": {\n    \"k\": [\n      1,\n      {\n        \"x\": \"a \\\"b\\\" {c},\"\n      }\n    ],\n    \"e\": {},\n    \"f\": []\n  }\n}"
        );
    }

    #[test]
    fn a_marketplace_needs_a_name_an_owner_and_plugins() {
        let ok = json!({"name": "m", "owner": {"name": "o"}, "plugins": [{"name": "p", "source": "./p"}]});
        assert_eq!(validate("u", &ok).unwrap(), "m");
        for (doc, says) in [
            (json!([]), "JSON object"),
            (
                json!({"owner": {"name": "o"}, "plugins": []}),
                "name: is required",
            ),
            (json!({"name": "m", "plugins": []}), "owner: is required"),
            (
                json!({"name": "m", "owner": {"name": "o"}}),
                "plugins: is required",
            ),
            (
                json!({"name": "m", "owner": {"name": "o"}, "plugins": [{"name": "p"}]}),
                "plugins[0]: `source` is required",
            ),
        ] {
            let e = validate("http://x/m.json", &doc).unwrap_err().to_string();
            assert!(e.contains(says) && e.contains("http://x/m.json"), "{e}");
        }
    }
}
