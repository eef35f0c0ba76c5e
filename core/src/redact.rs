//! Secrets out of messages: the one place that strips passwords from URLs before they
//! reach a log line, an error or a stored result.

/// `url` with its password (and any `password=` / `apikey=`-style query value) replaced
/// by `***`; text that does not parse as a URL is returned with anything between `://`
/// and `@` masked, so a malformed URL with credentials still hides them.
pub fn url(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut u) => {
            if u.password().is_some() {
                let _ = u.set_password(Some("***"));
            }
            let secret_query = u.query_pairs().any(|(k, _)| is_secret_key(&k));
            if secret_query {
                let pairs: Vec<(String, String)> = u
                    .query_pairs()
                    .map(|(k, v)| {
                        let v = if is_secret_key(&k) {
                            "***".to_string()
                        } else {
                            v.into_owned()
                        };
                        (k.into_owned(), v)
                    })
                    .collect();
                u.query_pairs_mut().clear().extend_pairs(pairs);
            }
            u.to_string()
        }
        Err(_) => match (raw.find("://"), raw.rfind('@')) {
            (Some(s), Some(at)) if at > s => format!("{}***{}", &raw[..s + 3], &raw[at..]),
            _ => raw.to_string(),
        },
    }
}

fn is_secret_key(k: &str) -> bool {
    let k = k.to_ascii_lowercase();
    [
        "password", "passwd", "pwd", "secret", "token", "apikey", "api_key", "key",
    ]
    .iter()
    .any(|s| k == *s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_survive() {
        assert_eq!(
            url("postgres://drawpipe:s3cret@db:5432/drawpipe"),
            "postgres://drawpipe:***@db:5432/drawpipe"
        );
        assert_eq!(
            url("amqp://guest:guest@127.0.0.1:5672/%2f"),
            "amqp://guest:***@127.0.0.1:5672/%2f"
        );
        assert_eq!(url("amqp://127.0.0.1:5672"), "amqp://127.0.0.1:5672");
        let q = url("postgres://db/x?sslmode=require&password=hunter2");
        assert!(
            !q.contains("hunter2") && q.contains("sslmode=require"),
            "{q}"
        );
        let bad = url("postgres://u:p@ss word@host/db");
        assert!(!bad.contains("p@ss"), "{bad}");
    }
}
