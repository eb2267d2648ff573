//! A folder of session pages (`transcript parse -o DIR`): each session's page links back to the
//! index, and the index lists every session (title, start, first prompt, tokens, cost, a link)
//! with a search over their text.
//!
//! The search is [`SEARCH_SCRIPT`], a file of the project's own written beside the pages; the
//! index's Content-Security-Policy allows scripts from that folder ('self') and nothing inline.
//! Agent text reaches the index only escaped, as cell text and `data-search` attributes the
//! script reads; the script changes nothing but which rows are hidden and a count. Without the
//! script the index still lists every session; the search box stays hidden.
//!
//! Must not decide what a session's entry holds: that is `session_index`'s.

use std::fmt::Write;

use super::{CSP, HTML_PAGE_END, STYLE, escape_html};
use crate::converters::render::session_index::SessionEntry;
use crate::converters::render::thousands;
use crate::converters::render::view_options::Clock;

/// The name of the search script beside the index.
pub const SEARCH_SCRIPT_FILE: &str = "search.js";

/// The index's file name, which session pages link back to.
pub const INDEX_FILE: &str = "index.html";

/// The index's policy: the page's own style, scripts only from its own folder.
const INDEX_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; script-src 'self'; base-uri 'none'; form-action 'none'";

/// The search: every word typed must be in a row's `data-search` text for the row to stay;
/// `?q=` in the address fills the box, so a search can be linked.
pub const SEARCH_SCRIPT: &str = include_str!("search.js");

const INDEX_STYLE: &str = "\
#sessions{border-collapse:collapse;width:100%;font-size:.9rem}
#sessions th,#sessions td{text-align:left;padding:.3rem .5rem;border-bottom:1px solid #ddd;vertical-align:top}
#sessions td.n{text-align:right;white-space:nowrap}#sessions td.when{white-space:nowrap}
#sessions .prompt{color:#555;overflow-wrap:anywhere}
#q{font:inherit;width:100%;box-sizing:border-box;padding:.4rem .6rem;margin:.5rem 0;border:1px solid #bbb;border-radius:4px}
#count{color:#666;font-size:.85rem}
@media (prefers-color-scheme:dark){#sessions th,#sessions td{border-color:#333}#sessions .prompt{color:#aaa}#q{background:#222428;color:#ddd;border-color:#444}}
@media (max-width:40rem){#sessions .prompt,#sessions .tok{display:none}}
";

/// A session page of a folder: the page, a link back to the index, then `body` (from
/// [`super::html_session`]).
pub fn html_folder_page(title: &str, body: &str) -> String {
    let t = escape_html(title);
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"/>\
         <meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\"/>\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\
         <title>{t}</title><style>\n{STYLE}</style></head>\n<body><main>\n\
         <nav><a href=\"{INDEX_FILE}\">← All sessions</a></nav>\n<h1>{t}</h1>\n{body}{HTML_PAGE_END}"
    )
}

/// The list of the sessions of a one-page conversion, to jump to each: written after them (the
/// page is streamed), shown first by the page's style. Session `n` (from 1) is the section
/// `#session-n`.
pub fn html_sessions_nav(titles: &[String]) -> String {
    let mut h = String::from("<nav class=\"toc\"><h2>Sessions</h2><ol>");
    for (i, t) in titles.iter().enumerate() {
        let _ = write!(
            h,
            "<li><a href=\"#session-{}\">{}</a></li>",
            i + 1,
            escape_html(t)
        );
    }
    h.push_str("</ol></nav>\n");
    h
}

/// One row of the index: the session's entry and its page's file name.
pub struct IndexRow<'a> {
    pub entry: &'a SessionEntry,
    pub file: &'a str,
}

/// The index page of `rows`, newest first as given; times in `clock`'s zone.
pub fn html_index(rows: &[IndexRow<'_>], clock: &Clock) -> String {
    let mut h = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"/>\
         <meta http-equiv=\"Content-Security-Policy\" content=\"{INDEX_CSP}\"/>\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\
         <title>Sessions</title><style>\n{STYLE}{INDEX_STYLE}</style>\
         <script src=\"{SEARCH_SCRIPT_FILE}\" defer=\"defer\"></script></head>\n<body><main>\n\
         <h1>Sessions</h1>\n\
         <input id=\"q\" type=\"search\" placeholder=\"Search the sessions\" aria-label=\"Search the sessions\" hidden=\"hidden\"/>\n\
         <p id=\"count\">{} sessions</p>\n\
         <table id=\"sessions\"><thead><tr><th>Session</th><th>Started ({})</th><th>First prompt</th>\
         <th class=\"tok\">Tokens</th><th>Cost</th></tr></thead><tbody>\n",
        rows.len(),
        escape_html(clock.label()),
    );
    for r in rows {
        let e = r.entry;
        let title = e.title().unwrap_or("(no prompt)");
        let started = e
            .header
            .start()
            .and_then(|t| clock.date_time(&t.to_string()))
            .map(|t| t.chars().take(16).collect::<String>())
            .unwrap_or_default();
        let tokens = e.header.tokens.total();
        let cost = e
            .header
            .cost_usd
            .map_or_else(String::new, |c| format!("${c:.2}"));
        let prompt = if e.summary.is_some() {
            e.first_prompt.as_deref().unwrap_or("")
        } else {
            ""
        };
        let _ = writeln!(
            h,
            "<tr data-search=\"{}\"><td><a href=\"{}\">{}</a></td><td class=\"when\">{}</td>\
             <td class=\"prompt\">{}</td><td class=\"n tok\">{}</td><td class=\"n\">{}</td></tr>",
            escape_html(&e.search_text),
            escape_html(&percent_path(r.file)),
            escape_html(title),
            escape_html(&started),
            escape_html(prompt),
            thousands(tokens),
            escape_html(&cost),
        );
    }
    h.push_str("</tbody></table>\n");
    h.push_str(HTML_PAGE_END);
    h
}

/// A file name as a relative URL: only unreserved characters are left as they are, so a name
/// can never become a scheme (`javascript:`) or leave the folder.
fn percent_path(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    if out.starts_with('.') {
        out.insert_str(0, "./");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_stay_in_the_folder() {
        assert_eq!(percent_path("a b:c.html"), "a%20b%3Ac.html");
        assert_eq!(percent_path("../x.html"), "./..%2Fx.html");
        assert_eq!(
            percent_path("javascript:alert(1)"),
            "javascript%3Aalert%281%29"
        );
    }
}
