//! Agent and user text as HTML: Markdown rendered by `pulldown-cmark`, then sanitized by
//! `ammonia` against a short list of elements and attributes.
//!
//! The text is untrusted. Safety does not rest on one step: raw HTML in the Markdown is turned
//! into text before rendering, images become links (a page must not load anything), and what
//! comes out is still cleaned to the allowed elements, with links only to http, https and mailto.
//!
//! Must not emit markup that is not well-formed XML: the only void elements allowed, `br` and
//! `hr`, are written self-closed.

use std::sync::LazyLock;

use pulldown_cmark::{CodeBlockKind, CowStr, Event, Options, Parser, Tag, TagEnd};

use super::escape_html;

/// The elements Markdown may produce on the page: text structure, lists, tables, code, links.
/// No images, forms, frames, scripts or styles.
const ALLOWED_TAGS: &[&str] = &[
    "p",
    "br",
    "hr",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "strong",
    "em",
    "del",
    "code",
    "pre",
    "blockquote",
    "ul",
    "ol",
    "li",
    "a",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "sup",
    "span",
];

/// Link schemes a reader may follow; `javascript:`, `data:` and the like are dropped.
const ALLOWED_SCHEMES: &[&str] = &["http", "https", "mailto"];

static CLEANER: LazyLock<ammonia::Builder<'static>> = LazyLock::new(|| {
    let mut b = ammonia::Builder::empty();
    b.tags(ALLOWED_TAGS.iter().copied().collect())
        .generic_attributes(Default::default())
        .tag_attributes(
            [
                ("a", ["href"].into_iter().collect()),
                ("code", ["class"].into_iter().collect()),
                ("span", ["class"].into_iter().collect()),
                ("ol", ["start"].into_iter().collect()),
            ]
            .into_iter()
            .collect(),
        )
        .url_schemes(ALLOWED_SCHEMES.iter().copied().collect())
        .link_rel(Some("noopener noreferrer nofollow"))
        .strip_comments(true);
    b
});

/// Markdown `text` as sanitized HTML. With `hard_breaks`, every newline is a line break (a
/// typed prompt); without, lines join into paragraphs (the agent's Markdown).
/// Terminal control sequences in it are dropped first.
pub(crate) fn markdown_html(text: &str, hard_breaks: bool) -> String {
    let text = &*crate::converters::render::ansi::clean(
        text,
        crate::converters::render::ansi::Keep::Nothing,
    );
    let opts = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS;
    // A fenced block in a known language: its text is collected and highlighted whole.
    let mut code: Option<(String, String)> = None;
    let events = Parser::new_ext(text, opts).filter_map(|ev| {
        if let Some((_, body)) = &mut code {
            return match ev {
                Event::Text(t) => {
                    body.push_str(&t);
                    None
                }
                Event::End(TagEnd::CodeBlock) => {
                    let (lang, body) = code.take().unwrap_or_default();
                    Some(Event::Html(CowStr::Boxed(
                        format!(
                            "<pre><code class=\"language-{}\">{}</code></pre>\n",
                            escape_html(&lang),
                            super::highlight::highlight(&body, Some(&lang))
                        )
                        .into_boxed_str(),
                    )))
                }
                _ => None,
            };
        }
        Some(match ev {
            Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(lang))) if language_known(&lang) => {
                code = Some((lang.to_string(), String::new()));
                return None;
            }
            // Raw HTML is shown as the text it is.
            Event::Html(h) | Event::InlineHtml(h) => Event::Text(h),
            Event::SoftBreak if hard_breaks => Event::HardBreak,
            Event::TaskListMarker(done) => {
                Event::Text(CowStr::Borrowed(if done { "☑ " } else { "☐ " }))
            }
            // An image becomes a link to it, showing its description.
            Event::Start(Tag::Image {
                link_type,
                dest_url,
                title,
                id,
            }) => Event::Start(Tag::Link {
                link_type,
                dest_url,
                title,
                id,
            }),
            Event::End(TagEnd::Image) => Event::End(TagEnd::Link),
            Event::DisplayMath(m) | Event::InlineMath(m) => Event::Code(m),
            e => e,
        })
    });
    let mut html = String::with_capacity(text.len() + text.len() / 4);
    pulldown_cmark::html::push_html(&mut html, events);
    let clean = CLEANER.clean(&html).to_string();
    // html5ever writes void elements the HTML way; the page is also well-formed XML.
    clean.replace("<br>", "<br/>").replace("<hr>", "<hr/>")
}

/// Whether the highlighter knows the language a fence names.
fn language_known(lang: &str) -> bool {
    super::highlight::knows(lang)
}

/// Whether `text` is worth the Markdown pass: plain prose renders as one escaped paragraph.
pub(crate) fn plain_html(text: &str) -> Option<String> {
    let special = |c: char| {
        matches!(
            c,
            '*' | '_'
                | '`'
                | '#'
                | '['
                | ']'
                | '<'
                | '>'
                | '|'
                | '~'
                | '-'
                | '+'
                | '='
                | '!'
                | '&'
                | '\\'
                | ':'
        ) || c.is_ascii_digit()
    };
    if text.contains('\n') || text.chars().any(special) {
        return None;
    }
    Some(format!("<p>{}</p>", escape_html(text.trim())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_is_rendered_and_active_content_is_not() {
        let h = markdown_html(
            "## Plan\n\n**bold** and `code`\n\n- [x] done\n\n<script>alert(1)</script>\n\n\
             [x](javascript:alert(1)) <img src=x onerror=alert(2)> ![pic](https://e.x/p.png)\n\n---",
            false,
        );
        assert!(h.contains("<h2>Plan</h2>"), "{h}");
        assert!(h.contains("<strong>bold</strong>"), "{h}");
        assert!(h.contains("&lt;script&gt;"), "{h}");
        assert!(!h.contains("<script") && !h.contains("<img") && !h.contains("javascript:"));
        assert!(h.contains("<a href=\"https://e.x/p.png\""), "{h}");
        assert!(h.contains("<hr/>"), "{h}");
    }

    #[test]
    fn fenced_code_is_highlighted_and_stays_text() {
        let h = markdown_html(
            "```rs\nfn f() {} // </code></pre><script>x</script>\n```",
            false,
        );
        assert!(
            h.starts_with("<pre><code class=\"language-rs\"><span class=\"k\">fn</span>"),
            "{h}"
        );
        assert!(
            h.contains("&lt;script&gt;") && !h.contains("<script"),
            "{h}"
        );
    }
}
