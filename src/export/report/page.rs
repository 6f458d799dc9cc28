//! The page: the template with its style, script and data put in.
//!
//! The data is JSON inside `<script type="application/json">`, which the browser never runs
//! and never parses as HTML until `</script`: every `<`, `>` and `&` in it is written as a
//! JSON escape (`\u003c` ...), so no text of the program's (a kind named
//! `</script><script>alert(1)</script>`) can end the element or start a tag. The script
//! reads the data with `JSON.parse` and puts every string into the page as text.

use super::data::Page;

const TEMPLATE: &str = include_str!("page.html");
const STYLE: &str = include_str!("report.css");
const SCRIPT: &str = include_str!("report.js");

/// `json` made safe inside a `<script>` element (and inside HTML at large): the characters
/// HTML gives a meaning to, and the two line separators older JavaScript refuses, as JSON
/// escapes. It parses to the same value.
pub(crate) fn script_safe(json: &str) -> String {
    let mut out = String::with_capacity(json.len() + json.len() / 16);
    for c in json.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

/// `text` as HTML text (for the page's `<title>`).
fn html_text(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A nonce for the content security policy: only the page's own script element runs, even
/// if some text ever slipped through as markup. Not a secret from the file's reader; it only
/// has to be unknown to whoever named the program's kinds.
fn nonce(data: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let seed = format!("{t}:{}:{:p}", std::process::id(), data.as_ptr());
    for b in seed.bytes().chain(data.bytes().take(4096)) {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// The page's HTML.
pub(crate) fn render(page: &Page) -> String {
    let json = serde_json::to_string(page).expect("the report's data is plain JSON");
    let data = script_safe(&json);
    let nonce = nonce(&data);
    let title = format!("heapy report: {}", page.program);
    let mut out = String::with_capacity(TEMPLATE.len() + STYLE.len() + SCRIPT.len() + data.len());
    // The template's slots, in order; each appears once.
    let mut rest = TEMPLATE;
    for (slot, value) in [
        ("{{NONCE}}", nonce.as_str()),
        ("{{TITLE}}", &html_text(&title)),
        ("{{STYLE}}", STYLE),
        ("{{DATA}}", &data),
        ("{{NONCE}}", nonce.as_str()),
        ("{{SCRIPT}}", SCRIPT),
    ] {
        let (before, after) = rest
            .split_once(slot)
            .expect("the template has each slot in order");
        out.push_str(before);
        out.push_str(value);
        rest = after;
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_safe_json_parses_back_and_has_no_markup() {
        let nasty = "</script><script>alert(1)</script> & <!-- \u{2028}";
        let json = serde_json::to_string(&nasty).unwrap();
        let safe = script_safe(&json);
        assert!(!safe.contains('<') && !safe.contains('>') && !safe.contains('&'));
        assert!(!safe.to_ascii_lowercase().contains("</script"));
        let back: String = serde_json::from_str(&safe).unwrap();
        assert_eq!(back, nasty);
    }
}
