//! API keys: format, hashing, and the `keys create|list|revoke` subcommands.
//!
//! A key is `dp_` followed by 40 random hex digits. Only its SHA-256 (hex) is stored
//! (`api_keys.key_sha256`), with its first 10 characters (`key_prefix`) so that
//! people can recognise and revoke it.

use anyhow::Context;
use clap::Subcommand;
use rand::RngCore;
use sha2::{Digest, Sha256};
use sqlx::{PgPool, Row};

/// Every key starts with this.
pub const KEY_PREFIX: &str = "dp_";
/// Characters of a key kept in `key_prefix`.
pub const PREFIX_LEN: usize = 10;
/// Random hex digits after [`KEY_PREFIX`].
const RANDOM_HEX: usize = 40;

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create a key; prints it once, alone on the last line.
    Create {
        /// A name for people: who or what uses the key.
        name: String,
        /// An admin key: sees, reads and cancels every tenant's jobs. Other keys see
        /// only the jobs they submitted.
        #[arg(long)]
        admin: bool,
    },
    /// List keys (name, prefix, created, last used, revoked).
    List,
    /// Revoke every active key with this name or prefix (or this full key).
    Revoke { name_or_prefix: String },
}

/// A fresh random key.
pub fn generate() -> String {
    let mut bytes = [0u8; RANDOM_HEX / 2];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!("{KEY_PREFIX}{}", hex::encode(bytes))
}

/// SHA-256 of the key's text, lowercase hex: `api_keys.key_sha256`.
pub fn hash(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// The stored, displayable start of a key.
pub fn prefix(key: &str) -> &str {
    &key[..key.len().min(PREFIX_LEN)]
}

/// Whether `key` has the shape of a drawpipe key (checked before any lookup).
pub fn is_well_formed(key: &str) -> bool {
    key.len() == KEY_PREFIX.len() + RANDOM_HEX
        && key.starts_with(KEY_PREFIX)
        && key[KEY_PREFIX.len()..]
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

/// Stores a new key named `name` (an admin key when `admin`); returns `(id, key)`.
pub async fn create(pool: &PgPool, name: &str, admin: bool) -> Result<(i64, String), sqlx::Error> {
    let key = generate();
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO api_keys (name, key_prefix, key_sha256, admin) VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(name)
    .bind(prefix(&key))
    .bind(hash(&key))
    .bind(admin)
    .fetch_one(pool)
    .await?;
    Ok((id, key))
}

/// Revokes active keys by name, prefix or full key; returns `(name, prefix)` of each.
pub async fn revoke(
    pool: &PgPool,
    name_or_prefix: &str,
) -> Result<Vec<(String, String)>, sqlx::Error> {
    let rows = sqlx::query(
        "UPDATE api_keys SET revoked_at = now() \
         WHERE revoked_at IS NULL AND (name = $1 OR key_prefix = $1 OR key_sha256 = $2) \
         RETURNING name, key_prefix",
    )
    .bind(name_or_prefix)
    .bind(hash(name_or_prefix))
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// Runs a `keys` subcommand, printing to stdout.
pub async fn run_command(pool: &PgPool, cmd: KeysCommand) -> anyhow::Result<()> {
    match cmd {
        KeysCommand::Create { name, admin } => {
            if name.trim().is_empty() {
                anyhow::bail!(
                    "the key name is empty; name the user or service that will use the key"
                );
            }
            let (id, key) = create(pool, &name, admin)
                .await
                .context("cannot store the key")?;
            let kind = if admin { "admin API key" } else { "API key" };
            println!(
                "created {kind} {id} named {name:?} (prefix {}); it is shown only once:",
                prefix(&key)
            );
            println!("{key}");
        }
        KeysCommand::List => {
            let rows = sqlx::query(
                "SELECT id, name, key_prefix, created_at, last_used_at, revoked_at, admin FROM api_keys ORDER BY id",
            )
            .fetch_all(pool)
            .await
            .context("cannot list the keys")?;
            println!(
                "{:>5}  {:<24} {:<12} {:<6} {:<20} {:<20} revoked",
                "id", "name", "prefix", "admin", "created", "last used"
            );
            let when = |t: Option<chrono::DateTime<chrono::Utc>>| {
                t.map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
                    .unwrap_or_else(|| "-".into())
            };
            for r in rows {
                println!(
                    "{:>5}  {:<24} {:<12} {:<6} {:<20} {:<20} {}",
                    r.get::<i64, _>(0),
                    r.get::<String, _>(1),
                    r.get::<String, _>(2),
                    if r.get::<bool, _>(6) { "yes" } else { "no" },
                    when(Some(r.get(3))),
                    when(r.get(4)),
                    when(r.get(5)),
                );
            }
        }
        KeysCommand::Revoke { name_or_prefix } => {
            let revoked = revoke(pool, &name_or_prefix)
                .await
                .context("cannot revoke the key")?;
            if revoked.is_empty() {
                anyhow::bail!(
                    "no active API key has the name or prefix {name_or_prefix:?}; see 'keys list'"
                );
            }
            for (name, prefix) in revoked {
                println!("revoked API key {name:?} (prefix {prefix}); every dispatcher refuses it from now on");
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_are_well_formed_and_distinct() {
        let a = generate();
        let b = generate();
        assert_ne!(a, b);
        assert!(is_well_formed(&a), "{a}");
        assert_eq!(a.len(), 43);
        assert_eq!(prefix(&a).len(), PREFIX_LEN);
        assert!(a.starts_with(prefix(&a)));
    }

    #[test]
    fn shapes_and_hashes() {
        struct Case {
            key: &'static str,
            well_formed: bool,
        }
        let cases = [
            Case {
                key: "dp_0123456789abcdef0123456789abcdef01234567",
                well_formed: true,
            },
            Case {
                key: "dp_0123456789ABCDEF0123456789abcdef01234567",
                well_formed: false,
            },
            Case {
                key: "dp_0123456789abcdef",
                well_formed: false,
            },
            Case {
                key: "xx_0123456789abcdef0123456789abcdef01234567",
                well_formed: false,
            },
            Case {
                key: "dp_0123456789abcdef0123456789abcdef0123456z",
                well_formed: false,
            },
            Case {
                key: "",
                well_formed: false,
            },
        ];
        for c in cases {
            assert_eq!(is_well_formed(c.key), c.well_formed, "{:?}", c.key);
        }
        // sha256("abc"), a published test vector.
        assert_eq!(
            hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(prefix("dp_0123456789abcdef"), "dp_0123456");
        assert_eq!(prefix("dp_"), "dp_");
    }
}
