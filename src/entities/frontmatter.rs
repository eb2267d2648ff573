//! YAML frontmatter of skill, command and agent files: the block between a first line `---` and
//! the next `---`, parsed with serde-saphyr (a maintained, safe YAML parser), never by hand.
//!
//! Only parses text it is given; must not read files or decide what a field means for a kind.

use serde_json::{Map, Value};

/// A parsed Markdown file with optional frontmatter; the text parts borrow from the file's text.
#[derive(Debug, Clone, Default)]
pub struct Document<'a> {
    /// The frontmatter mapping (empty when the file has none).
    pub fields: Map<String, Value>,
    /// The text after the frontmatter.
    pub body: &'a str,
    /// Whether the file had a frontmatter block at all.
    pub has_frontmatter: bool,
    /// The 1-based line of the first YAML line, so that a field's line is known.
    pub yaml_start_line: usize,
    /// The raw YAML text, for finding a field's line.
    pub yaml: &'a str,
}

/// Bad frontmatter, with the 1-based line in the file where the problem is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrontmatterError {
    pub line: usize,
    pub message: String,
}

/// Splits and parses a Markdown file's frontmatter.
pub fn parse(text: &str) -> Result<Document<'_>, FrontmatterError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text.split_inclusive('\n');
    let first = lines.next().unwrap_or("");
    if first.trim_end() != "---" {
        return Ok(Document {
            body: text,
            ..Document::default()
        });
    }
    let mut offset = first.len();
    let yaml_begin = offset;
    let mut yaml_end = None;
    for l in lines {
        let t = l.trim_end();
        if t == "---" || t == "..." {
            yaml_end = Some((offset, offset + l.len()));
            break;
        }
        offset += l.len();
    }
    let Some((end, body_start)) = yaml_end else {
        return Err(FrontmatterError {
            line: 1,
            message: "frontmatter starts with `---` but has no closing `---` line".into(),
        });
    };
    let yaml = &text[yaml_begin..end];
    let fields = parse_yaml(yaml, 2)?;
    Ok(Document {
        fields,
        body: &text[body_start..],
        has_frontmatter: true,
        yaml_start_line: 2,
        yaml,
    })
}

/// Parses a YAML mapping; `first_line` is the file line of the YAML's first line.
fn parse_yaml(yaml: &str, first_line: usize) -> Result<Map<String, Value>, FrontmatterError> {
    if yaml.trim().is_empty() {
        return Ok(Map::new());
    }
    match serde_saphyr::from_str::<Value>(yaml) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(Value::Null) => Ok(Map::new()),
        Ok(other) => Err(FrontmatterError {
            line: first_line,
            message: format!(
                "frontmatter must be a mapping of `key: value` lines, found {}",
                json_type(&other)
            ),
        }),
        Err(e) => {
            let line = e
                .location()
                .map(|l| l.line() as usize)
                .filter(|l| *l > 0)
                .map(|l| l + first_line - 1)
                .unwrap_or(first_line);
            // saphyr's message may carry its own position in the YAML block; ours is the file's.
            let message = e.to_string();
            let first = message.lines().next().unwrap_or("");
            let first = first.strip_prefix("error: ").unwrap_or(first);
            let message = match first.strip_prefix("line ").and_then(|r| r.split_once(": ")) {
                Some((_, rest)) => rest.to_string(),
                None => first.to_string(),
            };
            Err(FrontmatterError {
                line,
                message: format!("invalid YAML in frontmatter: {message}"),
            })
        }
    }
}

impl Document<'_> {
    /// The 1-based file line of a top-level key, when it can be found.
    pub fn line_of(&self, key: &str) -> Option<usize> {
        self.yaml.lines().enumerate().find_map(|(i, l)| {
            let rest = l.strip_prefix(key)?;
            rest.trim_start()
                .starts_with(':')
                .then_some(i + self.yaml_start_line)
        })
    }

    /// A string field; a field of another type is an error naming it.
    pub fn string(&self, key: &str) -> Result<Option<String>, FrontmatterError> {
        match self.fields.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            // YAML reads `description: 42` or `yes` as a number or bool: Claude Code shows it as text.
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(Value::Bool(b)) => Ok(Some(b.to_string())),
            Some(other) => Err(FrontmatterError {
                line: self.line_of(key).unwrap_or(self.yaml_start_line),
                message: format!(
                    "field `{key}` must be text, found {}; write it as `{key}: some text`",
                    json_type(other)
                ),
            }),
        }
    }
}

pub fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "nothing",
        Value::Bool(_) => "true/false",
        Value::Number(_) => "a number",
        Value::String(_) => "text",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_and_parses() {
        let d =
            parse("---\nname: x\ndescription: \"a: b\"\nallowed-tools: [Read, Grep]\n---\nBody\n")
                .unwrap();
        assert_eq!(d.fields["name"], "x");
        assert_eq!(d.fields["description"], "a: b");
        assert_eq!(d.fields["allowed-tools"][1], "Grep");
        assert_eq!(d.body, "Body\n");
        assert_eq!(d.line_of("description"), Some(3));
    }

    #[test]
    fn no_frontmatter_is_all_body() {
        let d = parse("# Title\n").unwrap();
        assert!(!d.has_frontmatter);
        assert_eq!(d.body, "# Title\n");
    }

    #[test]
    fn bad_yaml_has_the_file_line() {
        let e = parse("---\nname: x\ndescription: [unclosed\n---\n").unwrap_err();
        assert!(e.line >= 3, "{e:?}");
        assert!(e.message.contains("invalid YAML"), "{e:?}");
        let e = parse("---\nname: x\n").unwrap_err();
        assert_eq!(e.line, 1);
    }

    #[test]
    fn a_list_is_not_a_mapping() {
        let e = parse("---\n- a\n- b\n---\n").unwrap_err();
        assert!(e.message.contains("mapping"));
    }
}
