//! Code coloured by class: keywords, strings, comments and numbers of the common languages, as
//! `<span class="k|s|c|n">` that the page's stylesheet colours. A small lexer, not a parser: it
//! knows each language's comment and string syntax and its keywords, which is most of what a
//! reader's eye uses, at the speed of a scan (a grammar-based highlighter would cost more than
//! the rest of the page).
//!
//! Must not emit anything but escaped text and those spans.

use super::escape_html;

/// What a language looks like to the lexer.
struct Syntax {
    line_comments: &'static [&'static str],
    block_comment: Option<(&'static str, &'static str)>,
    quotes: &'static [char],
    keywords: &'static [&'static str],
}

/// A [`Syntax`]'s fields, in its order.
type Parts = (
    &'static [&'static str],
    Option<(&'static str, &'static str)>,
    &'static [char],
    &'static [&'static str],
);

const C_LIKE_QUOTES: &[char] = &['"', '\''];

/// Whether the lexer knows `language` (a name or a common short name: `rs`, `py`, `sh`).
pub(crate) fn knows(language: &str) -> bool {
    syntax(language).is_some()
}

fn syntax(language: &str) -> Option<Syntax> {
    let language = match language.trim().to_ascii_lowercase().as_str() {
        "rs" => "rust",
        "py" | "python3" => "python",
        "js" | "mjs" | "node" => "javascript",
        "ts" => "typescript",
        "sh" | "shell" | "zsh" => "bash",
        "golang" => "go",
        "c++" => "cpp",
        "yml" => "yaml",
        other => return syntax_of(other),
    };
    syntax_of(language)
}

fn syntax_of(language: &str) -> Option<Syntax> {
    let (line_comments, block_comment, quotes, keywords): Parts = match language {
        "rust" => (
            &["//"],
            Some(("/*", "*/")),
            &['"'],
            &[
                "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else",
                "enum", "extern", "false", "fn", "for", "if", "impl", "in", "let", "loop", "match",
                "mod", "move", "mut", "pub", "ref", "return", "self", "Self", "static", "struct",
                "super", "trait", "true", "type", "unsafe", "use", "where", "while",
            ],
        ),
        "python" => (
            &["#"],
            None,
            C_LIKE_QUOTES,
            &[
                "and", "as", "assert", "async", "await", "break", "class", "continue", "def",
                "del", "elif", "else", "except", "False", "finally", "for", "from", "global", "if",
                "import", "in", "is", "lambda", "None", "nonlocal", "not", "or", "pass", "raise",
                "return", "True", "try", "while", "with", "yield",
            ],
        ),
        "javascript" | "typescript" | "tsx" | "jsx" => (
            &["//"],
            Some(("/*", "*/")),
            &['"', '\'', '`'],
            &[
                "async",
                "await",
                "break",
                "case",
                "catch",
                "class",
                "const",
                "continue",
                "default",
                "delete",
                "else",
                "export",
                "extends",
                "false",
                "finally",
                "for",
                "from",
                "function",
                "if",
                "import",
                "in",
                "instanceof",
                "interface",
                "let",
                "new",
                "null",
                "of",
                "return",
                "switch",
                "this",
                "throw",
                "true",
                "try",
                "type",
                "typeof",
                "undefined",
                "var",
                "void",
                "while",
                "yield",
            ],
        ),
        "go" => (
            &["//"],
            Some(("/*", "*/")),
            &['"', '`'],
            &[
                "break",
                "case",
                "chan",
                "const",
                "continue",
                "default",
                "defer",
                "else",
                "false",
                "for",
                "func",
                "go",
                "if",
                "import",
                "interface",
                "map",
                "nil",
                "package",
                "range",
                "return",
                "select",
                "struct",
                "switch",
                "true",
                "type",
                "var",
            ],
        ),
        "java" | "kotlin" | "csharp" | "c" | "cpp" | "swift" | "php" => (
            &["//"],
            Some(("/*", "*/")),
            C_LIKE_QUOTES,
            &[
                "break",
                "case",
                "catch",
                "class",
                "const",
                "continue",
                "default",
                "do",
                "else",
                "enum",
                "extends",
                "false",
                "final",
                "for",
                "fun",
                "func",
                "if",
                "import",
                "include",
                "namespace",
                "new",
                "null",
                "nullptr",
                "override",
                "private",
                "protected",
                "public",
                "return",
                "static",
                "struct",
                "switch",
                "this",
                "throw",
                "true",
                "try",
                "typedef",
                "using",
                "val",
                "var",
                "void",
                "while",
            ],
        ),
        "bash" => (
            &["#"],
            None,
            C_LIKE_QUOTES,
            &[
                "case", "do", "done", "elif", "else", "esac", "export", "fi", "for", "function",
                "if", "in", "local", "return", "then", "while",
            ],
        ),
        "ruby" => (
            &["#"],
            None,
            C_LIKE_QUOTES,
            &[
                "begin", "class", "def", "do", "else", "elsif", "end", "false", "if", "module",
                "nil", "require", "return", "self", "true", "unless", "while", "yield",
            ],
        ),
        "toml" | "yaml" => (&["#"], None, C_LIKE_QUOTES, &["true", "false", "null"]),
        "json" => (&[], None, &['"'], &["true", "false", "null"]),
        "sql" | "lua" => (
            &["--"],
            None,
            &['\''],
            &[
                "SELECT", "FROM", "WHERE", "INSERT", "UPDATE", "DELETE", "JOIN", "AND", "OR",
                "NOT", "NULL", "local", "function", "end", "if", "then", "return", "nil",
            ],
        ),
        "css" => (&[], Some(("/*", "*/")), C_LIKE_QUOTES, &[]),
        _ => return None,
    };
    Some(Syntax {
        line_comments,
        block_comment,
        quotes,
        keywords,
    })
}

