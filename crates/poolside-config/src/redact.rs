//! Masking of credentials in connection strings and in any text that may quote one.
//!
//! Every message this crate produces passes through [`redact_text`], so a password that
//! reached an error from a TOML parser or a driver is masked before anyone sees it.

/// What a masked secret is shown as.
pub const MASK: &str = "****";

/// Masks every credential found in `text`: the password of `scheme://user:password@host`
/// URLs and the value of `password=...` settings (libpq key/value strings and URL
/// query parameters).
///
/// # Examples
///
/// ```
/// use poolside_config::redact_text;
///
/// let text = "cannot reach postgres://app:hunter2@db:5432/app?password=hunter2";
/// assert_eq!(redact_text(text), "cannot reach postgres://app:****@db:5432/app?password=****");
/// ```
pub fn redact_text(text: &str) -> String {
    mask_password_settings(&mask_url_userinfo(text))
}

/// Masks the password part of `user:password@` in every `scheme://` URL of `text`.
fn mask_url_userinfo(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (head, tail) = rest.split_at(at + 3);
        out.push_str(head);
        // The authority ends at white space or a quote; within it, the user info ends at
        // the last '@' before the path's query or fragment.
        let token_end = tail
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '`' | '<' | '>'))
            .unwrap_or(tail.len());
        let token = &tail[..token_end];
        let before_query = token.find(['?', '#']).unwrap_or(token.len());
        match token[..before_query].rfind('@') {
            Some(at_sign) => {
                let userinfo = &token[..at_sign];
                match userinfo.find(':') {
                    Some(colon) => {
                        out.push_str(&userinfo[..=colon]);
                        out.push_str(MASK);
                    }
                    None => out.push_str(userinfo),
                }
                out.push_str(&token[at_sign..]);
            }
            None => out.push_str(token),
        }
        rest = &tail[token_end..];
    }
    out.push_str(rest);
    out
}

/// Masks the value of every `password=value` (case-insensitive), as libpq key/value
/// strings and URL query parameters spell it.
fn mask_password_settings(text: &str) -> String {
    const KEY: &str = "password";
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut search_from = 0;
    while let Some(found) = lower[search_from..].find(KEY) {
        let key_end = search_from + found + KEY.len();
        search_from = key_end;
        // `password = 'x'` in key/value strings may put spaces around '='.
        let after_key = &text[key_end..];
        let spaces = after_key.len() - after_key.trim_start().len();
        if !after_key[spaces..].starts_with('=') {
            continue;
        }
        let value_start = key_end + spaces + 1;
        let after_eq = &text[value_start..];
        let value_start = value_start + (after_eq.len() - after_eq.trim_start().len());
        let value = &text[value_start..];
        let value_len = match value.chars().next() {
            Some(quote @ ('\'' | '"')) => value[1..].find(quote).map_or(value.len(), |end| end + 2),
            _ => value
                .find(|c: char| c.is_whitespace() || matches!(c, '&' | '#' | '"' | '\'' | ','))
                .unwrap_or(value.len()),
        };
        if value_len == 0 {
            continue;
        }
        out.push_str(&text[copied..value_start]);
        out.push_str(MASK);
        copied = value_start + value_len;
        search_from = copied;
    }
    out.push_str(&text[copied..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_url_passwords() {
        assert_eq!(redact_text("postgres://u:p@h/db"), "postgres://u:****@h/db");
        assert_eq!(redact_text("redis://:p@h:6379/0"), "redis://:****@h:6379/0");
        assert_eq!(redact_text("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact_text("postgres://h/db"), "postgres://h/db");
        assert_eq!(
            redact_text("a \"postgres://u:p@ss@h1,h2/db\" b postgres://x:y@z"),
            "a \"postgres://u:****@h1,h2/db\" b postgres://x:****@z"
        );
    }

    #[test]
    fn masks_password_settings() {
        assert_eq!(
            redact_text("host=h password=secret user=u"),
            "host=h password=**** user=u"
        );
        assert_eq!(redact_text("password = 'a b c' x"), "password = **** x");
        assert_eq!(
            redact_text("postgres://h/db?PASSWORD=s&x=1"),
            "postgres://h/db?PASSWORD=****&x=1"
        );
        assert_eq!(
            redact_text("the password is wrong"),
            "the password is wrong"
        );
        assert_eq!(redact_text("password="), "password=");
    }

    #[test]
    fn leaves_text_without_secrets_alone() {
        for text in ["", "plain", "://", "x://@", "a@b:c", "é://ü:ö@ä"] {
            let masked = redact_text(text);
            assert!(!masked.is_empty() || text.is_empty());
        }
        assert_eq!(redact_text("é://ü:ö@ä"), "é://ü:****@ä");
    }
}