fn span(out: &mut String, class: &str, text: &str) {
    out.push_str("<span class=\"");
    out.push_str(class);
    out.push_str("\">");
    out.push_str(&escape_html(text));
    out.push_str("</span>");
}

/// `code` as HTML, its tokens in classed spans when `language` is one the lexer knows (else
/// only escaped).
pub(crate) fn highlight(code: &str, language: Option<&str>) -> String {
    let Some(syn) = language.and_then(syntax) else {
        return escape_html(code);
    };
    let mut out = String::with_capacity(code.len() * 2);
    let mut plain_start = 0;
    let mut i = 0;
    let flush = |out: &mut String, from: usize, to: usize| {
        if to > from {
            out.push_str(&escape_html(&code[from..to]));
        }
    };
    while i < code.len() {
        let rest = &code[i..];
        let (class, len) = if syn.line_comments.iter().any(|p| rest.starts_with(p)) {
            ("c", rest.find('\n').unwrap_or(rest.len()))
        } else if let Some((open, close)) = syn.block_comment.filter(|(o, _)| rest.starts_with(o)) {
            let end = rest[open.len()..]
                .find(close)
                .map_or(rest.len(), |e| open.len() + e + close.len());
            ("c", end)
        } else if let Some(q) = syn.quotes.iter().find(|q| rest.starts_with(**q)) {
            // To the closing quote on the same line (backticks may span lines), past escapes.
            let mut end = rest.len();
            let mut escaped = false;
            for (j, c) in rest.char_indices().skip(1) {
                if escaped {
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if c == *q {
                    end = j + 1;
                    break;
                } else if c == '\n' && *q != '`' {
                    end = j;
                    break;
                }
            }
            ("s", end)
        } else {
            let c = rest.chars().next().unwrap_or(' ');
            let word_start = i == 0 || !is_word(code[..i].chars().next_back().unwrap_or(' '));
            if word_start && (c.is_alphabetic() || c == '_') {
                let len = rest.find(|c: char| !is_word(c)).unwrap_or(rest.len());
                if syn.keywords.contains(&&rest[..len]) {
                    ("k", len)
                } else {
                    ("", len)
                }
            } else if word_start && c.is_ascii_digit() {
                let len = rest
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '_'))
                    .unwrap_or(rest.len());
                ("n", len)
            } else {
                ("", c.len_utf8())
            }
        };
        let len = len.max(1);
        let len = (i + len..=code.len())
            .find(|&e| code.is_char_boundary(e))
            .unwrap_or(code.len())
            - i;
        if class.is_empty() {
            i += len;
            continue;
        }
        flush(&mut out, plain_start, i);
        span(&mut out, class, &code[i..i + len]);
        i += len;
        plain_start = i;
    }
    flush(&mut out, plain_start, code.len());
    out
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_get_classes_and_markup_is_escaped() {
        assert_eq!(
            highlight("fn main() { let s = \"<b>\"; // hi\n}", Some("rust")),
            "<span class=\"k\">fn</span> main() { <span class=\"k\">let</span> s = \
             <span class=\"s\">&quot;&lt;b&gt;&quot;</span>; <span class=\"c\">// hi</span>\n}"
        );
        assert_eq!(
            highlight("x = 42 # é", Some("python")),
            "x = <span class=\"n\">42</span> <span class=\"c\"># é</span>"
        );
        assert_eq!(highlight("<a>", None), "&lt;a&gt;");
        assert_eq!(
            highlight("\"open", Some("json")),
            "<span class=\"s\">&quot;open</span>"
        );
    }
}
